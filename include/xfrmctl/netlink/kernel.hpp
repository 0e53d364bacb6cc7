// The kernel's XFRM tables of the current network namespace, behind a few
// calls: the facade that everything above the netlink layer uses.
#pragma once

#include "xfrmctl/netlink/policy.hpp"
#include "xfrmctl/netlink/sa.hpp"
#include "xfrmctl/netlink/socket.hpp"
#include "xfrmctl/netlink/spd.hpp"

namespace xfrmctl::netlink {

struct Tables {
    std::vector<SaEntry> sas;
    std::vector<PolicyEntry> policies;
    SpdInfo spd;
    std::optional<DefaultPolicy> defaults; // nullopt: the kernel predates them (5.16)
};

class Kernel {
public:
    static Result<Kernel> open();

    Result<std::vector<SaEntry>> sas();
    Result<std::vector<PolicyEntry>> policies();
    Result<Tables> tables();
    Result<std::optional<SaEntry>> sa(const SaId& id);
    Result<std::optional<PolicyEntry>> policy(const PolicyId& id);
    Result<SpdInfo> spd_info();
    Result<std::optional<DefaultPolicy>> default_policy();
    Result<std::vector<Ack>> execute(std::span<const Request> requests);
    // The netlink port of this handle: the kernel stamps it on the events
    // that our own requests cause (nlmsg_pid), so they can be told apart.
    std::uint32_t portid() const { return socket_.portid(); }
    bool intact() const { return socket_.intact(); }
    void drop() { socket_.drop(); }

private:
    explicit Kernel(XfrmSocket socket) : socket_(std::move(socket)) {}
    XfrmSocket socket_;
};

} // namespace xfrmctl::netlink
