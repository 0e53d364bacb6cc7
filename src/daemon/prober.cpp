#include "prober.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace xfrmctl::daemon {

namespace {

socklen_t to_sockaddr(const IpAddress& a, sockaddr_storage& ss)
{
    std::memset(&ss, 0, sizeof ss);
    if (a.family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
        return sizeof *sin;
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
    return sizeof *sin6;
}

// RFC 1071. (ICMPv6's checksum, which covers a pseudo-header, is the
// kernel's to fill in on raw ICMPv6 sockets.)
std::uint16_t checksum(const std::uint8_t* data, std::size_t size)
{
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < size; i += 2)
        sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    if (size % 2)
        sum += static_cast<std::uint32_t>(data[size - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons(static_cast<std::uint16_t>(~sum));
}

} // namespace

Result<Prober> Prober::open(const IpAddress& source, const IpAddress& target, std::uint16_t id)
{
    bool v4 = target.family == AF_INET;
    UniqueFd fd(::socket(target.family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, v4 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6)));
    if (!fd)
        return fail(Error::from_errno("cannot open a raw ICMP socket (it needs CAP_NET_RAW)", errno));
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(source, ss);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
        return fail(Error::from_errno("cannot send probes from " + source.str(), errno));
    len = to_sockaddr(target, ss);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
        return fail(Error::from_errno("cannot probe " + target.str(), errno));
    return Prober(std::move(fd), target.family, id);
}

Status Prober::send_echo()
{
    std::uint8_t packet[8 + 16] = {};
    packet[0] = family_ == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
    std::uint16_t id = htons(id_), seq = htons(++seq_);
    std::memcpy(packet + 4, &id, 2);
    std::memcpy(packet + 6, &seq, 2);
    std::memcpy(packet + 8, "xfrmd health....", 16);
    if (family_ == AF_INET) {
        std::uint16_t sum = checksum(packet, sizeof packet);
        std::memcpy(packet + 2, &sum, 2);
    }
    if (::send(fd_.get(), packet, sizeof packet, 0) < 0)
        return fail(Error::from_errno("probe", errno));
    return {};
}

bool Prober::drain_answers()
{
    bool answered = false;
    std::uint8_t buf[2048];
    for (;;) {
        ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n <= 0)
            return answered;
        std::size_t at = 0;
        if (family_ == AF_INET) // raw IPv4 sockets see the IP header too
            at = static_cast<std::size_t>((buf[0] & 0x0f) * 4);
        if (static_cast<std::size_t>(n) < at + 8)
            continue;
        std::uint16_t id;
        std::memcpy(&id, buf + at + 4, 2);
        std::uint8_t reply = family_ == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
        answered |= buf[at] == reply && ntohs(id) == id_;
    }
}

std::optional<IpAddress> local_address_in(const std::vector<Prefix>& prefixes)
{
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0)
        return std::nullopt;
    std::optional<IpAddress> found;
    for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        IpAddress a = IpAddress::any(i->ifa_addr->sa_family);
        if (a.family == AF_INET)
            std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
        else
            std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
        for (const auto& p : prefixes)
            if (p.length > 0 && p.contains(a))
                found = a;
    }
    freeifaddrs(list);
    return found;
}

} // namespace xfrmctl::daemon
