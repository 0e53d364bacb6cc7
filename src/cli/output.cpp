// What the commands share: errors at the edge, the kernel snapshot, and the
// printing of plans and their outcome.
#include "context.hpp"
#include "render.hpp"
#include "xfrmctl/engine/capabilities.hpp"
#include "xfrmctl/engine/encap_holder.hpp"

#include <ctime>
#include <iostream>

namespace xfrmctl::cli {

int report_error(const GlobalOptions& g, const Error& e, nlohmann::json extra)
{
    std::cerr << "xfrmctl: " << e.message << "\n";
    if (g.json) {
        extra["error"] = e.message;
        if (!extra.contains("changed"))
            extra["changed"] = false;
        std::cout << extra.dump(2) << "\n";
    }
    return kError;
}

void warn(const std::string& message) { std::cerr << "xfrmctl: warning: " << message << "\n"; }

Result<KernelSnapshot> snapshot_kernel()
{
    auto kernel = netlink::Kernel::open();
    if (!kernel)
        return fail(kernel.error());
    auto links = netlink::Links::open();
    if (!links)
        return fail(links.error());
    auto tables = kernel->tables();
    if (!tables)
        return fail(tables.error());
    return KernelSnapshot{std::move(*kernel), std::move(*links), std::move(*tables)};
}

Result<plan::KernelTraits> check_kernel(const GlobalOptions& g, const model::Definitions& defs)
{
    if (g.no_probe) // modern kernels: XFRM interfaces, SAs without a direction
        return plan::KernelTraits{false, true, false, false, false, false};
    auto caps = engine::probe_kernel(engine::needed_transforms(defs));
    if (!caps)
        return fail(caps.error());
    if (auto ok = engine::check_support(defs, *caps); !ok)
        return fail(ok.error());
    return caps->traits;
}

Result<Prepared> prepare_apply(const GlobalOptions& g, bool for_writing)
{
    auto defs = engine::load(g.definitions);
    if (!defs)
        return fail(defs.error());
    auto traits = check_kernel(g, defs->tunnels);
    if (!traits)
        return fail(traits.error());
    auto store = for_writing ? state::Store::open_for_writing(g.state_dir) : state::Store::open_for_reading(g.state_dir);
    if (!store)
        return fail(store.error());
    auto kernel = snapshot_kernel();
    if (!kernel)
        return fail(kernel.error());
    auto links = engine::read_links(kernel->links, defs->tunnels, store->ledger);
    if (!links)
        return fail(links.error());
    plan::Plan plan = engine::plan_apply(*defs, kernel->tables, *links, store->ledger, store->history, *traits,
                                         static_cast<std::int64_t>(std::time(nullptr)));
    return Prepared{std::move(*defs), std::move(*store), std::move(*kernel), std::move(*links), std::move(plan)};
}

void reconcile_encap(const GlobalOptions& g, const model::Definitions& defs, const state::Ledger& ledger)
{
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto report = engine::reconcile_holders(engine::needed_encap_ports(defs, ledger), g.state_dir, self);
    for (const auto& w : report.warnings)
        warn(w);
}

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

} // namespace xfrmctl::cli
