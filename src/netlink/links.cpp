#include "xfrmctl/netlink/links.hpp"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/ip6vti.h>
#include <netlink/route/link/ipvti.h>
#include <netlink/route/link/xfrmi.h>
#include <netlink/route/route.h>

#include <cstring>

namespace xfrmctl::netlink {

const char* link_kind_name(LinkKind kind)
{
    return kind == LinkKind::xfrm ? "xfrm" : kind == LinkKind::vti ? "vti" : "vti6";
}

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const
    {
        if (p)
            Free(p);
    }
};
using LinkPtr = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using AddrPtr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using RtAddrPtr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using RoutePtr = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using CachePtr = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;

Status check(int err, const std::string& what)
{
    if (err >= 0)
        return {};
    return fail(what + ": " + nl_geterror(err), -err);
}

AddrPtr to_nl(const Prefix& p)
{
    std::size_t size = p.address.family == AF_INET ? 4 : 16;
    AddrPtr a(nl_addr_build(p.address.family, p.address.bytes.data(), size));
    if (a)
        nl_addr_set_prefixlen(a.get(), p.length);
    return a;
}

Prefix from_nl(nl_addr* a)
{
    Prefix p;
    p.address.family = static_cast<std::uint16_t>(nl_addr_get_family(a));
    std::memcpy(p.address.bytes.data(), nl_addr_get_binary_addr(a), std::min<std::size_t>(nl_addr_get_len(a), 16));
    p.length = static_cast<std::uint8_t>(nl_addr_get_prefixlen(a));
    return p;
}

std::uint32_t ipv4_raw(const IpAddress& a)
{
    std::uint32_t raw;
    std::memcpy(&raw, a.bytes.data(), 4);
    return raw;
}

IpAddress ipv4_from_raw(std::uint32_t raw)
{
    IpAddress a = IpAddress::any(AF_INET);
    std::memcpy(a.bytes.data(), &raw, 4);
    return a;
}

// The VTI's key travels in network order (IFLA_VTI_IKEY is __be32); the
// kernel marks the packets it carries with its host-order value.
LinkPtr new_link(const LinkSpec& spec)
{
    LinkPtr link;
    switch (spec.kind) {
    case LinkKind::xfrm:
        link.reset(rtnl_link_xfrmi_alloc());
        rtnl_link_xfrmi_set_if_id(link.get(), spec.id);
        break;
    case LinkKind::vti:
        link.reset(rtnl_link_ipvti_alloc());
        rtnl_link_ipvti_set_ikey(link.get(), htonl(spec.id));
        rtnl_link_ipvti_set_okey(link.get(), htonl(spec.id));
        rtnl_link_ipvti_set_local(link.get(), ipv4_raw(spec.local));
        rtnl_link_ipvti_set_remote(link.get(), ipv4_raw(spec.remote));
        break;
    case LinkKind::vti6: {
        link.reset(rtnl_link_ip6vti_alloc());
        rtnl_link_ip6vti_set_ikey(link.get(), htonl(spec.id));
        rtnl_link_ip6vti_set_okey(link.get(), htonl(spec.id));
        in6_addr local{}, remote{};
        std::memcpy(&local, spec.local.bytes.data(), 16);
        std::memcpy(&remote, spec.remote.bytes.data(), 16);
        rtnl_link_ip6vti_set_local(link.get(), &local);
        rtnl_link_ip6vti_set_remote(link.get(), &remote);
        break;
    }
    }
    return link;
}

void read_kind(rtnl_link* link, LinkState& state)
{
    const char* type = rtnl_link_get_type(link);
    std::string kind = type ? type : "";
    if (kind == "xfrm") {
        state.spec.kind = LinkKind::xfrm;
        rtnl_link_xfrmi_get_if_id(link, &state.spec.id);
    } else if (kind == "vti") {
        state.spec.kind = LinkKind::vti;
        state.spec.id = ntohl(rtnl_link_ipvti_get_ikey(link));
        state.spec.local = ipv4_from_raw(rtnl_link_ipvti_get_local(link));
        state.spec.remote = ipv4_from_raw(rtnl_link_ipvti_get_remote(link));
    } else if (kind == "vti6") {
        state.spec.kind = LinkKind::vti6;
        std::uint32_t key = 0;
        rtnl_link_ip6vti_get_ikey(link, &key);
        state.spec.id = ntohl(key);
        in6_addr local{}, remote{};
        rtnl_link_ip6vti_get_local(link, &local);
        rtnl_link_ip6vti_get_remote(link, &remote);
        state.spec.local = IpAddress::any(AF_INET6);
        state.spec.remote = IpAddress::any(AF_INET6);
        std::memcpy(state.spec.local.bytes.data(), &local, 16);
        std::memcpy(state.spec.remote.bytes.data(), &remote, 16);
    } else {
        state.spec.id = ~0u; // not a kind we make: never equal to a wanted link
        return;
    }
    state.known_kind = true;
}

} // namespace

void Links::SocketFree::operator()(nl_sock* s) const { nl_socket_free(s); }

Links::Links(std::unique_ptr<nl_sock, SocketFree> socket) : socket_(std::move(socket)) {}
Links::Links(Links&&) noexcept = default;
Links& Links::operator=(Links&&) noexcept = default;
Links::~Links() = default;

