// Host-wide SPD settings: the hash thresholds that decide which policies
// the kernel hashes (exact) rather than searches (inexact), and the default
// action for traffic that matches no policy (Linux 5.16).
#pragma once

#include "xfrmctl/netlink/message.hpp"
#include "xfrmctl/util/result.hpp"

#include <linux/xfrm.h>

#include <cstdint>

namespace xfrmctl::netlink {

// A policy is hashed when its local prefix is at least lbits long and its
// remote one at least rbits (xfrm_hash_rebuild(): for "out", local is the
// source; for "in" and "fwd", the destination). The kernel starts at
// 32/32 for IPv4 and 128/128 for IPv6: subnet policies are searched.
struct HashThresholds {
    std::uint8_t lbits = 32, rbits = 32;
    bool operator==(const HashThresholds&) const = default;
};

struct SpdInfo {
    HashThresholds ipv4{32, 32};
    HashThresholds ipv6{128, 128};
    std::uint32_t policies_in = 0, policies_out = 0, policies_fwd = 0;
};

// XFRM_USERPOLICY_UNSPEC (0, as the kernel started), BLOCK or ACCEPT.
struct DefaultPolicy {
    std::uint8_t in = XFRM_USERPOLICY_UNSPEC, fwd = XFRM_USERPOLICY_UNSPEC, out = XFRM_USERPOLICY_UNSPEC;
    bool operator==(const DefaultPolicy&) const = default;
};
const char* default_action_name(std::uint8_t action); // "block", "accept", "unset"

Request build_spd_info_get();
Request build_hash_thresholds(std::uint16_t family, const HashThresholds& t);
Result<SpdInfo> parse_spd_info(const nlmsghdr* nlh);

Request build_default_get();
Request build_default_set(const DefaultPolicy& p);
Result<DefaultPolicy> parse_default(const nlmsghdr* nlh);

} // namespace xfrmctl::netlink
