#include "xfrmctl/netlink/policy.hpp"

#include "attributes.hpp"
#include "parsers.hpp"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace xfrmctl::netlink {

const char* direction_name(Direction dir)
{
    switch (dir) {
    case Direction::in: return "in";
    case Direction::out: return "out";
    case Direction::fwd: return "fwd";
    }
    return "?";
}

// The kernel's identity of a policy: its direction, type, if_id, mark and
// whole selector, the "user" field included (xfrm_policy_insert_list() in
// net/xfrm/xfrm_policy.c compares selectors with selector_cmp(), a memcmp);
// not its priority. "user" is written only when set, so that the keys of
// ledgers from before it was used stay as they were.
std::string PolicyId::key() const
{
    const Selector& s = selector;
    std::string key =
        fmt::format("{} {} > {} proto {} sport {}/0x{:x} dport {}/0x{:x} dev {} mark 0x{:x}/0x{:x} if_id {} type {}",
                    direction_name(dir), s.src.str(), s.dst.str(), s.proto, s.sport, s.sport_mask, s.dport,
                    s.dport_mask, s.ifindex, mark.value, mark.mask, if_id, type);
    if (s.user)
        key += fmt::format(" user 0x{:x}", s.user);
    return key;
}

namespace {

xfrm_user_tmpl template_to_kernel(const Template& t)
{
    xfrm_user_tmpl k{};
    k.id.daddr = netlink::to_kernel(t.daddr);
    k.id.spi = htonl(t.spi);
    k.id.proto = t.proto;
    k.family = t.family;
    k.saddr = netlink::to_kernel(t.saddr);
    k.reqid = t.reqid;
    k.mode = static_cast<std::uint8_t>(t.mode);
    k.share = t.share;
    k.optional = t.optional;
    k.aalgos = t.aalgos;
    k.ealgos = t.ealgos;
    k.calgos = t.calgos;
    return k;
}

Template from_kernel(const xfrm_user_tmpl& k)
{
    Template t;
    t.family = k.family;
    t.daddr = netlink::from_kernel(k.id.daddr, k.family);
    t.saddr = netlink::from_kernel(k.saddr, k.family);
    t.spi = ntohl(k.id.spi);
    t.proto = k.id.proto;
    t.mode = static_cast<Mode>(k.mode);
    t.reqid = k.reqid;
    t.share = k.share;
    t.optional = k.optional != 0;
    t.aalgos = k.aalgos;
    t.ealgos = k.ealgos;
    t.calgos = k.calgos;
    return t;
}

void put_identity_attributes(RequestBuilder& b, const PolicyId& id)
{
    if (id.mark.is_set()) {
        xfrm_mark m{id.mark.value, id.mark.mask};
        b.put(XFRMA_MARK, m);
    }
    if (id.if_id)
        b.put(XFRMA_IF_ID, id.if_id);
    if (id.type != XFRM_POLICY_TYPE_MAIN) {
        xfrm_userpolicy_type t{};
        t.type = id.type;
        b.put(XFRMA_POLICY_TYPE, t);
    }
}

} // namespace

Request build_policy(std::uint16_t msg_type, const PolicyEntry& p)
{
    RequestBuilder b(msg_type, NLM_F_ACK);
    auto* info = b.put_header<xfrm_userpolicy_info>();
    info->sel = netlink::to_kernel(p.id.selector);
    info->lft = netlink::to_kernel(p.limits);
    info->priority = p.priority;
    info->dir = static_cast<std::uint8_t>(p.id.dir);
    info->action = p.action;
    info->flags = p.flags;
    info->share = p.share;
    if (!p.templates.empty()) {
        auto* tmpls = static_cast<xfrm_user_tmpl*>(
            b.reserve(XFRMA_TMPL, p.templates.size() * sizeof(xfrm_user_tmpl)));
        for (std::size_t i = 0; i < p.templates.size(); ++i)
            tmpls[i] = template_to_kernel(p.templates[i]);
    }
    put_identity_attributes(b, p.id);
    return b.finish();
}

