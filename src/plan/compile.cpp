#include "xfrmctl/plan/desired.hpp"

#include <netinet/in.h>

namespace xfrmctl::plan {

using netlink::Direction;
using netlink::Mode;

namespace {

constexpr std::uint32_t kPriorityBase = 200000;

netlink::SaAlgorithm kernel_algorithm(const model::KernelAlgorithm& alg, const Secret* key, std::size_t offset)
{
    netlink::SaAlgorithm a;
    a.name = std::string(alg.name);
    a.key_bits = alg.key_bytes * 8;
    a.icv_bits = alg.icv_bits;
    if (key) {
        a.key = Secret::copy_of(key->bytes().subspan(offset, alg.key_bytes));
        a.fingerprint = netlink::fingerprint_of(a.key.bytes());
    }
    return a;
}

// Splits a key file's material as the proposal lays it out.
void set_algorithms(netlink::SaEntry& sa, const model::Proposal& p, const Secret* key)
{
    switch (p.kind) {
    case model::ProposalKind::esp_aead:
        sa.aead = kernel_algorithm(p.first, key, 0);
        break;
    case model::ProposalKind::esp_cipher_integrity:
        sa.crypt = kernel_algorithm(p.first, key, 0);
        sa.auth = kernel_algorithm(*p.second, key, p.first.key_bytes);
        break;
    case model::ProposalKind::ah_integrity:
        sa.auth = kernel_algorithm(p.first, key, 0);
        break;
    }
}

// In an AH+ESP bundle, ESP carries the tunnel and AH covers it in transport
// mode (outer IP | AH | ESP | inner IP), as strongSwan's kernel backend does.
Mode sa_mode(const model::Tunnel& t, model::Protocol proto)
{
    return (t.protocol == model::Protocol::ah_esp && proto == model::Protocol::ah) ? Mode::transport : t.mode;
}

DesiredSa make_sa(const model::Tunnel& t, const model::KeyRef& ref, model::Protocol proto, bool outbound,
                  std::uint32_t reqid, const model::KeyRing* keys)
{
    const model::Proposal& p = *(proto == model::Protocol::esp ? t.esp_proposal : t.ah_proposal);
    DesiredSa d{{}, ref.path, ref.written_as, outbound, p.is_aead()};
    netlink::SaEntry& sa = d.entry;
    sa.id.daddr = outbound ? t.remote.address : t.local.address;
    sa.saddr = outbound ? t.local.address : t.remote.address;
    sa.id.spi = ref.spi;
    sa.id.proto = proto == model::Protocol::esp ? IPPROTO_ESP : IPPROTO_AH;
    sa.mode = sa_mode(t, proto);
    sa.reqid = reqid;
    if (sa.mode == Mode::tunnel)
        sa.flags |= XFRM_STATE_AF_UNSPEC; // inner traffic of either family
    sa.replay_window = outbound ? 0 : t.replay_window;
    set_algorithms(sa, p, keys ? keys->find(ref.path) : nullptr);
    return d;
}

std::vector<netlink::Template> templates(const model::Tunnel& t, bool outbound, std::uint32_t reqid)
{
    std::vector<netlink::Template> list;
    auto add = [&](std::uint8_t proto, Mode mode) {
        netlink::Template tmpl;
        tmpl.family = t.family();
        tmpl.proto = proto;
        tmpl.mode = mode;
        tmpl.reqid = reqid;
        if (mode == Mode::tunnel) { // transport takes the packet's own addresses
            tmpl.saddr = outbound ? t.local.address : t.remote.address;
            tmpl.daddr = outbound ? t.remote.address : t.local.address;
        } else {
            tmpl.saddr = tmpl.daddr = IpAddress::any(t.family());
        }
        list.push_back(tmpl);
    };
    // The first template is applied first (innermost): see xfrm_bundle_create().
    if (t.protocol != model::Protocol::ah)
        add(IPPROTO_ESP, t.mode);
    if (t.protocol != model::Protocol::esp)
        add(IPPROTO_AH, sa_mode(t, model::Protocol::ah));
    return list;
}

netlink::Selector selector(const Prefix& src, const Prefix& dst, const model::Tunnel& t, bool outbound)
{
    netlink::Selector s;
    s.src = src;
    s.dst = dst;
    if (t.traffic) {
        s.proto = t.traffic->protocol;
        std::uint16_t sport = outbound ? t.traffic->local_port : t.traffic->remote_port;
        std::uint16_t dport = outbound ? t.traffic->remote_port : t.traffic->local_port;
        s.sport = sport;
        s.sport_mask = sport ? 0xffff : 0;
        s.dport = dport;
        s.dport_mask = dport ? 0xffff : 0;
    }
    return s;
}

void add_policies(DesiredTunnel& d, const model::Tunnel& t, const Prefix& local, const Prefix& remote,
                  const std::string& origin)
{
    auto add = [&](Direction dir, bool outbound) {
        netlink::PolicyEntry p;
        p.id.dir = dir;
        p.id.selector = outbound ? selector(local, remote, t, true) : selector(remote, local, t, false);
        p.priority = t.priority.value_or(automatic_priority(p.id.selector));
        p.templates = templates(t, outbound, d.reqid);
        d.policies.push_back({std::move(p), origin});
    };
    add(Direction::out, true);
    add(Direction::in, false);
    if (t.mode == Mode::tunnel) // traffic for the subnets behind this gateway is forwarded
        add(Direction::fwd, false);
}

} // namespace

std::uint32_t automatic_priority(const netlink::Selector& s)
{
    auto port_bits = [](std::uint16_t mask) { return static_cast<std::uint32_t>(__builtin_popcount(mask)); };
    std::uint32_t specificity = static_cast<std::uint32_t>(s.src.length + s.dst.length) << 9; // up to 256 << 9
    specificity += s.proto ? 1u << 8 : 0;
    specificity += (port_bits(s.sport_mask) + port_bits(s.dport_mask)) << 2; // up to 32 << 2
    return kPriorityBase - specificity;
}

DesiredTunnel compile_tunnel(const model::Tunnel& t, std::uint32_t reqid, const model::KeyRing* keys)
{
    DesiredTunnel d{t.name, t.file, reqid, {}, {}};
    for (bool outbound : {true, false}) {
        const model::DirectionKeys& k = outbound ? t.outbound : t.inbound;
        if (k.esp)
            d.sas.push_back(make_sa(t, *k.esp, model::Protocol::esp, outbound, reqid, keys));
        if (k.ah)
            d.sas.push_back(make_sa(t, *k.ah, model::Protocol::ah, outbound, reqid, keys));
    }
    for (std::size_t l = 0; l < t.local.subnets.size(); ++l)
        for (const auto& remote : t.remote.subnets)
            if (t.local.subnets[l].address.family == remote.address.family)
                add_policies(d, t, t.local.subnets[l], remote, t.path() + "/local/subnets/" + std::to_string(l));
    return d;
}

} // namespace xfrmctl::plan
