// Values shared by SAs and policies, in the kernel's terms but host byte
// order, with the conversions to and from the structs of <linux/xfrm.h>.
#pragma once

#include "xfrmctl/net/address.hpp"

#include <linux/xfrm.h>

#include <compare>
#include <cstdint>
#include <limits>
#include <string>

namespace xfrmctl::netlink {

inline constexpr std::uint64_t kInfinite = std::numeric_limits<std::uint64_t>::max(); // XFRM_INF

enum class Mode : std::uint8_t { transport = XFRM_MODE_TRANSPORT, tunnel = XFRM_MODE_TUNNEL };

struct Mark {
    std::uint32_t value = 0;
    std::uint32_t mask = 0;
    bool is_set() const { return value || mask; }
    auto operator<=>(const Mark&) const = default;
};

// The kernel's selector (struct xfrm_selector), ports in host order.
struct Selector {
    Prefix src;
    Prefix dst;
    std::uint8_t proto = 0;
    std::uint16_t sport = 0, sport_mask = 0;
    std::uint16_t dport = 0, dport_mask = 0;
    std::int32_t ifindex = 0;
    std::uint32_t user = 0;

    std::uint16_t family() const { return src.address.family; }
    std::string str() const;
    auto operator<=>(const Selector&) const = default;
};

// Soft and hard limits (struct xfrm_lifetime_cfg); kInfinite means none.
struct Limits {
    std::uint64_t soft_bytes = kInfinite, hard_bytes = kInfinite;
    std::uint64_t soft_packets = kInfinite, hard_packets = kInfinite;
    std::uint64_t soft_add_seconds = 0, hard_add_seconds = 0;
    std::uint64_t soft_use_seconds = 0, hard_use_seconds = 0;
    auto operator<=>(const Limits&) const = default;
};

const char* protocol_name(std::uint8_t proto); // "esp", "ah", "comp", or the number
const char* mode_name(Mode mode);

xfrm_address_t to_kernel(const IpAddress& address);
IpAddress from_kernel(const xfrm_address_t& address, std::uint16_t family);
xfrm_selector to_kernel(const Selector& selector);
Selector from_kernel(const xfrm_selector& selector);
xfrm_lifetime_cfg to_kernel(const Limits& limits);
Limits from_kernel(const xfrm_lifetime_cfg& cfg);

} // namespace xfrmctl::netlink
