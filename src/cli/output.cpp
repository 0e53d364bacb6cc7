// What the commands share: errors at the edge, opening the kernel and the
// state, what the kernel supports, and the ESP-in-UDP holders.
#include "context.hpp"
#include "xfrmctl/engine/capabilities.hpp"
#include "xfrmctl/engine/capability_cache.hpp"
#include "xfrmctl/engine/encap_holder.hpp"

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

std::vector<model::Warning> definition_warnings(const model::Definitions& defs)
{
    auto links = netlink::Links::open();
    return engine::definition_warnings(defs, links ? &*links : nullptr);
}

Result<Local> open_local(const GlobalOptions& g, bool for_writing)
{
    auto store = for_writing ? state::Store::open_for_writing(g.state_dir, 30, g.forget_installed_keys)
                             : state::Store::open_for_reading(g.state_dir, g.forget_installed_keys);
    if (!store)
        return fail(store.error());
    auto kernel = netlink::Kernel::open();
    if (!kernel)
        return fail(kernel.error());
    auto links = netlink::Links::open();
    if (!links)
        return fail(links.error());
    return Local{std::move(*store), std::move(*kernel), std::move(*links)};
}

Result<plan::KernelTraits> check_kernel(const GlobalOptions& g, const model::Definitions& defs, engine::CacheUse use,
                                        bool strict_devices)
{
    plan::KernelTraits traits = engine::assumed_traits();
    if (!g.no_probe) {
        auto answer = engine::probe_with_cache(engine::needed_transforms(defs), g.socket.parent_path(), use);
        if (!answer)
            return fail(answer.error());
        if (answer->warning)
            warn(*answer->warning);
        if (auto ok = engine::check_support(defs, answer->caps); !ok)
            return fail(ok.error());
        traits = answer->caps.traits;
    }
    if (auto ok = engine::find_offload_devices(defs, traits, strict_devices); !ok)
        return fail(ok.error());
    return traits;
}

void reconcile_encap(const GlobalOptions& g, const model::Definitions& defs, const state::Ledger& ledger)
{
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    auto report = engine::reconcile_holders(engine::needed_encap_ports(defs, ledger), g.state_dir, self);
    for (const auto& w : report.warnings)
        warn(w);
}

} // namespace xfrmctl::cli
