#include "context.hpp"
#include "xfrmctl/engine/executor.hpp"
#include "xfrmctl/engine/planning.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/state/store.hpp"

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

} // namespace

int run_down(const GlobalOptions& g, const std::vector<std::string>& names, bool all)
{
    auto store = state::Store::open_for_writing(g.state_dir);
    if (!store)
        return report_error(g, store.error());
    auto chosen = choose(g, store->ledger, names, all);
    if (!chosen)
        return report_error(g, chosen.error());
    auto kernel = snapshot_kernel();
    if (!kernel)
        return report_error(g, kernel.error());
    auto links = engine::read_links(kernel->links, model::Definitions{}, store->ledger);
    if (!links)
        return report_error(g, links.error());
    plan::Plan plan = plan::plan_removal(*chosen, store->ledger, kernel->tables, *links);
    auto report = engine::execute(plan, kernel->kernel, kernel->links, *store);
    if (!report)
        return report_error(g, report.error());
    if (auto defs = model::load_definitions(g.definitions))
        reconcile_encap(g, *defs, store->ledger);
    print_outcome(g, plan, &*report, false);
    return report->failed() ? kError : kOk;
}

} // namespace xfrmctl::cli
