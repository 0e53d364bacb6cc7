// Each tunnel's health, judged once a second from what the kernel holds
// (engine::tunnel_status), its counters over time, and for tunnels with a
// health check's target, the answers to echo requests sent through it:
//   down      an entry is missing, a key must be rolled, the target has not
//             answered for dead_after, or (with no target) packets have gone
//             out and none come in for dead_after;
//   degraded  one-way for two intervals (packets out, none in), integrity
//             failures rising, or entries differing from the definition;
//   up        otherwise (an idle tunnel is up).
#pragma once

#include "journal.hpp"
#include "prober.hpp"
#include "xfrmctl/engine/status.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xfrmctl::daemon {

struct HealthState {
    engine::Health state = engine::Health::up;
    std::string reason;
    bool operator==(const HealthState&) const = default;
};

struct HealthChange {
    std::string tunnel;
    HealthState before, after;
};

class HealthTracker {
public:
    // Which tunnels have a check, and their probes; keeps what it knew.
    void configure(const model::Definitions& defs, std::int64_t now, Journal& journal);
    void send_probes(std::int64_t now);
    void collect_answers(std::int64_t now);
    std::vector<int> fds() const;
    // The last verdicts, over a status read afresh between two judgements.
    void overlay(std::vector<engine::TunnelStatus>& status) const;

    // Judges every tunnel; writes the verdict into `status` (so that
    // `xfrmctl status` shows it) and returns what changed. key_problems: the
    // tunnels whose SAs were left out for a used key, and why.
    std::vector<HealthChange> judge(std::vector<engine::TunnelStatus>& status,
                                    const std::map<std::string, std::string>& key_problems, std::int64_t now);

private:
    struct Tracked {
        std::optional<model::HealthCheck> check;
        std::optional<Prober> prober;
        std::int64_t last_sent = 0, last_answer = 0;
        std::uint64_t packets_in = 0, packets_out = 0, out_at_last_in = 0, integrity = 0;
        // When a packet went out that nothing has come in after: one-way
        // is measured from there, not from the last packet in (an idle
        // tunnel's first request is not one-way yet).
        std::int64_t unanswered_since = 0;
        bool seen = false;
        HealthState current;
    };
    HealthState verdict(Tracked& t, const engine::TunnelStatus& s, const std::string* key_problem, std::int64_t now);
    void sample(Tracked& t, const engine::TunnelStatus& s, std::int64_t now, bool& integrity_rising);

    std::map<std::string, Tracked> tracked_;
};

} // namespace xfrmctl::daemon
