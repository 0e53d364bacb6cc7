#include "context.hpp"
#include "xfrmctl/report/render.hpp"

#include <ctime>
#include <iostream>

namespace xfrmctl::cli {

namespace {

// Here, without xfrmd, nobody negotiates: the policies go in and hold the
// traffic back (fail closed) until xfrmd runs.
void warn_negotiated(const model::Definitions& defs)
{
    for (const auto& t : defs.tunnels)
        if (t.present && t.negotiated())
            std::cerr << "xfrmctl: warning: tunnel " << t.name
                      << ": ikev2 keys are negotiated by xfrmd, which is not running: its traffic is dropped until "
                         "xfrmd starts\n";
}

} // namespace

// Plan (check) or apply, here: the daemon, when it runs, is asked first
// (see main.cpp).
int run_apply(const GlobalOptions& g, bool check, bool diff)
{
    auto defs = engine::load(g.definitions);
    if (!defs)
        return report_error(g, defs.error());
    auto traits = check_kernel(g, defs->tunnels, check ? engine::CacheUse::read_only : engine::CacheUse::read_write);
    if (!traits)
        return report_error(g, traits.error());
    auto local = open_local(g, !check);
    if (!local)
        return report_error(g, local.error());
    engine::Writer writer = local->writer();
    auto outcome = engine::apply(*defs, writer, *traits, static_cast<std::int64_t>(std::time(nullptr)), check);
    if (!outcome)
        return report_error(g, outcome.error());
    engine::add_definition_warnings(outcome->plan, engine::definition_warnings(defs->tunnels, &local->links));
    if (!check) {
        reconcile_encap(g, defs->tunnels, local->store.ledger);
        warn_negotiated(defs->tunnels);
    }
    const engine::ApplyReport* report = outcome->report ? &*outcome->report : nullptr;
    report::print_outcome(std::cout, std::cerr, g.json, outcome->plan, report, diff);
    if (outcome->plan.has_refusals() || (report && report->failed()))
        return kError;
    return check && outcome->plan.has_changes() ? kPending : kOk;
}

int run_plan(const GlobalOptions& g, bool diff) { return run_apply(g, true, diff); }

} // namespace xfrmctl::cli
