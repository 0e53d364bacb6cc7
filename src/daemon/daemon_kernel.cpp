// xfrmd and the kernel: definitions in, reconciling, events out.
#include "daemon.hpp"

#include "xfrmctl/engine/capabilities.hpp"
#include "xfrmctl/engine/capability_cache.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <ctime>

namespace xfrmctl::daemon {

namespace {

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

} // namespace

// Reads and checks the definitions (and what the kernel can carry).
Status Daemon::load(std::optional<engine::Definitions>& out, plan::KernelTraits& traits, engine::CacheUse use)
{
    auto defs = engine::load(options_.definitions);
    if (!defs)
        return fail(defs.error());
    traits = engine::assumed_traits();
    if (!options_.no_probe) {
        auto answer = engine::probe_with_cache(engine::needed_transforms(defs->tunnels), options_.socket.parent_path(), use);
        if (!answer)
            return fail(answer.error());
        if (answer->warning)
            journal_.warning(*answer->warning);
        if (auto ok = engine::check_support(defs->tunnels, answer->caps); !ok)
            return fail(ok.error());
        traits = answer->caps.traits;
    }
    if (auto ok = engine::find_offload_devices(defs->tunnels, traits, true); !ok)
        return fail(ok.error());
    out = std::move(*defs);
    return {};
}

// A bad definition leaves the daemon with the last good one: nothing in the
// kernel changes for a typo.
Status Daemon::reload(const std::string& why)
{
    std::optional<engine::Definitions> fresh;
    plan::KernelTraits traits;
    if (auto ok = load(fresh, traits, engine::CacheUse::read_write); !ok) {
        journal_.error("definitions not loaded (" + why + "), keeping " +
                       (defs_ ? std::string("the last good ones") : std::string("none")) + ": " + ok.error().message);
        return ok;
    }
    defs_ = std::move(fresh);
    traits_ = traits;
    health_.configure(defs_->tunnels, now(), journal_);
    journal_.info(fmt::format("definitions loaded ({}): {} tunnels", why, defs_->tunnels.tunnels.size()));
    return {};
}

void Daemon::reconcile(std::string why)
{
    due_.reset();
    if (!defs_)
        return;
    engine::Writer w = writer();
    auto outcome = engine::apply(*defs_, w, traits_, now(), false, held_down_);
    if (!outcome) {
        journal_.error("cannot reconcile (" + why + "): " + outcome.error().message);
        return;
    }
    follow_outcome(*outcome, why);
}

// Whatever changed the kernel (a repair, an apply, a down), the encap
// sockets, charon's connections and the key senders follow at once: charon
// learning of an applied tunnel only at the next re-read left it down for
// up to --resync seconds.
void Daemon::follow_outcome(const engine::Outcome& outcome, const std::string& why)
{
    note_outcome(outcome, why);
    if (!defs_) // a down while xfrmd holds no good definitions
        return;
    hold_encap_sockets();
    configure_negotiator();
    for (const auto& t : defs_->tunnels.tunnels)
        if (const model::Generation* g = t.sender(now()))
            senders_[t.name] = g->name;
}

// Every change made is said once; every error too, until it goes away.
void Daemon::note_outcome(const engine::Outcome& outcome, const std::string& why)
{
    std::map<std::string, std::string> problems;
    std::set<std::string> errors;
    for (std::size_t t = 0; t < outcome.plan.tunnels.size(); ++t) {
        const plan::TunnelPlan& tp = outcome.plan.tunnels[t];
        for (std::size_t c = 0; c < tp.changes.size() && outcome.report; ++c)
            if (outcome.report->tunnels[t].done[c])
                journal_.event("changed", {{"tunnel", tp.name}, {"action", tp.changes[c].action()},
                                           {"entry", tp.changes[c].describe()}, {"why", why}});
        for (const auto& w : tp.warnings)
            journal_.warning(tp.name + ": " + w);
        for (const auto& e : tp.errors)
            problems[tp.name] = e;
        for (const auto& e : tp.refusals)
            errors.insert(tp.name + ": " + e);
        if (outcome.report && !outcome.report->tunnels[t].error.empty())
            errors.insert(outcome.report->tunnels[t].error);
    }
    for (const auto& [tunnel, problem] : problems)
        errors.insert(tunnel + ": " + problem);
    for (const auto& e : errors)
        if (!reported_.contains(e))
            journal_.error(e);
    reported_ = errors;
    key_problems_ = std::move(problems);
}

void Daemon::on_kernel_events()
{
    for (;;) {
        bool any = false;
        auto ok = events_.receive(
            [&](const nlmsghdr* nlh) {
                any = true;
                auto e = netlink::parse_event(nlh);
                if (e && *e)
                    note_event(**e, nlh->nlmsg_pid);
            },
            0);
        if (!ok && ok.error().errnum == ENOBUFS) { // events were lost: trust none, re-read it all
            journal_.event("resync", {{"why", "kernel events were lost (receive buffer overrun)"}});
            reconcile_soon("kernel events were lost");
            continue;
        }
        if (!ok) { // any doubt: a fresh socket, and re-read it all
            journal_.error(ok.error().message);
            reopen_kernel_sockets("reading kernel events failed");
        }
        if (!ok || !any)
            return;
    }
}

// Our own writes come back as events stamped with our port: only the
// others' matter. An expiry is said; any change to what we own, or a
// flush, calls for a reconcile (which puts back what was taken).
void Daemon::note_event(const netlink::Event& e, std::uint32_t sender)
{
    if (sender != 0 && sender == kernel_.portid())
        return;
    std::optional<std::string> owner;
    if (e.sa)
        owner = store_.ledger.sa_owner(e.sa->id.key());
    else if (e.policy)
        owner = store_.ledger.policy_owner(e.policy->id.key());
    if (e.kind == netlink::EventKind::sa_expired && owner && e.hard) {
        store_.ledger.expire(e.sa->id.key()); // before the reconcile that would put it back
        (void)store_.save();
    }
    if (e.kind == netlink::EventKind::sa_expired && owner)
        journal_.event(e.hard ? "sa-expired" : "sa-expiring",
                       {{"tunnel", *owner}, {"spi", fmt::format("0x{:08x}", e.sa->id.spi)},
                        {"reason", e.hard ? "its hard lifetime is over: the tunnel is down until the key is rolled"
                                          : "its soft lifetime is over: roll the key"}});
    if (e.kind == netlink::EventKind::acquire && e.policy && !e.policy->templates.empty())
        ike_.on_acquire(e.policy->templates.front().reqid, now());
    bool flush = e.kind == netlink::EventKind::sas_flushed || e.kind == netlink::EventKind::policies_flushed;
    bool warning_only = e.kind == netlink::EventKind::acquire || (e.kind == netlink::EventKind::sa_expired && !e.hard);
    if (flush || (owner && !warning_only)) {
        journal_.event("drift", {{"tunnel", owner ? nlohmann::json(*owner) : nlohmann::json()}, {"entry", e.describe()}});
        reconcile_soon("drift: " + e.describe());
    }
}

// The ikev2 tunnels that are applied (their policies name their reqid)
// go to charon; the others leave it.
void Daemon::configure_negotiator()
{
    if (!defs_)
        return;
    std::vector<IkeTunnel> wanted;
    for (const auto& t : defs_->tunnels.tunnels)
        if (t.present && t.negotiated())
            if (const state::OwnedTunnel* owned = store_.ledger.find(t.name))
                wanted.push_back({&t, owned->reqid});
    ike_.configure(wanted, defs_->keys);
    for (const auto& w : wanted)
        ike_.hold(w.tunnel->name, held_down_.contains(w.tunnel->name));
}

// The daemon holds the ESP-in-UDP sockets itself, and stops the holders
// that xfrmctl started before it (its sockets share the ports with theirs,
// SO_REUSEPORT, so none goes unheld in between).
void Daemon::hold_encap_sockets()
{
    auto needed = engine::needed_encap_ports(defs_->tunnels, store_.ledger);
    for (auto it = encap_.begin(); it != encap_.end();)
        it = needed.contains(it->first) ? std::next(it) : encap_.erase(it);
    for (const auto& port : needed) {
        if (encap_.contains(port))
            continue;
        auto fd = engine::open_encap_socket(port);
        if (fd)
            encap_.emplace(port, std::move(*fd));
        else
            journal_.error(port.name() + ": " + fd.error().message);
    }
    engine::reconcile_holders({}, options_.state_dir, {});
}

// Stopping must not stop ESP in UDP: holders take the sockets over.
void Daemon::hand_over_encap_sockets()
{
    if (encap_.empty() || !defs_)
        return;
    std::error_code ec;
    auto self = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / "xfrmctl";
    auto report = engine::reconcile_holders(engine::needed_encap_ports(defs_->tunnels, store_.ledger), options_.state_dir, self);
    for (const auto& w : report.warnings)
        journal_.error(w);
    encap_.clear();
}

} // namespace xfrmctl::daemon
