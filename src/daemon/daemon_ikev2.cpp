// Mark and sweep for negotiated SAs: an SA with an ikev2 tunnel's reqid
// that charon does not hold was left by a charon that died (its successor
// negotiated new ones). It would carry nothing more and only live until its
// hard lifetime; it goes now.
#include "daemon.hpp"

#include <fmt/format.h>

namespace xfrmctl::daemon {

namespace {

constexpr std::int64_t kStaleAfter = 30; // seconds: never an SA charon is installing as we look

} // namespace

void Daemon::sweep_stale_negotiated(std::int64_t now)
{
    if (!defs_)
        return;
    std::vector<netlink::SaEntry> sas;
    bool read = false;
    for (const auto& t : defs_->tunnels.tunnels) {
        const state::OwnedTunnel* owned = store_.ledger.find(t.name);
        auto known = t.negotiated() && owned ? ike_.charon_spis(t.name) : std::nullopt;
        if (!known)
            continue;
        if (!read) {
            auto dump = kernel_.sas();
            if (!dump)
                return;
            sas = std::move(*dump);
            read = true;
        }
        for (const auto& sa : sas) {
            auto age = now - static_cast<std::int64_t>(sa.counters.add_time);
            if (!engine::negotiated_direction(sa, t, owned->reqid) || known->contains(sa.id.spi) || age < kStaleAfter)
                continue;
            netlink::Request del = netlink::build_sa_delete(sa.id);
            auto acks = kernel_.execute(std::span(&del, 1));
            journal_.event("stale-sa-removed", {{"tunnel", t.name}, {"spi", fmt::format("0x{:08x}", sa.id.spi)},
                                                {"reason", acks ? "charon does not hold it (left by a charon that stopped)"
                                                                : "could not remove: " + acks.error().message}});
        }
    }
}

} // namespace xfrmctl::daemon
