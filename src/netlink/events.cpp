#include "xfrmctl/netlink/events.hpp"

#include "parsers.hpp"

#include <fmt/format.h>

namespace xfrmctl::netlink {

const char* event_name(EventKind kind)
{
    switch (kind) {
    case EventKind::sa_added: return "sa-added";
    case EventKind::sa_updated: return "sa-updated";
    case EventKind::sa_deleted: return "sa-deleted";
    case EventKind::sa_expired: return "sa-expired";
    case EventKind::policy_added: return "policy-added";
    case EventKind::policy_updated: return "policy-updated";
    case EventKind::policy_deleted: return "policy-deleted";
    case EventKind::policy_expired: return "policy-expired";
    case EventKind::acquire: return "acquire";
    case EventKind::sas_flushed: return "sas-flushed";
    case EventKind::policies_flushed: return "policies-flushed";
    }
    return "?";
}

std::string Event::describe() const
{
    std::string s = event_name(kind);
    if (kind == EventKind::sa_expired || kind == EventKind::policy_expired)
        s += hard ? " hard" : " soft";
    if (kind == EventKind::acquire && flow)
        s += " for " + flow->str();
    if (sa)
        s += " " + sa->describe();
    else if (policy)
        s += " " + policy->describe();
    return s;
}

namespace {

template <typename Header>
Result<std::pair<Header, AttributeTable>> open_message(const nlmsghdr* nlh)
{
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(Header))
        return fail("truncated XFRM event");
    AttributeTable tb;
    if (auto ok = tb.parse(nlh, sizeof(Header)); !ok)
        return fail(ok.error());
    return std::pair{copy_of<Header>(mnl_nlmsg_get_payload(nlh)), std::move(tb)};
}

Result<Event> with_sa(EventKind kind, const xfrm_usersa_info& info, const AttributeTable& tb, bool hard = false)
{
    auto sa = parse_sa_info(info, tb);
    if (!sa)
        return fail(sa.error());
    Event e;
    e.kind = kind;
    e.hard = hard;
    e.sa = std::move(*sa);
    return e;
}

Result<Event> with_policy(EventKind kind, const xfrm_userpolicy_info& info, const AttributeTable& tb, bool hard = false)
{
    auto policy = parse_policy_info(info, tb);
    if (!policy)
        return fail(policy.error());
    Event e;
    e.kind = kind;
    e.hard = hard;
    e.policy = std::move(*policy);
    return e;
}

// A deletion's header names the entry; the whole entry rides in an
// attribute (xfrm_notify_sa_flush / xfrm_notify_policy put it there).
template <typename Id, typename Info>
Result<Event> deleted(EventKind kind, std::uint16_t attr, const nlmsghdr* nlh)
{
    auto m = open_message<Id>(nlh);
    if (!m)
        return fail(m.error());
    const nlattr* whole = m->second.get(attr, sizeof(Info));
    if (!whole)
        return fail("XFRM deletion event without the deleted entry");
    const auto info = copy_of<Info>(mnl_attr_get_payload(whole));
    if constexpr (std::is_same_v<Info, xfrm_usersa_info>)
        return with_sa(kind, info, m->second);
    else
        return with_policy(kind, info, m->second);
}

Result<Event> acquire(const nlmsghdr* nlh)
{
    auto m = open_message<xfrm_user_acquire>(nlh);
    if (!m)
        return fail(m.error());
    auto e = with_policy(EventKind::acquire, m->first.policy, m->second);
    if (e)
        e->flow = from_kernel(m->first.sel);
    return e;
}

Result<Event> flushed(const nlmsghdr* nlh)
{
    Event e;
    e.kind = nlh->nlmsg_type == XFRM_MSG_FLUSHSA ? EventKind::sas_flushed : EventKind::policies_flushed;
    if (e.kind == EventKind::sas_flushed && mnl_nlmsg_get_payload_len(nlh) >= sizeof(xfrm_usersa_flush))
        e.flushed_proto = copy_of<xfrm_usersa_flush>(mnl_nlmsg_get_payload(nlh)).proto;
    return e;
}

template <typename Header>
Result<Event> expired(const nlmsghdr* nlh)
{
    auto m = open_message<Header>(nlh);
    if (!m)
        return fail(m.error());
    if constexpr (std::is_same_v<Header, xfrm_user_expire>)
        return with_sa(EventKind::sa_expired, m->first.state, m->second, m->first.hard);
    else
        return with_policy(EventKind::policy_expired, m->first.pol, m->second, m->first.hard);
}

template <typename Info, typename Make>
Result<Event> whole(const nlmsghdr* nlh, Make make)
{
    auto m = open_message<Info>(nlh);
    if (!m)
        return fail(m.error());
    return make(m->first, m->second);
}

Result<Event> parse_known(const nlmsghdr* nlh)
{
    switch (nlh->nlmsg_type) {
    case XFRM_MSG_NEWSA:
    case XFRM_MSG_UPDSA:
        return whole<xfrm_usersa_info>(nlh, [&](const auto& info, const auto& tb) {
            return with_sa(nlh->nlmsg_type == XFRM_MSG_NEWSA ? EventKind::sa_added : EventKind::sa_updated, info, tb);
        });
    case XFRM_MSG_NEWPOLICY:
    case XFRM_MSG_UPDPOLICY:
        return whole<xfrm_userpolicy_info>(nlh, [&](const auto& info, const auto& tb) {
            return with_policy(nlh->nlmsg_type == XFRM_MSG_NEWPOLICY ? EventKind::policy_added : EventKind::policy_updated,
                               info, tb);
        });
    case XFRM_MSG_DELSA: return deleted<xfrm_usersa_id, xfrm_usersa_info>(EventKind::sa_deleted, XFRMA_SA, nlh);
    case XFRM_MSG_DELPOLICY:
        return deleted<xfrm_userpolicy_id, xfrm_userpolicy_info>(EventKind::policy_deleted, XFRMA_POLICY, nlh);
    case XFRM_MSG_EXPIRE: return expired<xfrm_user_expire>(nlh);
    case XFRM_MSG_POLEXPIRE: return expired<xfrm_user_polexpire>(nlh);
    case XFRM_MSG_ACQUIRE: return acquire(nlh);
    default: return flushed(nlh);
    }
}

} // namespace

Result<std::optional<Event>> parse_event(const nlmsghdr* nlh)
{
    switch (nlh->nlmsg_type) {
    case XFRM_MSG_NEWSA: case XFRM_MSG_UPDSA: case XFRM_MSG_DELSA: case XFRM_MSG_EXPIRE:
    case XFRM_MSG_NEWPOLICY: case XFRM_MSG_UPDPOLICY: case XFRM_MSG_DELPOLICY: case XFRM_MSG_POLEXPIRE:
    case XFRM_MSG_ACQUIRE: case XFRM_MSG_FLUSHSA: case XFRM_MSG_FLUSHPOLICY: {
        auto e = parse_known(nlh);
        if (!e)
            return fail(e.error());
        return std::optional(std::move(*e));
    }
    default:
        return std::optional<Event>();
    }
}

} // namespace xfrmctl::netlink
