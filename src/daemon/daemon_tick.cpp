// What xfrmd does once a second: judge health, send probes, switch key
// generations when their time comes, retire old ones, re-read the kernel
// now and then, and write the metrics.
#include "daemon.hpp"

#include "xfrmctl/report/render.hpp"
#include "xfrmctl/util/files.hpp"

#include <fmt/format.h>

#include <ctime>

namespace xfrmctl::daemon {

std::vector<engine::TunnelStatus> Daemon::current_status(std::int64_t now)
{
    if (!defs_)
        return {};
    auto tables = kernel_.tables();
    if (!tables) {
        journal_.error("cannot read the kernel's tables: " + tables.error().message);
        return status_;
    }
    auto links = engine::read_links(links_, defs_->tunnels, store_.ledger);
    if (!links)
        return status_;
    std::set<std::uint16_t> held;
    for (const auto& [port, fd] : encap_)
        held.insert(port.port);
    auto status = engine::tunnel_status({defs_->tunnels, store_.ledger, *tables, *links, traits_, held}, observations_,
                                        static_cast<std::uint64_t>(now));
    ike_.overlay(status);
    for (auto& s : status)
        if (held_down_.contains(s.name)) {
            s.health = engine::Health::down;
            s.reason = "taken down by xfrmctl down (until the next apply)";
        }
    return status;
}

void Daemon::tick()
{
    std::int64_t now = std::time(nullptr);
    check_kernel_sockets();
    if (!defs_)
        return;
    ike_.tick(now);
    sweep_stale_negotiated(now);
    health_.send_probes(now);
    auto status = current_status(now);
    for (const auto& c : health_.judge(status, key_problems_, now))
        journal_.event("health", {{"tunnel", c.tunnel},
                                  {"state", engine::health_name(c.after.state)},
                                  {"previous", engine::health_name(c.before.state)},
                                  {"reason", c.after.reason}});
    status_ = status;
    if (senders_changed(now))
        reconcile_soon("a key generation's time to send came");
    if (retire_idle_generations(status, now))
        reconcile_soon("a key generation retired");
    if (now - last_resync_ >= options_.resync_seconds) { // whatever the events said
        last_resync_ = now;
        reconcile_soon("periodic re-read of the kernel");
    }
    if (options_.textfile)
        write_textfile(status);
}

// A generation that sends from a stated time: when the time comes.
bool Daemon::senders_changed(std::int64_t now)
{
    bool changed = false;
    for (const auto& t : defs_->tunnels.tunnels) {
        const model::Generation* g = t.sender(now);
        if (g && senders_.contains(t.name) && senders_[t.name] != g->name) {
            journal_.event("key-switch", {{"tunnel", t.name}, {"from", senders_[t.name]}, {"to", g->name}});
            changed = true;
        }
    }
    return changed;
}

namespace {

std::uint64_t inbound_packets(const engine::TunnelStatus& s, const std::string& generation)
{
    std::uint64_t packets = 0;
    for (const auto& sa : s.sas)
        if (!sa.outbound && sa.generation == generation)
            packets += sa.counters.packets;
    return packets;
}

} // namespace

// An older generation's inbound SAs go once the peer has switched (the
// sending generation's inbound SAs have carried packets) and they have
// carried none for the grace period: in-flight packets are in by then.
bool Daemon::retire_idle_generations(const std::vector<engine::TunnelStatus>& status, std::int64_t now)
{
    bool retired = false;
    for (const auto& s : status) {
        const model::Tunnel* t = defs_->tunnels.find(s.name);
        const model::Generation* sender = t ? t->sender(now) : nullptr;
        if (!sender || t->generations.size() < 2 || inbound_packets(s, sender->name) == 0)
            continue;
        for (const auto& g : t->generations) {
            if (&g == sender)
                break; // only the older ones
            std::string key = plan::retirement_key(t->name, g);
            if (store_.ledger.retired().contains(key))
                continue;
            std::uint64_t packets = inbound_packets(s, g.name);
            auto& [seen, since] = inbound_seen_.try_emplace(key, packets, now).first->second;
            if (packets != seen) {
                seen = packets;
                since = now;
            } else if (now - since >= t->grace) {
                store_.ledger.retire(key);
                (void)store_.save();
                journal_.event("retired", {{"tunnel", t->name}, {"generation", g.name},
                                           {"reason", fmt::format("the peer sends with {}; no packet on {} for {} s",
                                                                  sender->name, g.name, now - since)}});
                retired = true;
            }
        }
    }
    return retired;
}

void Daemon::write_textfile(const std::vector<engine::TunnelStatus>& status)
{
    if (auto ok = write_file_atomically(*options_.textfile, report::prometheus(status, engine::read_xfrm_stat()), 0644); !ok)
        journal_.error("cannot write " + options_.textfile->string() + ": " + ok.error().message);
}

} // namespace xfrmctl::daemon
