#include "context.hpp"
#include "render.hpp"
#include "xfrmctl/engine/executor.hpp"
#include "xfrmctl/engine/planning.hpp"
#include "xfrmctl/state/store.hpp"

namespace xfrmctl::cli {

void print_outcome(const GlobalOptions& g, const plan::Plan& plan, const engine::ApplyReport* report, bool diff);

namespace {

// Nothing for the kernel and nothing to note: then nothing is written at all.
bool idle(const plan::Plan& plan)
{
    for (const auto& t : plan.tunnels)
        if (!t.blocked() && (!t.changes.empty() || !t.stale.empty() || !t.adopted_sas.empty() || !t.adopted_policies.empty()))
            return false;
    return true;
}

} // namespace

int run_apply(const GlobalOptions& g, bool check, bool diff)
{
    if (check)
        return run_plan(g, diff);
    auto defs = engine::load(g.definitions);
    if (!defs)
        return report_error(g, defs.error());
    auto store = state::Store::open_for_writing(g.state_dir);
    if (!store)
        return report_error(g, store.error());
    auto kernel = netlink::Kernel::open();
    if (!kernel)
        return report_error(g, kernel.error());
    auto tables = kernel->tables();
    if (!tables)
        return report_error(g, tables.error());
    plan::Plan plan = engine::plan_apply(*defs, *tables, store->ledger, store->history);
    if (idle(plan)) {
        print_outcome(g, plan, nullptr, diff);
        return plan.has_refusals() ? kError : kOk;
    }
    auto report = engine::execute(plan, *kernel, *store);
    if (!report)
        return report_error(g, report.error());
    print_outcome(g, plan, &*report, diff);
    return (plan.has_refusals() || report->failed()) ? kError : kOk;
}

} // namespace xfrmctl::cli
