#include "context.hpp"
#include "xfrmctl/report/render.hpp"
#include "xfrmctl/engine/encap_holder.hpp"
#include "xfrmctl/engine/planning.hpp"
#include "xfrmctl/engine/status.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/state/store.hpp"

#include <ctime>
#include <iostream>

namespace xfrmctl::cli {

namespace {

Status keep_only(std::vector<engine::TunnelStatus>& all, const std::vector<std::string>& names)
{
    if (names.empty())
        return {};
    std::vector<engine::TunnelStatus> chosen;
    for (const auto& name : names) {
        auto it = std::find_if(all.begin(), all.end(), [&](const auto& s) { return s.name == name; });
        if (it == all.end())
            return fail("no tunnel named \"" + name + "\" is defined");
        chosen.push_back(*it);
    }
    all = std::move(chosen);
    return {};
}

} // namespace

int run_status(const GlobalOptions& g, const std::vector<std::string>& names, bool prometheus)
{
    // Status needs no key material: it never reads the key files.
    auto defs = model::load_definitions(g.definitions);
    if (!defs)
        return report_error(g, defs.error());
    // A device gone since apply is for status to report, not an error.
    auto traits = check_kernel(g, *defs, engine::CacheUse::read_only, false);
    if (!traits)
        return report_error(g, traits.error());
    auto local = open_local(g, false);
    if (!local)
        return report_error(g, local.error());
    auto tables = local->kernel.tables();
    if (!tables)
        return report_error(g, tables.error());
    const state::Store* store = &local->store;
    auto links = engine::read_links(local->links, *defs, store->ledger);
    if (!links)
        return report_error(g, links.error());
    auto seen = state::Observations::load(g.state_dir);
    std::set<std::uint16_t> held;
    for (const auto& port : engine::needed_encap_ports(*defs, store->ledger))
        if (engine::holder_running(port, g.state_dir))
            held.insert(port.port);
    auto tunnels = engine::tunnel_status({*defs, store->ledger, *tables, *links, *traits, held}, seen,
                                         static_cast<std::uint64_t>(std::time(nullptr)));
    if (std::filesystem::is_directory(g.state_dir))
        (void)seen.save(g.state_dir); // only a hint for next time
    if (auto ok = keep_only(tunnels, names); !ok)
        return report_error(g, ok.error());
    auto host = engine::read_xfrm_stat();
    if (prometheus)
        std::cout << report::prometheus(tunnels, host);
    else if (g.json)
        std::cout << report::status_json(tunnels, host).dump(2) << "\n";
    else
        report::print_status(std::cout, tunnels, host);
    for (const auto& t : tunnels)
        if (t.health != engine::Health::up)
            return kNotUp;
    return kOk;
}

} // namespace xfrmctl::cli
