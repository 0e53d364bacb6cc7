#include "xfrmctl/engine/operations.hpp"

#include <set>

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

// Keys that a killed run left pending are judged against the kernel they
// were sent to before anything is planned (state::KeyHistory::settle), and
// the verdict is kept at once: an SA found now may be gone by the next run.
Status settle_pending_keys(Writer& w, const netlink::Tables& tables, bool check)
{
    if (!w.store.history.has_pending())
        return {};
    std::set<std::string> present;
    for (const auto& sa : tables.sas)
        present.insert(sa.id.key());
    bool changed = w.store.history.settle([&](const std::string& sa) { return present.contains(sa); });
    return changed && !check ? w.store.save() : Status{};
}

} // namespace

Result<Outcome> apply(const Definitions& defs, Writer& w, const plan::KernelTraits& traits, std::int64_t now, bool check,
                      const std::set<std::string>& held_down)
{
    auto tables = w.kernel.tables();
    if (!tables)
        return fail(tables.error());
    if (auto ok = settle_pending_keys(w, *tables, check); !ok)
        return fail(ok.error());
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
    if (auto ok = settle_pending_keys(w, *tables, false); !ok)
        return fail(ok.error());
    auto links = read_links(w.links, model::Definitions{}, w.store.ledger);
    if (!links)
        return fail(links.error());
    return carry_out(plan::plan_removal(names, w.store.ledger, *tables, *links), w, false);
}

} // namespace xfrmctl::engine
