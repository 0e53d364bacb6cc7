#include "health.hpp"

#include <fmt/format.h>
#include <unistd.h>

namespace xfrmctl::daemon {

void HealthTracker::configure(const model::Definitions& defs, std::int64_t now, Journal& journal)
{
    std::map<std::string, Tracked> next;
    for (const auto& t : defs.tunnels) {
        if (!t.present)
            continue;
        Tracked tracked = tracked_.contains(t.name) ? std::move(tracked_[t.name]) : Tracked{};
        tracked.check = t.health;
        tracked.prober.reset();
        if (t.health && t.health->target) {
            auto source = t.health->source ? t.health->source : local_address_in(t.local.subnets);
            auto id = static_cast<std::uint16_t>(getpid() ^ std::hash<std::string>{}(t.name));
            auto prober = source ? Prober::open(*source, *t.health->target, id)
                                 : Result<Prober>(fail("no address of this host is in the local subnets"));
            if (prober)
                tracked.prober = std::move(*prober);
            else
                journal.error("tunnel " + t.name + ": cannot probe " + t.health->target->str() + ": " + prober.error().message);
        }
        if (!tracked.seen)
            tracked.last_answer = now; // a grace period from the start
        next.emplace(t.name, std::move(tracked));
    }
    tracked_ = std::move(next);
}

void HealthTracker::send_probes(std::int64_t now)
{
    for (auto& [name, t] : tracked_)
        if (t.prober && now - t.last_sent >= t.check->interval) {
            t.last_sent = now;
            (void)t.prober->send_echo(); // an unanswered probe says enough
        }
}

void HealthTracker::collect_answers(std::int64_t now)
{
    for (auto& [name, t] : tracked_)
        if (t.prober && t.prober->drain_answers())
            t.last_answer = now;
}

std::vector<int> HealthTracker::fds() const
{
    std::vector<int> fds;
    for (const auto& [name, t] : tracked_)
        if (t.prober)
            fds.push_back(t.prober->fd());
    return fds;
}

void HealthTracker::sample(Tracked& t, const engine::TunnelStatus& s, std::int64_t now, bool& integrity_rising)
{
    if (!t.seen || s.packets_in != t.packets_in)
        t.out_at_last_in = s.packets_out;
    if (s.packets_out < t.out_at_last_in) // the SAs were replaced (a rekeying): counting starts again
        t.out_at_last_in = s.packets_out;
    if (s.packets_out == t.out_at_last_in)
        t.unanswered_since = 0;
    else if (t.unanswered_since == 0)
        t.unanswered_since = now;
    integrity_rising = t.seen && s.integrity_errors > t.integrity;
    t.packets_in = s.packets_in;
    t.packets_out = s.packets_out;
    t.integrity = s.integrity_errors;
    t.seen = true;
}

HealthState HealthTracker::verdict(Tracked& t, const engine::TunnelStatus& s, const std::string* key_problem, std::int64_t now)
{
    bool integrity_rising = false;
    sample(t, s, now, integrity_rising);
    if (key_problem) // before "SA missing": this is why it is missing
        return {engine::Health::down, "key must be rolled: " + *key_problem};
    if (s.health == engine::Health::down)
        return {engine::Health::down, s.reason};
    if (!t.check)
        return {s.health, s.reason};
    std::uint64_t sent_since_in = t.packets_out - t.out_at_last_in;
    std::int64_t quiet = t.unanswered_since ? now - t.unanswered_since : 0;
    if (t.prober && now - t.last_answer >= t.check->dead_after)
        return {engine::Health::down, fmt::format("no answer from {} for {} s", t.check->target->str(), now - t.last_answer)};
    if (!t.prober && sent_since_in > 0 && quiet >= t.check->dead_after)
        return {engine::Health::down, fmt::format("one-way for {} s: {} packets out, none in", quiet, sent_since_in)};
    if (sent_since_in > 0 && quiet >= 2 * static_cast<std::int64_t>(t.check->interval))
        return {engine::Health::degraded, fmt::format("one-way: {} packets out, none in for {} s", sent_since_in, quiet)};
    if (integrity_rising)
        return {engine::Health::degraded, "integrity failures rising"};
    return {s.health, s.reason};
}

void HealthTracker::overlay(std::vector<engine::TunnelStatus>& status) const
{
    for (auto& s : status)
        if (auto it = tracked_.find(s.name); it != tracked_.end() && it->second.current.state >= s.health) {
            s.health = it->second.current.state; // as grave, and the verdict knows more (a key to roll, say)
            s.reason = it->second.current.reason;
        }
}

std::vector<HealthChange> HealthTracker::judge(std::vector<engine::TunnelStatus>& status,
                                               const std::map<std::string, std::string>& key_problems, std::int64_t now)
{
    std::vector<HealthChange> changes;
    for (auto& s : status) {
        Tracked& t = tracked_[s.name];
        auto problem = key_problems.find(s.name);
        HealthState now_state = verdict(t, s, problem == key_problems.end() ? nullptr : &problem->second, now);
        s.health = now_state.state;
        s.reason = now_state.reason;
        if (now_state.state != t.current.state)
            changes.push_back({s.name, t.current, now_state});
        t.current = now_state;
    }
    return changes;
}

} // namespace xfrmctl::daemon
