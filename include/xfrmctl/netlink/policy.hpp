// XFRM policies (the SPD): the model, and building and parsing messages.
#pragma once

#include "xfrmctl/netlink/message.hpp"
#include "xfrmctl/netlink/xfrm.hpp"
#include "xfrmctl/util/result.hpp"

#include <string>
#include <vector>

namespace xfrmctl::netlink {

enum class Direction : std::uint8_t { in = XFRM_POLICY_IN, out = XFRM_POLICY_OUT, fwd = XFRM_POLICY_FWD };
const char* direction_name(Direction dir);

// What makes two policies the same policy for the kernel: on insert,
// xfrm_policy_insert_list() (net/xfrm/xfrm_policy.c) replaces or refuses a
// policy with the same direction, type, if_id, selector (selector_cmp), mark
// (xfrm_policy_mark_match: value and mask) and security context; the
// priority is not part of it. DELPOLICY and GETPOLICY find it the same way
// (xfrm_policy_bysel_ctx). We never set a security context.
struct PolicyId {
    Direction dir = Direction::out;
    Selector selector;
    Mark mark;
    std::uint32_t if_id = 0;
    std::uint8_t type = XFRM_POLICY_TYPE_MAIN;

    std::string key() const; // a canonical text form, stable across runs
    auto operator<=>(const PolicyId&) const = default;
};

// struct xfrm_user_tmpl: which SA a packet must go through.
struct Template {
    IpAddress daddr; // tunnel mode only; transport takes the packet's
    IpAddress saddr;
    std::uint16_t family = 0;
    std::uint8_t proto = 0;
    std::uint32_t spi = 0;
    Mode mode = Mode::transport;
    std::uint32_t reqid = 0;
    std::uint8_t share = XFRM_SHARE_ANY;
    bool optional = false;
    std::uint32_t aalgos = ~0u, ealgos = ~0u, calgos = ~0u;
    auto operator<=>(const Template&) const = default;
};

struct PolicyEntry {
    PolicyId id;
    std::uint32_t priority = 0;
    std::uint8_t action = XFRM_POLICY_ALLOW;
    std::uint8_t flags = 0;
    std::uint8_t share = XFRM_SHARE_ANY;
    Limits limits;
    std::vector<Template> templates;
    std::uint32_t index = 0; // assigned by the kernel; not compared

    // These three follow from one list of the configuration's fields
    // (src/netlink/fields.cpp); the index is not part of it.
    bool same_config(const PolicyEntry& other) const;
    std::vector<std::string> differences(const PolicyEntry& other) const; // "priority", "templates"
    std::string describe() const; // one line, every field that is set
};

Request build_policy(std::uint16_t msg_type, const PolicyEntry& policy); // NEWPOLICY or UPDPOLICY
Request build_policy_delete(const PolicyId& id);
Request build_policy_get(const PolicyId& id);
Request build_policy_dump();

Result<PolicyEntry> parse_policy(const nlmsghdr* nlh);          // NEWPOLICY / UPDPOLICY
Result<PolicyId> parse_policy_id(const nlmsghdr* nlh);          // DELPOLICY (xfrm_userpolicy_id)

} // namespace xfrmctl::netlink
