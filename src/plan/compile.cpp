#include "xfrmctl/plan/desired.hpp"

#include <fmt/format.h>

#include <linux/udp.h>
#include <netinet/in.h>

#include <algorithm>
#include <limits>

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

} // namespace

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

namespace {

// In an AH+ESP bundle, ESP carries the tunnel and AH covers it in transport
// mode (outer IP | AH | ESP | inner IP), as strongSwan's kernel backend does.
Mode sa_mode(const model::Tunnel& t, model::Protocol proto)
{
    return (t.protocol == model::Protocol::ah_esp && proto == model::Protocol::ah) ? Mode::transport : t.mode;
}

// How a tunnel's SAs and policies are tied to its interface, if it has one:
// by if_id to an XFRM interface, by the key as mark to a VTI.
struct Binding {
    netlink::Mark mark;
    std::uint32_t if_id = 0;
};

Binding binding(const model::Tunnel& t, std::uint32_t reqid, const KernelTraits& traits)
{
    Binding b{t.mark.value_or(netlink::Mark{}), 0};
    if (!t.interface)
        return b;
    std::uint32_t id = t.interface->id.value_or(reqid);
    if (link_kind(t, traits) == netlink::LinkKind::xfrm)
        b.if_id = id;
    else
        b.mark = netlink::Mark{id, 0xffffffff};
    return b;
}

struct Context {
    const model::Tunnel& t;
    std::uint32_t reqid;
    const model::KeyRing* keys;
    const KernelTraits& traits;
    Binding bind;
    std::string generation;
};

void set_replay(netlink::SaEntry& sa, const Context& c, bool outbound)
{
    if (c.t.esn)
        sa.flags |= XFRM_STATE_ESN;
    // An outbound SA has no use for a window, but before XFRMA_SA_DIR the
    // kernel cannot tell it is outbound and wants one with ESN
    // (xfrm_init_replay()); with it, it must be 0 (verify_newsa_info()).
    bool window_out = c.t.esn && !c.traits.sa_dir;
    sa.replay_window = outbound && !window_out ? 0 : c.t.replay_window;
    if (c.traits.sa_dir)
        sa.dir = outbound ? 2 : 1; // XFRM_SA_DIR_OUT, XFRM_SA_DIR_IN
}

void set_options(netlink::SaEntry& sa, const Context& c, bool outbound)
{
    sa.limits = c.t.limits;
    sa.id.mark = c.bind.mark;
    sa.if_id = c.bind.if_id;
    if (outbound && c.t.output_mark)
        sa.output_mark = *c.t.output_mark;
    if (const auto& e = c.t.encapsulation) // ports as the packets carry them
        sa.encap = netlink::Encapsulation{UDP_ENCAP_ESPINUDP, outbound ? e->local_port : e->remote_port,
                                          outbound ? e->remote_port : e->local_port};
}

// Both directions go to the device; the inbound SA says so, or the device
// would take it for an outbound one (xso->dir in xfrm_dev_state_add()). An
// unknown device gets ifindex 0, which never matches what the kernel holds.
void set_offload(netlink::SaEntry& sa, const Context& c, bool outbound)
{
    const auto& o = c.t.offload;
    if (!o)
        return;
    auto it = c.traits.offload_devices.find(o->device);
    std::uint8_t flags = (outbound ? 0 : XFRM_OFFLOAD_INBOUND) | (o->packet ? XFRM_OFFLOAD_PACKET : 0);
    sa.offload = netlink::Offload{it == c.traits.offload_devices.end() ? 0 : it->second, flags};
}

DesiredSa make_sa(const Context& c, const model::KeyRef& ref, model::Protocol proto, bool outbound)
{
    const model::Tunnel& t = c.t;
    const model::Proposal& p = *(proto == model::Protocol::esp ? t.esp_proposal : t.ah_proposal);
    DesiredSa d{{}, ref.path, ref.written_as, c.generation, outbound, p.is_aead()};
    netlink::SaEntry& sa = d.entry;
    sa.id.daddr = outbound ? t.remote.address : t.local.address;
    sa.saddr = outbound ? t.local.address : t.remote.address;
    sa.id.spi = ref.spi;
    sa.id.proto = proto == model::Protocol::esp ? IPPROTO_ESP : IPPROTO_AH;
    sa.mode = sa_mode(t, proto);
    sa.reqid = c.reqid;
    if (sa.mode == Mode::tunnel)
        sa.flags |= XFRM_STATE_AF_UNSPEC; // inner traffic of either family
    set_replay(sa, c, outbound);
    set_options(sa, c, outbound);
    set_offload(sa, c, outbound);
    set_algorithms(sa, p, c.keys ? c.keys->find(ref.path) : nullptr);
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

void add_policies(DesiredTunnel& d, const Context& c, const Prefix& local, const Prefix& remote,
                  const std::string& origin)
{
    const model::Tunnel& t = c.t;
    auto add = [&](Direction dir, bool outbound) {
        netlink::PolicyEntry p;
        p.id.dir = dir;
        p.id.selector = outbound ? selector(local, remote, t, true) : selector(remote, local, t, false);
        if (t.negotiated())
            p.id.selector.user = kFloorSelectorUser;
        p.id.mark = c.bind.mark;
        p.id.if_id = c.bind.if_id;
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

std::uint32_t charon_policy_priority(const model::Tunnel& t)
{
    std::uint32_t first = t.priority.value_or(std::numeric_limits<std::uint32_t>::max());
    if (!t.priority)
        for (const auto& local : t.local.subnets)
            for (const auto& remote : t.remote.subnets)
                if (local.address.family == remote.address.family)
                    first = std::min(first, automatic_priority(selector(local, remote, t, true)));
    return first == 0 ? 0 : first - 1; // at 0 the two tie, and the kernel keeps the older (xfrmd's) first
}

namespace {

// IPv6 needs neighbour discovery between the two endpoints before any SA
// exists (RFC 4861), and an inbound policy that requires ESP drops the
// peer's clear advertisement (icmpv6_rcv() checks policy): charon's first
// IKE message then never leaves. With manual keys both ends have their SAs
// from the start; a negotiated tunnel whose selectors cover the endpoints
// lets neighbour solicitations and advertisements between them bypass IPsec
// (strongSwan's own advice for IPv6 transport mode). In XFRM selectors an
// ICMPv6 type is the source "port".
void add_neighbour_discovery_bypass(DesiredTunnel& d, const Context& c)
{
    const model::Tunnel& t = c.t;
    auto covers = [](const std::vector<Prefix>& subnets, const IpAddress& a) {
        return std::any_of(subnets.begin(), subnets.end(), [&](const Prefix& p) { return p.contains(a); });
    };
    if (!t.negotiated() || t.family() != AF_INET6 || !covers(t.local.subnets, t.local.address) ||
        !covers(t.remote.subnets, t.remote.address))
        return;
    for (int type : {135, 136}) // neighbour solicitation, advertisement
        for (bool outbound : {true, false}) {
            netlink::PolicyEntry p;
            p.id.dir = outbound ? Direction::out : Direction::in;
            p.id.selector.src = Prefix::host(outbound ? t.local.address : t.remote.address);
            p.id.selector.dst = Prefix::host(outbound ? t.remote.address : t.local.address);
            p.id.selector.proto = IPPROTO_ICMPV6;
            p.id.selector.sport = static_cast<std::uint16_t>(type);
            p.id.selector.sport_mask = 0xffff;
            p.id.mark = c.bind.mark;
            p.priority = automatic_priority(p.id.selector);
            d.policies.push_back({std::move(p), t.path() + "/local/address"});
        }
}

DesiredInterface desired_interface(const Context& c)
{
    const model::Tunnel& t = c.t;
    const model::Interface& i = *t.interface;
    DesiredInterface d;
    d.link.name = i.name;
    d.link.kind = link_kind(t, c.traits);
    d.link.id = i.id.value_or(c.reqid);
    d.link.mtu = i.mtu;
    if (d.link.kind != netlink::LinkKind::xfrm) {
        d.link.local = t.local.address;
        d.link.remote = t.remote.address;
    }
    d.addresses = i.addresses;
    d.routes = i.routes;
    if (d.routes.empty()) // by default, the remote subnets the definition names
        for (const auto& p : t.remote.subnets)
            if (p.length > 0)
                d.routes.push_back(p);
    d.origin = t.path() + "/interface";
    return d;
}

} // namespace

netlink::LinkKind link_kind(const model::Tunnel& t, const KernelTraits& traits)
{
    auto kind = t.interface && t.interface->kind ? *t.interface->kind
                : traits.xfrm_interfaces           ? netlink::LinkKind::xfrm
                                                   : netlink::LinkKind::vti;
    if (kind == netlink::LinkKind::vti && t.family() == AF_INET6)
        kind = netlink::LinkKind::vti6;
    return kind;
}

std::string retirement_key(const std::string& tunnel, const model::Generation& g)
{
    return fmt::format("{}/0x{:08x}", tunnel, g.inbound.first_spi());
}

namespace {

void add_sas(DesiredTunnel& d, Context& c, const model::Generation& g, bool outbound)
{
    c.generation = g.name;
    const model::DirectionKeys& k = outbound ? g.outbound : g.inbound;
    if (k.esp)
        d.sas.push_back(make_sa(c, *k.esp, model::Protocol::esp, outbound));
    if (k.ah)
        d.sas.push_back(make_sa(c, *k.ah, model::Protocol::ah, outbound));
}

} // namespace

DesiredTunnel compile_tunnel(const model::Tunnel& t, std::uint32_t reqid, const CompileOptions& o)
{
    Context c{t, reqid, o.keys, o.traits, binding(t, reqid, o.traits), {}};
    DesiredTunnel d{t.name, t.file, reqid, {}, {}, {}};
    // The sending generation's outbound SAs; every generation's inbound ones,
    // but those retired (the peer no longer uses them).
    if (const model::Generation* sender = t.sender(o.now))
        add_sas(d, c, *sender, true);
    for (const auto& g : t.generations)
        if (!o.retired || !o.retired->contains(retirement_key(t.name, g)))
            add_sas(d, c, g, false);
    for (std::size_t l = 0; l < t.local.subnets.size(); ++l)
        for (const auto& remote : t.remote.subnets)
            if (t.local.subnets[l].address.family == remote.address.family)
                add_policies(d, c, t.local.subnets[l], remote, t.path() + "/local/subnets/" + std::to_string(l));
    add_neighbour_discovery_bypass(d, c);
    if (t.interface)
        d.interface = desired_interface(c);
    return d;
}

} // namespace xfrmctl::plan