Result<Links> Links::open()
{
    std::unique_ptr<nl_sock, SocketFree> sock(nl_socket_alloc());
    if (!sock)
        return fail("cannot allocate an rtnetlink socket");
    if (auto ok = check(nl_connect(sock.get(), NETLINK_ROUTE), "cannot open an rtnetlink socket"); !ok)
        return fail(ok.error());
    return Links(std::move(sock));
}

Result<std::optional<LinkState>> Links::find(const std::string& name)
{
    rtnl_link* raw = nullptr;
    int err = rtnl_link_get_kernel(socket_.get(), 0, name.c_str(), &raw);
    LinkPtr link(raw);
    if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV)
        return std::optional<LinkState>();
    if (auto ok = check(err, "cannot read link " + name); !ok)
        return fail(ok.error());
    LinkState state;
    state.spec.name = name;
    state.index = rtnl_link_get_ifindex(link.get());
    state.up = rtnl_link_get_flags(link.get()) & IFF_UP;
    state.spec.mtu = rtnl_link_get_mtu(link.get());
    read_kind(link.get(), state);
    return std::optional(state);
}

Status Links::create(const LinkSpec& spec)
{
    LinkPtr link = new_link(spec);
    if (!link)
        return fail("cannot allocate a link");
    rtnl_link_set_name(link.get(), spec.name.c_str());
    if (spec.mtu)
        rtnl_link_set_mtu(link.get(), spec.mtu);
    rtnl_link_set_flags(link.get(), IFF_UP);
    return check(rtnl_link_add(socket_.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL),
                 std::string("cannot create ") + link_kind_name(spec.kind) + " link " + spec.name);
}

Status Links::remove(const std::string& name)
{
    LinkPtr link(rtnl_link_alloc());
    rtnl_link_set_name(link.get(), name.c_str());
    return check(rtnl_link_delete(socket_.get(), link.get()), "cannot remove link " + name);
}

Result<std::vector<Prefix>> Links::addresses(int ifindex) { return addresses_where(ifindex); }

Result<std::vector<Prefix>> Links::all_addresses() { return addresses_where(0); }

Result<std::vector<Prefix>> Links::addresses_where(int ifindex)
{
    nl_cache* raw = nullptr;
    if (auto ok = check(rtnl_addr_alloc_cache(socket_.get(), &raw), "cannot read addresses"); !ok)
        return fail(ok.error());
    CachePtr cache(raw);
    std::vector<Prefix> list;
    for (auto* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
        auto* addr = reinterpret_cast<rtnl_addr*>(obj);
        if ((ifindex == 0 || rtnl_addr_get_ifindex(addr) == ifindex) && rtnl_addr_get_local(addr))
            list.push_back(from_nl(rtnl_addr_get_local(addr)));
    }
    return list;
}

namespace {

RtAddrPtr address_object(int ifindex, const Prefix& address)
{
    RtAddrPtr addr(rtnl_addr_alloc());
    AddrPtr local = to_nl(address);
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    rtnl_addr_set_local(addr.get(), local.get());
    rtnl_addr_set_prefixlen(addr.get(), address.length);
    if (address.address.family == AF_INET6)
        rtnl_addr_set_flags(addr.get(), IFA_F_NODAD); // usable at once
    return addr;
}

RoutePtr route_object(const RouteEntry& r)
{
    RoutePtr route(rtnl_route_alloc());
    AddrPtr dst = to_nl(r.destination);
    rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(r.destination.address.family));
    rtnl_route_set_dst(route.get(), dst.get());
    rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
    rtnl_route_set_protocol(route.get(), kRouteProtocol);
    rtnl_route_set_scope(route.get(), RT_SCOPE_LINK);
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nh, r.ifindex);
    rtnl_route_add_nexthop(route.get(), nh); // the route owns it now
    return route;
}

} // namespace

Status Links::add_address(int ifindex, const Prefix& address)
{
    return check(rtnl_addr_add(socket_.get(), address_object(ifindex, address).get(), 0),
                 "cannot add address " + address.str());
}

Status Links::remove_address(int ifindex, const Prefix& address)
{
    return check(rtnl_addr_delete(socket_.get(), address_object(ifindex, address).get(), 0),
                 "cannot remove address " + address.str());
}

Result<std::vector<RouteEntry>> Links::routes()
{
    nl_cache* raw = nullptr;
    if (auto ok = check(rtnl_route_alloc_cache(socket_.get(), AF_UNSPEC, 0, &raw), "cannot read routes"); !ok)
        return fail(ok.error());
    CachePtr cache(raw);
    std::vector<RouteEntry> list;
    for (auto* obj = nl_cache_get_first(cache.get()); obj; obj = nl_cache_get_next(obj)) {
        auto* route = reinterpret_cast<rtnl_route*>(obj);
        if (rtnl_route_get_protocol(route) != kRouteProtocol || rtnl_route_get_table(route) != RT_TABLE_MAIN)
            continue;
        rtnl_nexthop* nh = rtnl_route_nexthop_n(route, 0);
        list.push_back({from_nl(rtnl_route_get_dst(route)), nh ? rtnl_route_nh_get_ifindex(nh) : 0});
    }
    return list;
}

Status Links::add_route(const RouteEntry& r)
{
    return check(rtnl_route_add(socket_.get(), route_object(r).get(), NLM_F_CREATE | NLM_F_EXCL),
                 "cannot add route " + r.destination.str());
}

Status Links::remove_route(const RouteEntry& r)
{
    return check(rtnl_route_delete(socket_.get(), route_object(r).get(), 0), "cannot remove route " + r.destination.str());
}

} // namespace xfrmctl::netlink
