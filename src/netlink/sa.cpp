#include "xfrmctl/netlink/sa.hpp"

#include "attributes.hpp"
#include "parsers.hpp"

#include <arpa/inet.h>
#include <openssl/sha.h>

#include <cstddef>
#include <cstring>
#include <fmt/format.h>

namespace xfrmctl::netlink {

KeyFingerprint fingerprint_of(std::span<const std::uint8_t> key)
{
    KeyFingerprint f{};
    SHA256(key.data(), key.size(), f.data());
    return f;
}

std::string SaId::key() const
{
    return fmt::format("{} {} spi 0x{:08x} mark 0x{:x}/0x{:x}", protocol_name(proto), daddr.str(), spi,
                       mark.value, mark.mask);
}

const char* offload_mode_name(const Offload& o) { return o.packet() ? "packet" : "crypto"; }

SaAlgorithm SaAlgorithm::clone() const
{
    SaAlgorithm a{name, key_bits, icv_bits, Secret::copy_of(key.bytes()), fingerprint};
    return a;
}

bool SaAlgorithm::same_as(const SaAlgorithm& o, bool compare_keys) const
{
    return name == o.name && key_bits == o.key_bits && icv_bits == o.icv_bits &&
           (!compare_keys || fingerprint == o.fingerprint);
}

namespace {

Boxed<SaAlgorithm> clone_optional(const Boxed<SaAlgorithm>& a)
{
    return a ? Boxed(a->clone()) : Boxed<SaAlgorithm>();
}

} // namespace

SaEntry SaEntry::clone() const
{
    SaEntry s{id,     saddr, mode,  reqid, flags,       replay_window, clone_optional(aead), clone_optional(crypt),
              clone_optional(auth), clone_optional(comp), limits, encap, if_id, output_mark, dir, offload, counters};
    return s;
}

namespace {

xfrm_usersa_id to_kernel_id(const SaId& id)
{
    xfrm_usersa_id k{};
    k.daddr = to_kernel(id.daddr);
    k.spi = htonl(id.spi);
    k.family = id.daddr.family;
    k.proto = id.proto;
    return k;
}

void put_mark(RequestBuilder& b, std::uint16_t attr, const Mark& mark)
{
    if (mark.is_set()) {
        xfrm_mark m{mark.value, mark.mask};
        b.put(attr, m);
    }
}

// struct xfrm_algo, xfrm_algo_aead and xfrm_algo_auth all start with the
// name and the key length in bits; they differ in what sits before the key.
template <typename KernelAlgo>
void put_algorithm(RequestBuilder& b, std::uint16_t attr, const SaAlgorithm& a)
{
    auto* k = static_cast<KernelAlgo*>(b.reserve(attr, sizeof(KernelAlgo) + a.key.size()));
    std::strncpy(k->alg_name, a.name.c_str(), sizeof k->alg_name - 1);
    k->alg_key_len = static_cast<unsigned>(a.key.size() * 8);
    if constexpr (std::is_same_v<KernelAlgo, xfrm_algo_aead>)
        k->alg_icv_len = a.icv_bits;
    if constexpr (std::is_same_v<KernelAlgo, xfrm_algo_auth>)
        k->alg_trunc_len = a.icv_bits;
    if (!a.key.empty()) // IPComp's algorithm has no key, and memcpy wants a real source even for 0 bytes
        std::memcpy(k->alg_key, a.key.data(), a.key.size());
}

void put_replay(RequestBuilder& b, const SaEntry& sa)
{
    // More than the legacy 32-packet window, or ESN, needs the bitmap form;
    // verify_replay() then wants xfrm_usersa_info.replay_window to be 0.
    if (!sa.replay_window && !sa.esn())
        return;
    std::uint32_t words = (sa.replay_window + 31) / 32;
    auto* rs = static_cast<xfrm_replay_state_esn*>(
        b.reserve(XFRMA_REPLAY_ESN_VAL, sizeof(xfrm_replay_state_esn) + words * sizeof(std::uint32_t)));
    rs->bmp_len = words;
    rs->replay_window = sa.replay_window;
}

} // namespace

Request build_sa(std::uint16_t msg_type, const SaEntry& sa)
{
    RequestBuilder b(msg_type, NLM_F_ACK);
    auto* info = b.put_header<xfrm_usersa_info>();
    info->id.daddr = to_kernel(sa.id.daddr);
    info->id.spi = htonl(sa.id.spi);
    info->id.proto = sa.id.proto;
    info->saddr = to_kernel(sa.saddr);
    info->family = sa.family();
    // A tunnel SA may carry either inner family (XFRM_STATE_AF_UNSPEC with
    // an AF_UNSPEC selector); a transport SA carries its own.
    info->sel.family = (sa.flags & XFRM_STATE_AF_UNSPEC) ? AF_UNSPEC : sa.family();
    info->mode = static_cast<std::uint8_t>(sa.mode);
    info->reqid = sa.reqid;
    info->flags = sa.flags;
    info->lft = to_kernel(sa.limits);
    if (sa.aead)
        put_algorithm<xfrm_algo_aead>(b, XFRMA_ALG_AEAD, *sa.aead);
    if (sa.crypt)
        put_algorithm<xfrm_algo>(b, XFRMA_ALG_CRYPT, *sa.crypt);
    if (sa.auth)
        put_algorithm<xfrm_algo_auth>(b, XFRMA_ALG_AUTH_TRUNC, *sa.auth);
    if (sa.comp)
        put_algorithm<xfrm_algo>(b, XFRMA_ALG_COMP, *sa.comp);
    put_replay(b, sa);
    put_mark(b, XFRMA_MARK, sa.id.mark);
    if (sa.encap) {
        xfrm_encap_tmpl e{};
        e.encap_type = sa.encap->type;
        e.encap_sport = htons(sa.encap->sport);
        e.encap_dport = htons(sa.encap->dport);
        b.put(XFRMA_ENCAP, e);
    }
    if (sa.if_id)
        b.put(XFRMA_IF_ID, sa.if_id);
    if (sa.output_mark.is_set()) {
        b.put(XFRMA_SET_MARK, sa.output_mark.value);
        b.put(XFRMA_SET_MARK_MASK, sa.output_mark.mask);
    }
    if (sa.dir)
        b.put(kXfrmaSaDir, sa.dir);
    if (sa.offload) {
        xfrm_user_offload o{};
        o.ifindex = sa.offload->ifindex;
        o.flags = sa.offload->flags;
        b.put(XFRMA_OFFLOAD_DEV, o);
    }
    return b.finish();
}

namespace {

Request build_sa_by_id(std::uint16_t type, std::uint16_t flags, const SaId& id)
{
    RequestBuilder b(type, flags);
    *b.put_header<xfrm_usersa_id>() = to_kernel_id(id);
    put_mark(b, XFRMA_MARK, id.mark);
    return b.finish();
}

} // namespace

Request build_sa_delete(const SaId& id) { return build_sa_by_id(XFRM_MSG_DELSA, NLM_F_ACK, id); }

Request build_sa_get(const SaId& id) { return build_sa_by_id(XFRM_MSG_GETSA, 0, id); }

Request build_sa_dump()
{
    RequestBuilder b(XFRM_MSG_GETSA, NLM_F_DUMP);
    return b.finish();
}

namespace {

template <typename KernelAlgo>
Result<SaAlgorithm> parse_algorithm(const nlattr* attr)
{
    auto size = mnl_attr_get_payload_len(attr);
    if (size < sizeof(KernelAlgo))
        return fail("truncated algorithm attribute");
    const auto* payload = static_cast<const char*>(mnl_attr_get_payload(attr));
    const auto k = copy_of<KernelAlgo>(payload);
    std::size_t key_bytes = (k.alg_key_len + 7) / 8;
    if (size < sizeof(KernelAlgo) + key_bytes)
        return fail("algorithm key longer than its attribute");
    SaAlgorithm a;
    a.name.assign(k.alg_name, strnlen(k.alg_name, sizeof k.alg_name));
    a.key_bits = k.alg_key_len;
    if constexpr (std::is_same_v<KernelAlgo, xfrm_algo_aead>)
        a.icv_bits = k.alg_icv_len;
    if constexpr (std::is_same_v<KernelAlgo, xfrm_algo_auth>)
        a.icv_bits = k.alg_trunc_len;
    a.fingerprint = fingerprint_of({reinterpret_cast<const std::uint8_t*>(payload + offsetof(KernelAlgo, alg_key)), key_bytes});
    return a;
}

Mark parse_mark(const nlattr* attr)
{
    if (!attr || mnl_attr_get_payload_len(attr) < sizeof(xfrm_mark))
        return {};
    const auto m = copy_of<xfrm_mark>(mnl_attr_get_payload(attr));
    return Mark{m.v, m.m};
}

void parse_counters(const xfrm_usersa_info& info, const AttributeTable& tb, SaCounters& c)
{
    c.bytes = info.curlft.bytes;
    c.packets = info.curlft.packets;
    c.add_time = info.curlft.add_time;
    c.use_time = info.curlft.use_time;
    c.replay_window_errors = info.stats.replay_window;
    c.replay_errors = info.stats.replay;
    c.integrity_errors = info.stats.integrity_failed;
    if (const nlattr* a = tb.get(XFRMA_LASTUSED, sizeof(std::uint64_t)))
        c.last_used = mnl_attr_get_u64(a);
    if (const nlattr* a = tb.get(XFRMA_REPLAY_ESN_VAL, sizeof(xfrm_replay_state_esn))) {
        const auto rs = copy_of<xfrm_replay_state_esn>(mnl_attr_get_payload(a));
        c.seq = rs.seq;
        c.oseq = rs.oseq;
    } else if (const nlattr* r = tb.get(XFRMA_REPLAY_VAL, sizeof(xfrm_replay_state))) {
        const auto rs = copy_of<xfrm_replay_state>(mnl_attr_get_payload(r));
        c.seq = rs.seq;
        c.oseq = rs.oseq;
    }
}

Status parse_algorithms(const AttributeTable& tb, SaEntry& sa)
{
    if (const nlattr* a = tb.get(XFRMA_ALG_AEAD)) {
        auto alg = parse_algorithm<xfrm_algo_aead>(a);
        if (!alg)
            return fail(alg.error());
        sa.aead = std::move(*alg);
    }
    if (const nlattr* a = tb.get(XFRMA_ALG_CRYPT)) {
        auto alg = parse_algorithm<xfrm_algo>(a);
        if (!alg)
            return fail(alg.error());
        sa.crypt = std::move(*alg);
    }
    // The kernel reports an authentication algorithm twice, as
    // XFRMA_ALG_AUTH_TRUNC and as the older XFRMA_ALG_AUTH; the first is whole.
    if (const nlattr* a = tb.get(XFRMA_ALG_AUTH_TRUNC)) {
        auto alg = parse_algorithm<xfrm_algo_auth>(a);
        if (!alg)
            return fail(alg.error());
        sa.auth = std::move(*alg);
    }
    if (const nlattr* a = tb.get(XFRMA_ALG_COMP)) {
        auto alg = parse_algorithm<xfrm_algo>(a);
        if (!alg)
            return fail(alg.error());
        sa.comp = std::move(*alg);
    }
    return {};
}

void parse_options(const AttributeTable& tb, SaEntry& sa)
{
    if (const nlattr* a = tb.get(XFRMA_ENCAP, sizeof(xfrm_encap_tmpl))) {
        const auto e = copy_of<xfrm_encap_tmpl>(mnl_attr_get_payload(a));
        sa.encap = Encapsulation{e.encap_type, ntohs(e.encap_sport), ntohs(e.encap_dport)};
    }
    if (const nlattr* a = tb.get(XFRMA_IF_ID, sizeof(std::uint32_t)))
        sa.if_id = mnl_attr_get_u32(a);
    if (const nlattr* a = tb.get(XFRMA_SET_MARK, sizeof(std::uint32_t)))
        sa.output_mark.value = mnl_attr_get_u32(a);
    if (const nlattr* a = tb.get(XFRMA_SET_MARK_MASK, sizeof(std::uint32_t)))
        sa.output_mark.mask = mnl_attr_get_u32(a);
    sa.id.mark = parse_mark(tb.get(XFRMA_MARK));
    if (const nlattr* a = tb.get(kXfrmaSaDir, sizeof(std::uint8_t)))
        sa.dir = mnl_attr_get_u8(a);
    if (const nlattr* a = tb.get(XFRMA_OFFLOAD_DEV, sizeof(xfrm_user_offload))) {
        const auto o = copy_of<xfrm_user_offload>(mnl_attr_get_payload(a));
        sa.offload = Offload{o.ifindex, o.flags};
    }
}

} // namespace

Result<SaEntry> parse_sa(const nlmsghdr* nlh)
{
    if (nlh->nlmsg_type != XFRM_MSG_NEWSA && nlh->nlmsg_type != XFRM_MSG_UPDSA)
        return fail("not an SA message");
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(xfrm_usersa_info))
        return fail("truncated SA message");
    const auto info = copy_of<xfrm_usersa_info>(mnl_nlmsg_get_payload(nlh));
    AttributeTable tb;
    if (auto ok = tb.parse(nlh, sizeof info); !ok)
        return fail(ok.error());
    return parse_sa_info(info, tb);
}

