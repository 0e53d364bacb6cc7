#include "xfrmctl/plan/interfaces.hpp"

#include "interface_planner.hpp"

#include <fmt/format.h>

#include <sstream>

namespace xfrmctl::plan {

std::string link_key(const std::string& name) { return "link " + name; }

std::string address_key(const std::string& link, const Prefix& address) { return "address " + address.str() + " on " + link; }

std::string route_key(const std::string& link, const Prefix& destination)
{
    return "route " + destination.str() + " dev " + link;
}

bool same_link(const netlink::LinkSpec& have, const netlink::LinkSpec& want)
{
    return have.kind == want.kind && have.id == want.id && have.local == want.local && have.remote == want.remote &&
           (want.mtu == 0 || have.mtu == want.mtu);
}

void wanted_interface_keys(const DesiredTunnel& d, std::set<std::string>& keys)
{
    if (!d.interface)
        return;
    const std::string& name = d.interface->link.name;
    keys.insert(link_key(name));
    for (const auto& a : d.interface->addresses)
        keys.insert(address_key(name, a));
    for (const auto& r : d.interface->routes)
        keys.insert(route_key(name, r));
}

namespace {

Change link_change(Op op, const netlink::LinkSpec& spec, int phase, std::string reason)
{
    Change c;
    c.op = op;
    c.phase = phase;
    c.link = spec;
    c.reason = std::move(reason);
    return c;
}

Change prefix_change(Op op, const std::string& link, const Prefix& prefix, int phase, std::string reason)
{
    Change c;
    c.op = op;
    c.phase = phase;
    c.link_name = link;
    c.prefix = prefix;
    c.reason = std::move(reason);
    return c;
}

bool contains(const std::vector<Prefix>& list, const Prefix& p) { return std::find(list.begin(), list.end(), p) != list.end(); }

struct PrefixKey {
    bool route;
    Prefix prefix;
    std::string link;
};

// The inverse of address_key() and route_key(): "address P on L", "route P dev L".
std::optional<PrefixKey> parse_prefix_key(const std::string& key)
{
    std::istringstream words(key);
    std::string kind, prefix, joiner, link;
    if (!(words >> kind >> prefix >> joiner >> link))
        return std::nullopt;
    auto p = Prefix::parse(prefix);
    bool route = kind == "route" && joiner == "dev";
    if (!p || (!route && !(kind == "address" && joiner == "on")))
        return std::nullopt;
    return PrefixKey{route, *p, link};
}

} // namespace

// Returns true when the link is new or replaced: then its addresses and
// routes are all to be added again.
bool InterfacePlanner::plan_link(const DesiredInterface& want)
{
    const netlink::LinkSpec& spec = want.link;
    auto it = links_.links.find(spec.name);
    if (it == links_.links.end()) {
        out_.changes.push_back(link_change(Op::add_link, spec, 1, "not in the kernel"));
        return true;
    }
    // A link of a kind this program never makes is someone else's, whatever
    // the ledger remembers of that name.
    auto owner = ledger_.interface_owner(link_key(spec.name));
    if (!owner || !it->second.known_kind) {
        out_.refusals.push_back(fmt::format("{}/name: a link named {} already exists and xfrmctl did not make it; "
                                            "remove it or choose another name",
                                            want.origin, spec.name));
        return false;
    }
    if (*owner != out_.name)
        out_.adopted_interface.insert(link_key(spec.name));
    if (same_link(it->second.spec, spec))
        return false;
    out_.changes.push_back(link_change(Op::remove_link, it->second.spec, 1, "replaced: its kind, id, endpoints or MTU changed"));
    out_.changes.push_back(link_change(Op::add_link, spec, 1, "replaces the link of the same name"));
    return true;
}

void InterfacePlanner::plan(const DesiredInterface& want)
{
    bool fresh = plan_link(want);
    if (!out_.refusals.empty())
        return;
    const std::string& name = want.link.name;
    const auto& have = links_.addresses.contains(name) ? links_.addresses.at(name) : std::vector<Prefix>{};
    for (const auto& a : want.addresses)
        if (fresh || !contains(have, a))
            out_.changes.push_back(prefix_change(Op::add_address, name, a, 1, "not on the link"));
    for (const auto& r : want.routes)
        if (fresh || !links_.routes.contains(route_key(name, r)))
            out_.changes.push_back(prefix_change(Op::add_route, name, r, 1, "not in the routing table"));
}

// What a tunnel owns of interfaces but nobody wants any more. A removed link
// takes its addresses and routes with it; those are only forgotten.
void InterfacePlanner::sweep(const state::OwnedTunnel& owned, const std::set<std::string>& wanted, const std::string& reason)
{
    std::set<std::string> removed_links;
    for (const auto& key : owned.interface) {
        if (wanted.contains(key) || !key.starts_with("link "))
            continue;
        std::string name = key.substr(5);
        auto it = links_.links.find(name);
        if (it == links_.links.end() || !it->second.known_kind) { // gone, or someone else's now
            out_.stale.insert(key);
            continue;
        }
        out_.changes.push_back(link_change(Op::remove_link, it->second.spec, 2, reason));
        removed_links.insert(name);
    }
    for (const auto& key : owned.interface)
        if (!wanted.contains(key) && !key.starts_with("link "))
            sweep_prefix(key, removed_links, reason);
}

void InterfacePlanner::sweep_prefix(const std::string& key, const std::set<std::string>& removed_links, const std::string& reason)
{
    auto parsed = parse_prefix_key(key);
    bool present = parsed && (parsed->route ? links_.routes.contains(key)
                                            : links_.addresses.contains(parsed->link) &&
                                                  contains(links_.addresses.at(parsed->link), parsed->prefix));
    if (!present || removed_links.contains(parsed->link)) {
        out_.stale.insert(key);
        return;
    }
    out_.changes.push_back(
        prefix_change(parsed->route ? Op::remove_route : Op::remove_address, parsed->link, parsed->prefix, 2, reason));
}

} // namespace xfrmctl::plan
