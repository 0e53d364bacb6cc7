// Parsing the kernel's SA and policy structs wherever a message embeds
// them (dumps, and the notifications of events.cpp); private to src/netlink.
#pragma once

#include "attributes.hpp"
#include "xfrmctl/netlink/policy.hpp"
#include "xfrmctl/netlink/sa.hpp"

namespace xfrmctl::netlink {

Result<SaEntry> parse_sa_info(const xfrm_usersa_info& info, const AttributeTable& tb);
Result<PolicyEntry> parse_policy_info(const xfrm_userpolicy_info& info, const AttributeTable& tb);

} // namespace xfrmctl::netlink
