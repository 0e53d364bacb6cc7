#include "xfrmctl/netlink/xfrm.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace xfrmctl::netlink {

const char* protocol_name(std::uint8_t proto)
{
    switch (proto) {
    case IPPROTO_ESP: return "esp";
    case IPPROTO_AH: return "ah";
    case IPPROTO_COMP: return "comp";
    default: return "?";
    }
}

const char* mode_name(Mode mode) { return mode == Mode::tunnel ? "tunnel" : "transport"; }

std::string Selector::str() const
{
    std::string s = src.str() + " -> " + dst.str();
    if (proto)
        s += " proto " + std::to_string(proto);
    if (sport_mask)
        s += " sport " + std::to_string(sport);
    if (dport_mask)
        s += " dport " + std::to_string(dport);
    return s;
}

xfrm_address_t to_kernel(const IpAddress& address)
{
    xfrm_address_t a;
    std::memset(&a, 0, sizeof a);
    std::memcpy(&a, address.bytes.data(), sizeof a);
    return a;
}

IpAddress from_kernel(const xfrm_address_t& address, std::uint16_t family)
{
    IpAddress a;
    a.family = family;
    std::size_t size = family == AF_INET ? 4 : 16;
    std::memcpy(a.bytes.data(), &address, size);
    return a;
}

xfrm_selector to_kernel(const Selector& s)
{
    // selector_cmp() compares the whole struct, padding included: zero it.
    xfrm_selector k;
    std::memset(&k, 0, sizeof k);
    k.family = s.family();
    k.saddr = to_kernel(s.src.address);
    k.daddr = to_kernel(s.dst.address);
    k.prefixlen_s = s.src.length;
    k.prefixlen_d = s.dst.length;
    k.proto = s.proto;
    k.sport = htons(s.sport);
    k.sport_mask = htons(s.sport_mask);
    k.dport = htons(s.dport);
    k.dport_mask = htons(s.dport_mask);
    k.ifindex = s.ifindex;
    k.user = s.user;
    return k;
}

Selector from_kernel(const xfrm_selector& k)
{
    Selector s;
    s.src = Prefix{from_kernel(k.saddr, k.family), k.prefixlen_s};
    s.dst = Prefix{from_kernel(k.daddr, k.family), k.prefixlen_d};
    s.proto = k.proto;
    s.sport = ntohs(k.sport);
    s.sport_mask = ntohs(k.sport_mask);
    s.dport = ntohs(k.dport);
    s.dport_mask = ntohs(k.dport_mask);
    s.ifindex = k.ifindex;
    s.user = k.user;
    return s;
}

xfrm_lifetime_cfg to_kernel(const Limits& l)
{
    xfrm_lifetime_cfg c{};
    c.soft_byte_limit = l.soft_bytes;
    c.hard_byte_limit = l.hard_bytes;
    c.soft_packet_limit = l.soft_packets;
    c.hard_packet_limit = l.hard_packets;
    c.soft_add_expires_seconds = l.soft_add_seconds;
    c.hard_add_expires_seconds = l.hard_add_seconds;
    c.soft_use_expires_seconds = l.soft_use_seconds;
    c.hard_use_expires_seconds = l.hard_use_seconds;
    return c;
}

Limits from_kernel(const xfrm_lifetime_cfg& c)
{
    Limits l;
    l.soft_bytes = c.soft_byte_limit;
    l.hard_bytes = c.hard_byte_limit;
    l.soft_packets = c.soft_packet_limit;
    l.hard_packets = c.hard_packet_limit;
    l.soft_add_seconds = c.soft_add_expires_seconds;
    l.hard_add_seconds = c.hard_add_expires_seconds;
    l.soft_use_seconds = c.soft_use_expires_seconds;
    l.hard_use_seconds = c.hard_use_expires_seconds;
    return l;
}

} // namespace xfrmctl::netlink
