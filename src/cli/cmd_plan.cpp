#include "context.hpp"

namespace xfrmctl::cli {

int run_plan(const GlobalOptions& g, bool diff)
{
    auto prepared = prepare_apply(g, false);
    if (!prepared)
        return report_error(g, prepared.error());
    const plan::Plan& plan = prepared->plan;
    print_outcome(g, plan, nullptr, diff);
    if (plan.has_refusals())
        return kError;
    return plan.has_changes() ? kPending : kOk;
}

} // namespace xfrmctl::cli