namespace {

Request build_policy_by_id(std::uint16_t type, std::uint16_t flags, const PolicyId& id)
{
    RequestBuilder b(type, flags);
    auto* k = b.put_header<xfrm_userpolicy_id>();
    k->sel = netlink::to_kernel(id.selector);
    k->dir = static_cast<std::uint8_t>(id.dir);
    put_identity_attributes(b, id);
    return b.finish();
}

void parse_identity_attributes(const AttributeTable& tb, PolicyId& id)
{
    if (const nlattr* a = tb.get(XFRMA_MARK, sizeof(xfrm_mark))) {
        const auto m = copy_of<xfrm_mark>(mnl_attr_get_payload(a));
        id.mark = Mark{m.v, m.m};
    }
    if (const nlattr* a = tb.get(XFRMA_IF_ID, sizeof(std::uint32_t)))
        id.if_id = mnl_attr_get_u32(a);
    if (const nlattr* a = tb.get(XFRMA_POLICY_TYPE, sizeof(xfrm_userpolicy_type)))
        id.type = copy_of<xfrm_userpolicy_type>(mnl_attr_get_payload(a)).type;
}

} // namespace

Request build_policy_delete(const PolicyId& id) { return build_policy_by_id(XFRM_MSG_DELPOLICY, NLM_F_ACK, id); }

Request build_policy_get(const PolicyId& id) { return build_policy_by_id(XFRM_MSG_GETPOLICY, 0, id); }

Request build_policy_dump()
{
    RequestBuilder b(XFRM_MSG_GETPOLICY, NLM_F_DUMP);
    return b.finish();
}

Result<PolicyEntry> parse_policy(const nlmsghdr* nlh)
{
    if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY && nlh->nlmsg_type != XFRM_MSG_UPDPOLICY)
        return fail("not a policy message");
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(xfrm_userpolicy_info))
        return fail("truncated policy message");
    const auto info = copy_of<xfrm_userpolicy_info>(mnl_nlmsg_get_payload(nlh));
    AttributeTable tb;
    if (auto ok = tb.parse(nlh, sizeof info); !ok)
        return fail(ok.error());
    return parse_policy_info(info, tb);
}

Result<PolicyEntry> parse_policy_info(const xfrm_userpolicy_info& info, const AttributeTable& tb)
{
    PolicyEntry p;
    p.id.dir = static_cast<Direction>(info.dir);
    p.id.selector = netlink::from_kernel(info.sel);
    p.priority = info.priority;
    p.action = info.action;
    p.flags = info.flags;
    p.share = info.share;
    p.limits = netlink::from_kernel(info.lft);
    p.index = info.index;
    parse_identity_attributes(tb, p.id);
    if (const nlattr* a = tb.get(XFRMA_TMPL)) {
        const auto* bytes = static_cast<const char*>(mnl_attr_get_payload(a));
        std::size_t count = mnl_attr_get_payload_len(a) / sizeof(xfrm_user_tmpl);
        for (std::size_t i = 0; i < count; ++i)
            p.templates.push_back(from_kernel(copy_of<xfrm_user_tmpl>(bytes + i * sizeof(xfrm_user_tmpl))));
    }
    return p;
}

Result<PolicyId> parse_policy_id(const nlmsghdr* nlh)
{
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(xfrm_userpolicy_id))
        return fail("truncated policy id message");
    const auto k = copy_of<xfrm_userpolicy_id>(mnl_nlmsg_get_payload(nlh));
    AttributeTable tb;
    if (auto ok = tb.parse(nlh, sizeof k); !ok)
        return fail(ok.error());
    PolicyId id;
    id.dir = static_cast<Direction>(k.dir);
    id.selector = netlink::from_kernel(k.sel);
    parse_identity_attributes(tb, id);
    return id;
}

} // namespace xfrmctl::netlink
