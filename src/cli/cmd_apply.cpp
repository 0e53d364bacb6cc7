#include "context.hpp"

namespace xfrmctl::cli {

namespace {

// Nothing for the kernel and nothing to note: then nothing is written at all.
bool idle(const plan::Plan& plan)
{
    if (plan.host.changes() || plan.host.save_default || plan.host.forget_default)
        return false;
    for (const auto& t : plan.tunnels)
        if (!t.blocked() && (!t.changes.empty() || !t.stale.empty() || !t.adopted_sas.empty() ||
                             !t.adopted_policies.empty() || !t.adopted_interface.empty()))
            return false;
    return true;
}

} // namespace

int run_apply(const GlobalOptions& g, bool check, bool diff)
{
    if (check)
        return run_plan(g, diff);
    auto prepared = prepare_apply(g, true);
    if (!prepared)
        return report_error(g, prepared.error());
    const plan::Plan& plan = prepared->plan;
    if (idle(plan)) {
        reconcile_encap(g, prepared->definitions.tunnels, prepared->store.ledger);
        print_outcome(g, plan, nullptr, diff);
        return plan.has_refusals() ? kError : kOk;
    }
    auto report = engine::execute(plan, prepared->kernel.kernel, prepared->kernel.links, prepared->store);
    if (!report)
        return report_error(g, report.error());
    reconcile_encap(g, prepared->definitions.tunnels, prepared->store.ledger);
    print_outcome(g, plan, &*report, diff);
    return (plan.has_refusals() || report->failed()) ? kError : kOk;
}

} // namespace xfrmctl::cli
