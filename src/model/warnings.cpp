#include "xfrmctl/model/warnings.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace xfrmctl::model {

namespace {

// A subnet wider than the endpoint's own address that holds it: traffic of
// the address itself (to the peer's management address, say) goes through
// the tunnel, so it flows only while the tunnel is up.
void warn_subnets_holding_endpoint(const Tunnel& t, bool local, std::vector<Warning>& out)
{
    const Endpoint& e = local ? t.local : t.remote;
    const char* side = local ? "local" : "remote";
    for (std::size_t i = 0; i < e.subnets.size(); ++i) {
        const Prefix& p = e.subnets[i];
        if (p.length >= e.address.max_prefix() || !p.contains(e.address))
            continue;
        out.push_back({t.name, {t.file, fmt::format("{}/{}/subnets/{}", t.path(), side, i),
                       fmt::format("{} holds the tunnel's own {} address {}: traffic {} that address (other than "
                                   "this tunnel's ESP) goes through the tunnel, and flows only while it is up",
                                   p.str(), side, e.address.str(), local ? "from" : "to")}});
    }
}

// Validate and plan run where the tunnel is to run: a local address that
// is not there is most likely a typo or a definition for the other end.
// Only a warning: the address may come up later (DHCP, a VRRP takeover).
void warn_local_address_absent(const Tunnel& t, const std::vector<Prefix>& host, std::vector<Warning>& out)
{
    bool here = std::ranges::any_of(host, [&](const Prefix& p) { return p.address == t.local.address; });
    if (!here)
        out.push_back({t.name, {t.file, t.path() + "/local/address",
                       fmt::format("{} is not an address of this host: its SAs and policies are installed, but "
                                   "no packet is sent from it until the address is added",
                                   t.local.address.str())}});
}

} // namespace

std::vector<Warning> definition_warnings(const Definitions& defs, const std::vector<Prefix>* host_addresses)
{
    std::vector<Warning> out;
    for (const auto& t : defs.tunnels) {
        if (!t.present)
            continue;
        if (host_addresses)
            warn_local_address_absent(t, *host_addresses, out);
        if (t.mode == netlink::Mode::tunnel && !t.interface)
            for (bool local : {true, false})
                warn_subnets_holding_endpoint(t, local, out);
    }
    return out;
}

} // namespace xfrmctl::model
