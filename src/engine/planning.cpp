#include "xfrmctl/engine/planning.hpp"

#include "xfrmctl/netlink/links.hpp"

#include <algorithm>

namespace xfrmctl::engine {

Result<Definitions> load(const std::filesystem::path& path)
{
    auto tunnels = model::load_definitions(path);
    if (!tunnels)
        return fail(tunnels.error());
    auto keys = model::load_keys(*tunnels);
    if (!keys)
        return fail(keys.error());
    return Definitions{std::move(*tunnels), std::move(*keys)};
}

namespace {

std::set<std::string> link_names(const model::Definitions& defs, const state::Ledger& ledger)
{
    std::set<std::string> names;
    for (const auto& t : defs.tunnels)
        if (t.present && t.interface)
            names.insert(t.interface->name);
    for (const auto& [tunnel, owned] : ledger.tunnels())
        for (const auto& key : owned.interface)
            if (key.starts_with("link "))
                names.insert(key.substr(5));
    return names;
}

} // namespace

Result<plan::LinkSnapshot> read_links(netlink::Links& links, const model::Definitions& defs, const state::Ledger& ledger)
{
    plan::LinkSnapshot snap;
    std::map<int, std::string> names_by_index;
    for (const auto& name : link_names(defs, ledger)) {
        auto state = links.find(name);
        if (!state)
            return fail(state.error());
        if (!*state)
            continue;
        auto addresses = links.addresses((*state)->index);
        if (!addresses)
            return fail(addresses.error());
        snap.addresses[name] = std::move(*addresses);
        names_by_index[(*state)->index] = name;
        snap.links[name] = **state;
    }
    auto routes = links.routes();
    if (!routes)
        return fail(routes.error());
    for (const auto& r : *routes)
        if (auto it = names_by_index.find(r.ifindex); it != names_by_index.end())
            snap.routes.insert(plan::route_key(it->second, r.destination));
    return snap;
}

plan::Plan plan_apply(const Definitions& defs, const netlink::Tables& kernel, const plan::LinkSnapshot& links,
                      const state::Ledger& ledger, const state::KeyHistory& history, const plan::KernelTraits& traits,
                      std::int64_t now, const std::set<std::string>& held_down)
{
    std::vector<std::string> names;
    std::set<std::string> absent;
    auto wanted = [&](const model::Tunnel& t) { return t.present && !held_down.contains(t.name); };
    for (const auto& t : defs.tunnels.tunnels)
        (wanted(t) ? names.push_back(t.name) : (void)absent.insert(t.name));
    auto reqids = plan::assign_reqids(names, ledger, kernel);
    const std::set<std::string>& retired = ledger.retired();
    std::vector<plan::DesiredTunnel> desired;
    for (const auto& t : defs.tunnels.tunnels)
        if (wanted(t))
            desired.push_back(plan::compile_tunnel(t, reqids.at(t.name), {.keys = &defs.keys, .traits = traits, .now = now, .retired = &retired}));
    if (defs.tunnels.host)
        desired.push_back(plan::compile_host(*defs.tunnels.host));
    plan::Plan plan = plan::make_plan({desired, absent, ledger, kernel, history, links});
    plan.host = plan::plan_host(defs.tunnels.host, desired, kernel, ledger);
    return plan;
}

std::vector<model::Warning> definition_warnings(const model::Definitions& defs, netlink::Links* links)
{
    auto addresses = links ? links->all_addresses() : Result<std::vector<Prefix>>(fail(Error{"no links"}));
    return model::definition_warnings(defs, addresses ? &*addresses : nullptr); // unknown: not checked
}

void add_definition_warnings(plan::Plan& plan, const std::vector<model::Warning>& warnings)
{
    for (const auto& w : warnings) {
        auto tp = std::ranges::find(plan.tunnels, w.tunnel, &plan::TunnelPlan::name);
        if (tp != plan.tunnels.end()) // a present tunnel always has its plan
            tp->warnings.push_back(w.what.path + ": " + w.what.message);
    }
}

} // namespace xfrmctl::engine