Result<SaEntry> parse_sa_info(const xfrm_usersa_info& info, const AttributeTable& tb)
{
    SaEntry sa;
    sa.id.daddr = from_kernel(info.id.daddr, info.family);
    sa.id.spi = ntohl(info.id.spi);
    sa.id.proto = info.id.proto;
    sa.saddr = from_kernel(info.saddr, info.family);
    sa.mode = static_cast<Mode>(info.mode);
    sa.reqid = info.reqid;
    sa.flags = info.flags;
    sa.limits = from_kernel(info.lft);
    sa.replay_window = info.replay_window;
    if (const nlattr* a = tb.get(XFRMA_REPLAY_ESN_VAL, sizeof(xfrm_replay_state_esn)))
        sa.replay_window = copy_of<xfrm_replay_state_esn>(mnl_attr_get_payload(a)).replay_window;
    if (auto ok = parse_algorithms(tb, sa); !ok)
        return fail("SA " + sa.id.key() + ": " + ok.error().message);
    parse_options(tb, sa);
    parse_counters(info, tb, sa.counters);
    return sa;
}

Result<SaId> parse_sa_id(const nlmsghdr* nlh)
{
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(xfrm_usersa_id))
        return fail("truncated SA id message");
    const auto k = copy_of<xfrm_usersa_id>(mnl_nlmsg_get_payload(nlh));
    AttributeTable tb;
    if (auto ok = tb.parse(nlh, sizeof k); !ok)
        return fail(ok.error());
    SaId id{from_kernel(k.daddr, k.family), ntohl(k.spi), k.proto, parse_mark(tb.get(XFRMA_MARK))};
    return id;
}

} // namespace xfrmctl::netlink
