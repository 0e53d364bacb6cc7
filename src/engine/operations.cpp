#include "xfrmctl/engine/operations.hpp"

namespace xfrmctl::engine {

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

namespace {

Result<Outcome> carry_out(plan::Plan plan, Writer& w, bool check)
{
    Outcome outcome{std::move(plan), std::nullopt};
    if (check || idle(outcome.plan))
        return outcome;
    auto report = execute(outcome.plan, w.kernel, w.links, w.store);
    if (!report)
        return fail(report.error());
    outcome.report = std::move(*report);
    return outcome;
}

} // namespace

Result<Outcome> apply(const Definitions& defs, Writer& w, const plan::KernelTraits& traits, std::int64_t now, bool check,
                      const std::set<std::string>& held_down)
{
    auto tables = w.kernel.tables();
    if (!tables)
        return fail(tables.error());
    auto links = read_links(w.links, defs.tunnels, w.store.ledger);
    if (!links)
        return fail(links.error());
    return carry_out(plan_apply(defs, *tables, *links, w.store.ledger, w.store.history, traits, now, held_down), w, check);
}

Result<Outcome> take_down(const std::vector<std::string>& names, Writer& w)
{
    auto tables = w.kernel.tables();
    if (!tables)
        return fail(tables.error());
    auto links = read_links(w.links, model::Definitions{}, w.store.ledger);
    if (!links)
        return fail(links.error());
    return carry_out(plan::plan_removal(names, w.store.ledger, *tables, *links), w, false);
}

} // namespace xfrmctl::engine
