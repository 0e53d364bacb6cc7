#include "context.hpp"
#include "xfrmctl/report/render.hpp"

#include <ctime>
#include <iostream>

namespace xfrmctl::cli {

// Plan (check) or apply, here: the daemon, when it runs, is asked first
// (see main.cpp).
int run_apply(const GlobalOptions& g, bool check, bool diff)
{
    auto defs = engine::load(g.definitions);
    if (!defs)
        return report_error(g, defs.error());
    auto traits = check_kernel(g, defs->tunnels);
    if (!traits)
        return report_error(g, traits.error());
    auto local = open_local(g, !check);
    if (!local)
        return report_error(g, local.error());
    engine::Writer writer = local->writer();
    auto outcome = engine::apply(*defs, writer, *traits, static_cast<std::int64_t>(std::time(nullptr)), check);
    if (!outcome)
        return report_error(g, outcome.error());
    if (!check)
        reconcile_encap(g, defs->tunnels, local->store.ledger);
    const engine::ApplyReport* report = outcome->report ? &*outcome->report : nullptr;
    report::print_outcome(std::cout, std::cerr, g.json, outcome->plan, report, diff);
    if (outcome->plan.has_refusals() || (report && report->failed()))
        return kError;
    return check && outcome->plan.has_changes() ? kPending : kOk;
}

int run_plan(const GlobalOptions& g, bool diff) { return run_apply(g, true, diff); }

} // namespace xfrmctl::cli
