#include "xfrmctl/netlink/spd.hpp"

#include "attributes.hpp"

#include <sys/socket.h>

namespace xfrmctl::netlink {

const char* default_action_name(std::uint8_t action)
{
    return action == XFRM_USERPOLICY_BLOCK ? "block" : action == XFRM_USERPOLICY_ACCEPT ? "accept" : "unset";
}

Request build_spd_info_get()
{
    RequestBuilder b(XFRM_MSG_GETSPDINFO, 0);
    *b.put_header<std::uint32_t>() = ~0u; // flags: the kernel ignores them
    return b.finish();
}

Request build_hash_thresholds(std::uint16_t family, const HashThresholds& t)
{
    RequestBuilder b(XFRM_MSG_NEWSPDINFO, NLM_F_ACK);
    *b.put_header<std::uint32_t>() = 0;
    xfrmu_spdhthresh k{t.lbits, t.rbits};
    b.put(family == AF_INET ? XFRMA_SPD_IPV4_HTHRESH : XFRMA_SPD_IPV6_HTHRESH, k);
    return b.finish();
}

static_assert(XFRMA_SPD_MAX <= kKnownAttributes, "the attribute table holds every XFRMA_SPD_* type");

Result<SpdInfo> parse_spd_info(const nlmsghdr* nlh)
{
    if (nlh->nlmsg_type != XFRM_MSG_NEWSPDINFO || mnl_nlmsg_get_payload_len(nlh) < sizeof(std::uint32_t))
        return fail("not an SPD information message");
    AttributeTable tb; // XFRMA_SPD_* types, fewer than the table holds
    if (!tb.parse(nlh, sizeof(std::uint32_t)))
        return fail("malformed SPD information");
    SpdInfo info;
    auto thresholds = [&](std::uint16_t attr, HashThresholds& out) {
        if (const nlattr* a = tb.get(attr, sizeof(xfrmu_spdhthresh))) {
            const auto t = copy_of<xfrmu_spdhthresh>(mnl_attr_get_payload(a));
            out = HashThresholds{t.lbits, t.rbits};
        }
    };
    thresholds(XFRMA_SPD_IPV4_HTHRESH, info.ipv4);
    thresholds(XFRMA_SPD_IPV6_HTHRESH, info.ipv6);
    if (const nlattr* a = tb.get(XFRMA_SPD_INFO, sizeof(xfrmu_spdinfo))) {
        const auto counts = copy_of<xfrmu_spdinfo>(mnl_attr_get_payload(a));
        info.policies_in = counts.incnt;
        info.policies_out = counts.outcnt;
        info.policies_fwd = counts.fwdcnt;
    }
    return info;
}

Request build_default_get()
{
    RequestBuilder b(XFRM_MSG_GETDEFAULT, 0);
    b.put_header<xfrm_userpolicy_default>();
    return b.finish();
}

Request build_default_set(const DefaultPolicy& p)
{
    RequestBuilder b(XFRM_MSG_SETDEFAULT, NLM_F_ACK);
    auto* k = b.put_header<xfrm_userpolicy_default>();
    k->in = p.in;
    k->fwd = p.fwd;
    k->out = p.out;
    return b.finish();
}

Result<DefaultPolicy> parse_default(const nlmsghdr* nlh)
{
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(xfrm_userpolicy_default))
        return fail("not a default policy message");
    const auto* k = static_cast<const xfrm_userpolicy_default*>(mnl_nlmsg_get_payload(nlh));
    return DefaultPolicy{k->in, k->fwd, k->out};
}

} // namespace xfrmctl::netlink
