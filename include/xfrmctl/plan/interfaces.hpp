// Planning a route-based tunnel's interface: its link, addresses and routes.
#pragma once

#include "xfrmctl/netlink/links.hpp"
#include "xfrmctl/plan/desired.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace xfrmctl::plan {

// The links that matter (those the definitions name and those owned), with
// their addresses, and this program's routes through them, as identity keys.
struct LinkSnapshot {
    std::map<std::string, netlink::LinkState> links;
    std::map<std::string, std::vector<Prefix>> addresses; // by link name
    std::set<std::string> routes;                         // route_key()
};

std::string link_key(const std::string& name);
std::string address_key(const std::string& link, const Prefix& address);
std::string route_key(const std::string& link, const Prefix& destination);

// The same link for our purposes: an MTU of 0 wanted means any.
bool same_link(const netlink::LinkSpec& have, const netlink::LinkSpec& want);

// Every interface key a desired tunnel wants.
void wanted_interface_keys(const DesiredTunnel& d, std::set<std::string>& keys);

} // namespace xfrmctl::plan
