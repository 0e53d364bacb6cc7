#include "context.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/report/render.hpp"

#include <iostream>

namespace xfrmctl::cli {

namespace {

// Every name must be a defined or an owned tunnel; --all means every owned one.
Result<std::vector<std::string>> choose(const GlobalOptions& g, const state::Ledger& ledger,
                                        const std::vector<std::string>& names, bool all)
{
    if (all == !names.empty())
        return fail("down takes tunnel names or --all (not both)");
    std::vector<std::string> chosen;
    if (all) {
        for (const auto& [name, owned] : ledger.tunnels())
            if (name != plan::kHostTunnel) // bypass policies are not a tunnel
                chosen.push_back(name);
        return chosen;
    }
    auto defs = model::load_definitions(g.definitions);
    for (const auto& name : names) {
        bool defined = defs && defs->find(name);
        if (!defined && !ledger.find(name))
            return fail("no tunnel named \"" + name + "\" is defined or installed");
        chosen.push_back(name);
    }
    return chosen;
}

// What down --all leaves owned: the host section's bypass policies and
// default policy are not a tunnel, and stay until the definitions drop them.
void warn_left(const state::Ledger& ledger)
{
    if (ledger.find(plan::kHostTunnel) || ledger.saved_default())
        warn("the host section's bypass policies and default policy are not a tunnel and stay in the kernel: remove "
             "the host section from the definitions and apply to remove them");
    for (const auto& [name, owned] : ledger.tunnels())
        if (name != plan::kHostTunnel && !owned.empty())
            warn("tunnel " + name + ": entries are still owned in the kernel (see the errors above)");
}

} // namespace

int run_down(const GlobalOptions& g, const std::vector<std::string>& names, bool all)
{
    auto local = open_local(g, true);
    if (!local)
        return report_error(g, local.error());
    auto chosen = choose(g, local->store.ledger, names, all);
    if (!chosen)
        return report_error(g, chosen.error());
    engine::Writer writer = local->writer();
    auto outcome = engine::take_down(*chosen, writer);
    if (!outcome)
        return report_error(g, outcome.error());
    if (auto defs = model::load_definitions(g.definitions))
        reconcile_encap(g, *defs, local->store.ledger);
    const engine::ApplyReport* report = outcome->report ? &*outcome->report : nullptr;
    report::print_outcome(std::cout, std::cerr, g.json, outcome->plan, report, false);
    if (all)
        warn_left(local->store.ledger);
    return report && report->failed() ? kError : kOk;
}

} // namespace xfrmctl::cli
