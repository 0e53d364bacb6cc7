#include "context.hpp"
#include "xfrmctl/engine/planning.hpp"

#include <iostream>

namespace xfrmctl::cli {

int run_validate(const GlobalOptions& g)
{
    auto defs = engine::load(g.definitions);
    if (!defs)
        return report_error(g, defs.error(), {{"valid", false}});
    if (auto traits = check_kernel(g, defs->tunnels, engine::CacheUse::read_only); !traits)
        return report_error(g, traits.error(), {{"valid", false}});
    std::size_t present = 0;
    for (const auto& t : defs->tunnels.tunnels)
        present += t.present;
    std::vector<std::string> warnings;
    for (const auto& w : definition_warnings(defs->tunnels))
        warnings.push_back(w.what.str());
    for (const auto& w : warnings)
        warn(w);
    if (g.json)
        std::cout << nlohmann::json{{"valid", true}, {"tunnels", present}, {"keys", defs->keys.size()}, {"warnings", warnings}}
                         .dump(2)
                  << "\n";
    else
        std::cout << g.definitions.string() << ": valid: " << present << " tunnel" << (present == 1 ? "" : "s") << ", "
                  << defs->keys.size() << " key file" << (defs->keys.size() == 1 ? "" : "s") << " checked\n";
    return kOk;
}

} // namespace xfrmctl::cli
