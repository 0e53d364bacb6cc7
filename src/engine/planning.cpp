#include "xfrmctl/engine/planning.hpp"

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

plan::Plan plan_apply(const Definitions& defs, const netlink::Tables& kernel, const state::Ledger& ledger,
                      const state::KeyHistory& history, const plan::KernelTraits& traits)
{
    std::vector<std::string> names;
    std::set<std::string> absent;
    for (const auto& t : defs.tunnels.tunnels)
        (t.present ? names.push_back(t.name) : (void)absent.insert(t.name));
    auto reqids = plan::assign_reqids(names, ledger, kernel);
    std::vector<plan::DesiredTunnel> desired;
    for (const auto& t : defs.tunnels.tunnels)
        if (t.present)
            desired.push_back(plan::compile_tunnel(t, reqids.at(t.name), &defs.keys, traits));
    return plan::make_plan({desired, absent, ledger, kernel, history});
}

} // namespace xfrmctl::engine
