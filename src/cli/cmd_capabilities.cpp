#include "context.hpp"
#include "xfrmctl/engine/capabilities.hpp"
#include "xfrmctl/engine/capability_cache.hpp"

#include <fmt/format.h>

#include <iostream>

namespace xfrmctl::cli {

namespace {

nlohmann::json as_json(const engine::Capabilities& caps)
{
    nlohmann::json transforms = nlohmann::json::array();
    for (const auto& r : caps.transforms)
        transforms.push_back({{"proposal", r.probe.proposal->keyword},
                              {"protocol", r.probe.protocol == model::Protocol::esp ? "esp" : "ah"},
                              {"family", r.probe.family == AF_INET ? "ipv4" : "ipv6"},
                              {"esn", r.probe.esn},
                              {"supported", r.error == 0},
                              {"reason", r.error ? r.reason : ""}});
    const auto& t = caps.traits;
    return {{"transforms", transforms},
            {"sa_direction", t.sa_dir},
            {"xfrm_interfaces", t.xfrm_interfaces},
            {"vti", t.vti},
            {"vti6", t.vti6},
            {"ipcomp_ipv4", t.ipcomp4},
            {"ipcomp_ipv6", t.ipcomp6},
            {"crypto_offload", t.crypto_offload},
            {"packet_offload", t.packet_offload}};
}

void print(const engine::Capabilities& caps)
{
    for (const auto& r : caps.transforms)
        std::cout << fmt::format("{:<44} {}\n", r.probe.describe(), r.error ? "no: " + r.reason : "yes");
    const auto& t = caps.traits;
    auto yes = [](bool b) { return b ? "yes" : "no"; };
    std::cout << fmt::format("{:<44} {}\n", "SA direction (XFRMA_SA_DIR)", yes(t.sa_dir))
              << fmt::format("{:<44} {}\n", "XFRM interfaces", yes(t.xfrm_interfaces))
              << fmt::format("{:<44} {}\n", "VTI (IPv4)", yes(t.vti)) << fmt::format("{:<44} {}\n", "VTI (IPv6)", yes(t.vti6))
              << fmt::format("{:<44} {}\n", "IPComp (deflate) over IPv4", yes(t.ipcomp4))
              << fmt::format("{:<44} {}\n", "IPComp (deflate) over IPv6", yes(t.ipcomp6))
              << fmt::format("{:<44} {}\n", "ESP crypto offload (XFRMA_OFFLOAD_DEV)", yes(t.crypto_offload))
              << fmt::format("{:<44} {}\n", "ESP packet offload (XFRM_OFFLOAD_PACKET)", yes(t.packet_offload));
}

} // namespace

int run_capabilities(const GlobalOptions& g)
{
    // The operator asks the kernel itself: always a fresh probe, which
    // refreshes the cache the other commands answer from.
    auto answer = engine::probe_with_cache(engine::every_transform(), g.socket.parent_path(), engine::CacheUse::refresh);
    if (!answer)
        return report_error(g, answer.error());
    if (answer->warning)
        warn(*answer->warning);
    if (g.json)
        std::cout << as_json(answer->caps).dump(2) << "\n";
    else
        print(answer->caps);
    return kOk;
}

} // namespace xfrmctl::cli
