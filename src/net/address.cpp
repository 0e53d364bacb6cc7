#include "xfrmctl/net/address.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

namespace xfrmctl {

std::optional<IpAddress> IpAddress::parse(std::string_view text)
{
    std::string s(text);
    IpAddress a;
    if (s.find(':') == std::string::npos) {
        if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1)
            return std::nullopt;
        a.family = AF_INET;
    } else {
        if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1)
            return std::nullopt;
        a.family = AF_INET6;
    }
    return a;
}

IpAddress IpAddress::any(std::uint16_t family)
{
    IpAddress a;
    a.family = family;
    return a;
}

std::string IpAddress::str() const
{
    char buf[INET6_ADDRSTRLEN] = "";
    if (family != AF_INET && family != AF_INET6)
        return "none";
    inet_ntop(family, bytes.data(), buf, sizeof buf);
    return buf;
}

bool IpAddress::is_unspecified() const
{
    for (auto b : bytes)
        if (b)
            return false;
    return true;
}

const char* IpAddress::never_an_endpoint() const
{
    static const Prefix multicast4 = *Prefix::parse("224.0.0.0/4"), multicast6 = *Prefix::parse("ff00::/8");
    static const Prefix loopback4 = *Prefix::parse("127.0.0.0/8"), loopback6 = *Prefix::parse("::1/128");
    static const IpAddress broadcast = *IpAddress::parse("255.255.255.255");
    if (multicast4.contains(*this) || multicast6.contains(*this))
        return "multicast";
    if (*this == broadcast)
        return "broadcast";
    if (loopback4.contains(*this) || loopback6.contains(*this))
        return "loopback";
    return nullptr;
}

std::optional<Prefix> Prefix::parse(std::string_view text)
{
    auto slash = text.find('/');
    auto address = IpAddress::parse(text.substr(0, slash));
    if (!address)
        return std::nullopt;
    if (slash == std::string_view::npos)
        return host(*address);
    auto digits = text.substr(slash + 1);
    unsigned length = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
        length > address->max_prefix())
        return std::nullopt;
    return Prefix{*address, static_cast<std::uint8_t>(length)};
}

Prefix Prefix::host(const IpAddress& address) { return Prefix{address, address.max_prefix()}; }

std::string Prefix::str() const { return address.str() + "/" + std::to_string(length); }

Prefix Prefix::network() const
{
    Prefix p = *this;
    for (unsigned i = 0; i < 16; ++i) {
        unsigned bit = i * 8;
        if (bit >= length)
            p.address.bytes[i] = 0;
        else if (bit + 8 > length)
            p.address.bytes[i] &= static_cast<std::uint8_t>(0xff << (8 - (length - bit)));
    }
    return p;
}

bool Prefix::has_host_bits() const { return network().address != address; }

bool Prefix::contains(const IpAddress& other) const
{
    if (other.family != address.family)
        return false;
    Prefix p{other, length};
    return p.network().address == network().address;
}

const char* family_name(std::uint16_t family)
{
    return family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "unknown family";
}

} // namespace xfrmctl
