// Links, addresses and routes (rtnetlink, through libnl-route-3): what a
// route-based tunnel needs besides its SAs and policies.
#pragma once

#include "xfrmctl/net/address.hpp"
#include "xfrmctl/util/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct nl_sock;

namespace xfrmctl::netlink {

// An XFRM interface is known by its if_id (XFRMA_IF_ID on SAs and
// policies); a VTI by its key, which the kernel puts in the mark of the
// packets it carries (so SAs and policies match on that mark).
enum class LinkKind { xfrm, vti, vti6 };
const char* link_kind_name(LinkKind kind);

struct LinkSpec {
    std::string name;
    LinkKind kind = LinkKind::xfrm;
    std::uint32_t id = 0; // if_id, or the VTI's ikey and okey
    IpAddress local, remote; // VTI only
    std::uint32_t mtu = 0;   // 0: the kernel's default

    bool operator==(const LinkSpec&) const = default;
};

struct LinkState {
    LinkSpec spec; // as the kernel has it (mtu always set)
    int index = 0;
    bool up = false;
    bool known_kind = false; // xfrm, vti or vti6: a kind this program makes
};

// Routes this program installs carry this protocol number (rtnetlink's
// rtm_protocol), so that they are told apart from everyone else's.
inline constexpr std::uint8_t kRouteProtocol = 250;

struct RouteEntry {
    Prefix destination;
    int ifindex = 0;
    bool operator==(const RouteEntry&) const = default;
};

class Links {
public:
    static Result<Links> open();
    Links(Links&&) noexcept;
    Links& operator=(Links&&) noexcept;
    ~Links();

    // nullopt when there is no link of that name; kind is read from the kernel.
    Result<std::optional<LinkState>> find(const std::string& name);
    Status create(const LinkSpec& spec); // and sets it up
    Status remove(const std::string& name);

    Result<std::vector<Prefix>> addresses(int ifindex);
    Result<std::vector<Prefix>> all_addresses(); // of every link
    Status add_address(int ifindex, const Prefix& address);
    Status remove_address(int ifindex, const Prefix& address);

    // Routes in the main table with kRouteProtocol.
    Result<std::vector<RouteEntry>> routes();
    Status add_route(const RouteEntry& route);
    Status remove_route(const RouteEntry& route);

private:
    Result<std::vector<Prefix>> addresses_where(int ifindex); // 0: every link
    struct SocketFree {
        void operator()(nl_sock* s) const;
    };
    explicit Links(std::unique_ptr<nl_sock, SocketFree> socket);
    std::unique_ptr<nl_sock, SocketFree> socket_;
};

} // namespace xfrmctl::netlink
