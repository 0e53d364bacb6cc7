// IP addresses and prefixes as the kernel stores them: family plus 16 bytes
// in network order (xfrm_address_t), IPv4 in the first four.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xfrmctl {

struct IpAddress {
    std::uint16_t family = 0; // AF_INET or AF_INET6; 0 for "none"
    std::array<std::uint8_t, 16> bytes{};

    static std::optional<IpAddress> parse(std::string_view text);
    static IpAddress any(std::uint16_t family);
    std::string str() const;
    std::uint8_t max_prefix() const { return family == 10 /*AF_INET6*/ ? 128 : 32; }
    bool is_unspecified() const;
    // Why this address cannot be a tunnel's end: "multicast", "broadcast"
    // (255.255.255.255), "loopback"; nullptr when it can.
    const char* never_an_endpoint() const;
    auto operator<=>(const IpAddress&) const = default;
};

struct Prefix {
    IpAddress address;
    std::uint8_t length = 0;

    // "10.1.0.0/24", "2001:db8::/32", or a bare address (a host prefix).
    static std::optional<Prefix> parse(std::string_view text);
    static Prefix host(const IpAddress& address);
    std::string str() const;
    bool has_host_bits() const;
    Prefix network() const; // the same prefix with host bits cleared
    bool contains(const IpAddress& address) const;
    auto operator<=>(const Prefix&) const = default;
};

const char* family_name(std::uint16_t family);

} // namespace xfrmctl
