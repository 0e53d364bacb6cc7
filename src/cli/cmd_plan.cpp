#include "context.hpp"
#include "render.hpp"
#include "xfrmctl/engine/planning.hpp"
#include "xfrmctl/state/store.hpp"

#include <iostream>

namespace xfrmctl::cli {

void print_outcome(const GlobalOptions& g, const plan::Plan& plan, const engine::ApplyReport* report, bool diff)
{
    if (g.json)
        std::cout << plan_json(plan, report).dump(2) << "\n";
    else
        print_plan(std::cout, plan, report, diff);
    for (const auto& w : plan_warnings(plan))
        warn(w);
    for (const auto& e : plan_errors(plan, report))
        std::cerr << "xfrmctl: " << e << "\n";
}

int run_plan(const GlobalOptions& g, bool diff)
{
    auto defs = engine::load(g.definitions);
    if (!defs)
        return report_error(g, defs.error());
    auto store = state::Store::open_for_reading(g.state_dir);
    if (!store)
        return report_error(g, store.error());
    auto kernel = netlink::Kernel::open();
    if (!kernel)
        return report_error(g, kernel.error());
    auto tables = kernel->tables();
    if (!tables)
        return report_error(g, tables.error());
    plan::Plan plan = engine::plan_apply(*defs, *tables, store->ledger, store->history);
    print_outcome(g, plan, nullptr, diff);
    if (plan.has_refusals())
        return kError;
    return plan.has_changes() ? kPending : kOk;
}

} // namespace xfrmctl::cli
