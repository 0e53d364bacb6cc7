// The kernel's XFRM notifications: SAs and policies added, changed and
// deleted, expiring, and acquires (traffic that found a policy but no SA).
#pragma once

#include "xfrmctl/netlink/policy.hpp"
#include "xfrmctl/netlink/sa.hpp"

#include <optional>
#include <string>

namespace xfrmctl::netlink {

// The multicast groups to join for every event below (mnl_socket_bind()).
inline constexpr unsigned kEventGroups = XFRMGRP_ACQUIRE | XFRMGRP_EXPIRE | XFRMGRP_SA | XFRMGRP_POLICY;

enum class EventKind {
    sa_added, sa_updated, sa_deleted, sa_expired,
    policy_added, policy_updated, policy_deleted, policy_expired,
    acquire, sas_flushed, policies_flushed,
};
const char* event_name(EventKind kind); // "sa-added", ...

struct Event {
    EventKind kind = EventKind::sa_added;
    bool hard = false;                  // expiries: hard (the entry is gone) or soft (a warning)
    std::optional<SaEntry> sa;          // SA events
    std::optional<PolicyEntry> policy;  // policy events, and the policy an acquire hit
    std::optional<Selector> flow;       // acquire: the traffic that triggered it
    std::uint8_t flushed_proto = 0;     // sas_flushed: 0 for all

    std::string describe() const;
};

// nullopt for messages that are not events (or not ours to report).
Result<std::optional<Event>> parse_event(const nlmsghdr* nlh);

} // namespace xfrmctl::netlink
