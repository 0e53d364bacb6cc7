#include "xfrmctl/engine/executor.hpp"

#include "interface_ops.hpp"

#include <fmt/format.h>
#include <linux/xfrm.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

namespace xfrmctl::engine {

using plan::Change;
using plan::Object;
using plan::Op;
using plan::TunnelPlan;

bool TunnelOutcome::changed() const { return std::find(done.begin(), done.end(), true) != done.end(); }

bool ApplyReport::changed() const
{
    return host_changed() || std::any_of(tunnels.begin(), tunnels.end(), [](const auto& t) { return t.changed(); });
}

bool ApplyReport::failed() const
{
    return !host_error.empty() || std::any_of(tunnels.begin(), tunnels.end(), [](const auto& t) { return !t.error.empty(); });
}

namespace {

netlink::Request build(const Change& c)
{
    switch (c.op) {
    case Op::add_sa: return netlink::build_sa(XFRM_MSG_NEWSA, *c.sa);
    case Op::remove_sa: return netlink::build_sa_delete(c.sa->id);
    case Op::add_policy: return netlink::build_policy(XFRM_MSG_NEWPOLICY, *c.policy);
    case Op::update_policy: return netlink::build_policy(XFRM_MSG_UPDPOLICY, *c.policy);
    default: return netlink::build_policy_delete(c.policy->id);
    }
}

std::string where(const TunnelPlan& t, const Change& c)
{
    std::string place = t.file.empty() ? "tunnel " + t.name : t.file;
    return c.origin.empty() ? place : place + ": " + c.origin;
}

std::set<std::string>& owned_set(state::OwnedTunnel& owned, const Change& c)
{
    switch (c.object()) {
    case Object::sa: return owned.sas;
    case Object::policy: return owned.policies;
    default: return owned.interface;
    }
}

struct Step {
    std::size_t tunnel, change;
};

class Executor {
public:
    Executor(const plan::Plan& plan, netlink::Kernel& kernel, netlink::Links& links, state::Store& store)
        : plan_(plan), kernel_(kernel), links_(links), store_(store), recorded_(plan.tunnels.size())
    {
        for (const auto& t : plan.tunnels)
            report_.tunnels.push_back(TunnelOutcome{std::vector<bool>(t.changes.size(), false), {}});
        for (const auto& t : plan.host.thresholds)
            thresholds_.push_back(t.before);
    }

    Result<ApplyReport> run()
    {
        if (auto ok = write_ahead(); !ok)
            return fail(ok.error());
        move_thresholds(); // before the inserts, so they are hashed
        if (auto ok = run_xfrm(1); !ok)
            return fail(ok.error());
        run_interfaces(1);
        for (std::size_t t = 0; t < plan_.tunnels.size(); ++t)
            if (!report_.tunnels[t].error.empty())
                roll_back(t);
        move_thresholds(); // given back with the tunnels just undone
        run_interfaces(2);
        if (auto ok = run_xfrm(2); !ok)
            return fail(ok.error());
        if (default_policy_goes_in()) // once everything it lets through is in place
            set_default_policy();
        report_host_thresholds();
        record_outcome();
        if (auto ok = store_.save(); !ok)
            return fail(ok.error());
        return std::move(report_);
    }

private:
    bool active(std::size_t t) const { return !plan_.tunnels[t].blocked(); }
    bool proceeding(std::size_t t) const { return active(t) && report_.tunnels[t].error.empty(); }

    Status write_ahead();
    void move_thresholds();
    void report_host_thresholds();
    bool default_policy_goes_in() const;
    void set_default_policy();
    bool host_request(netlink::Request request, const std::string& what);
    void claim(std::size_t t, const Change& c, state::OwnedTunnel& owned);
    void adopt(const TunnelPlan& tp, state::OwnedTunnel& owned);
    Status run_xfrm(int phase);
    void run_interfaces(int phase);
    void settle(const Step& s, const netlink::Ack& ack);
    bool took_effect(const Change& c);
    std::optional<std::string> missed_offload(const netlink::SaEntry& want);
    void fail_tunnel(std::size_t t, const Change& c, const std::string& why);
    void roll_back(std::size_t t);
    bool undo_xfrm(std::size_t t, std::vector<std::size_t> changes);
    netlink::Request undo_request(std::size_t t, const Change& c);
    void forget_if_recorded(std::size_t t, const std::string& fingerprint);
    void record_outcome();

    const plan::Plan& plan_;
    netlink::Kernel& kernel_;
    netlink::Links& links_;
    state::Store& store_;
    std::vector<std::vector<std::string>> recorded_; // key fingerprints first recorded in this run
    std::vector<netlink::HashThresholds> thresholds_; // each of plan.host.thresholds as the kernel has it now
    ApplyReport report_;
};

// Claims every entry about to be added, and every key about to be
// installed, before the kernel sees them: a crash after the write never
// leaves an owned entry unrecorded, nor a used key forgotten. So with the
// kernel's default policy: the one to put back one day is kept before ours
// replaces it, or a run killed in between would keep ours as the original.
Status Executor::write_ahead()
{
    if (plan_.host.save_default)
        store_.ledger.save_default(plan_.host.default_before);
    for (std::size_t t = 0; t < plan_.tunnels.size(); ++t) {
        const TunnelPlan& tp = plan_.tunnels[t];
        if (!active(t) || tp.removal)
            continue;
        state::OwnedTunnel& owned = store_.ledger.at(tp.name);
        owned.reqid = tp.reqid;
        adopt(tp, owned);
        for (const Change& c : tp.changes)
            claim(t, c, owned);
    }
    store_.ledger.reindex();
    return store_.save();
}

void Executor::adopt(const TunnelPlan& tp, state::OwnedTunnel& owned)
{
    auto move = [&](const std::set<std::string>& keys, auto owner_of, std::set<std::string> state::OwnedTunnel::*set) {
        for (const auto& key : keys) {
            if (auto owner = (store_.ledger.*owner_of)(key))
                (store_.ledger.at(*owner).*set).erase(key);
            (owned.*set).insert(key);
        }
    };
    move(tp.adopted_sas, &state::Ledger::sa_owner, &state::OwnedTunnel::sas);
    move(tp.adopted_policies, &state::Ledger::policy_owner, &state::OwnedTunnel::policies);
    move(tp.adopted_interface, &state::Ledger::interface_owner, &state::OwnedTunnel::interface);
}

void Executor::claim(std::size_t t, const Change& c, state::OwnedTunnel& owned)
{
    if (!c.is_add())
        return;
    owned_set(owned, c).insert(c.identity());
    if (c.op == Op::add_sa && !store_.history.contains(c.key_fingerprint)) {
        store_.history.record_pending(c.key_fingerprint, fmt::format("{} spi 0x{:08x}", plan_.tunnels[t].name, c.sa->id.spi),
                                      c.sa->id.key());
        recorded_[t].push_back(c.key_fingerprint);
    }
}

bool Executor::host_request(netlink::Request request, const std::string& what)
{
    auto acks = kernel_.execute(std::span(&request, 1));
    if (acks && (*acks)[0].ok())
        return true;
    if (report_.host_error.empty())
        report_.host_error = "the kernel refused to set " + what + ": " + (acks ? (*acks)[0].describe() : acks.error().message);
    return false;
}

// The SPD hash thresholds that the tunnels still going in need: lowered
// for them before their policies go in, given back by a tunnel that is
// refused or whose changes are undone.
void Executor::move_thresholds()
{
    if (plan_.host.thresholds.empty())
        return;
    std::set<std::string> dropped;
    for (std::size_t t = 0; t < plan_.tunnels.size(); ++t)
        if (!proceeding(t))
            dropped.insert(plan_.tunnels[t].name);
    auto kept = [&](const std::string& name) { return !dropped.contains(name); };
    for (std::size_t i = 0; i < plan_.host.thresholds.size(); ++i) {
        const plan::ThresholdChange& change = plan_.host.thresholds[i];
        netlink::HashThresholds want = change.needed_by(kept);
        if (want != thresholds_[i] && host_request(netlink::build_hash_thresholds(change.family, want),
                                                   fmt::format("the {} SPD hash thresholds", family_name(change.family))))
            thresholds_[i] = want;
    }
}

void Executor::report_host_thresholds()
{
    for (std::size_t i = 0; i < plan_.host.thresholds.size(); ++i)
        if (const auto& change = plan_.host.thresholds[i]; thresholds_[i] != change.before)
            report_.host.thresholds.push_back({change.family, change.before, thresholds_[i], {}});
}

// The default policy goes in with the tunnels, after the bypass policies it
// lets through: not when the bypass policies' changes were undone, nor when
// every tunnel with changes failed (the host is then left as it was; the
// next apply sets it).
bool Executor::default_policy_goes_in() const
{
    bool any = false, went_in = false;
    for (std::size_t t = 0; t < plan_.tunnels.size(); ++t) {
        if (plan_.tunnels[t].changes.empty())
            continue;
        if (plan_.tunnels[t].name == plan::kHostTunnel) {
            if (!proceeding(t))
                return false;
            continue;
        }
        any = true;
        went_in |= proceeding(t);
    }
    return !any || went_in;
}

// The kernel's default policy; the one it had before we first set it is
// in the ledger already (write_ahead), and put back when the definitions
// stop asking.
void Executor::set_default_policy()
{
    const plan::HostPlan& host = plan_.host;
    if (host.default_after && host_request(netlink::build_default_set(*host.default_after), "the default policy")) {
        report_.host.default_before = host.default_before;
        report_.host.default_after = host.default_after;
    }
    if (host.forget_default && report_.host_error.empty())
        store_.ledger.save_default(std::nullopt);
}

// One batch for every tunnel's SA and policy changes of this phase.
Status Executor::run_xfrm(int phase)
{
    std::vector<Step> steps;
    std::vector<netlink::Request> requests;
    for (std::size_t t = 0; t < plan_.tunnels.size(); ++t) {
        if (!proceeding(t))
            continue;
        const auto& changes = plan_.tunnels[t].changes;
        for (std::size_t c = 0; c < changes.size(); ++c)
            if (changes[c].phase == phase && changes[c].is_xfrm()) {
                steps.push_back({t, c});
                requests.push_back(build(changes[c]));
            }
    }
    if (requests.empty())
        return {};
    auto acks = kernel_.execute(requests);
    if (!acks)
        return fail(acks.error());
    for (std::size_t i = 0; i < steps.size(); ++i)
        settle(steps[i], (*acks)[i]);
    return {};
}

// Links, addresses and routes, one at a time; a tunnel stops at its first failure.
void Executor::run_interfaces(int phase)
{
    for (std::size_t t = 0; t < plan_.tunnels.size(); ++t) {
        const auto& changes = plan_.tunnels[t].changes;
        for (std::size_t c = 0; c < changes.size() && proceeding(t); ++c) {
            if (changes[c].phase != phase || changes[c].is_xfrm())
                continue;
            auto ok = apply_interface_change(links_, changes[c]);
            report_.tunnels[t].done[c] = ok.has_value();
            if (!ok)
                fail_tunnel(t, changes[c], ok.error().message);
        }
    }
}

void Executor::fail_tunnel(std::size_t t, const Change& c, const std::string& why)
{
    std::string& error = report_.tunnels[t].error;
    if (error.empty())
        error = fmt::format("{}: the kernel refused to {} {}: {}", where(plan_.tunnels[t], c), c.action(), c.describe(), why);
}

void Executor::settle(const Step& s, const netlink::Ack& ack)
{
    const Change& c = plan_.tunnels[s.tunnel].changes[s.change];
    bool already_gone = c.is_remove() && (ack.error == ENOENT || ack.error == ESRCH);
    bool ok = ack.ok() || already_gone || (!ack.answered && took_effect(c));
    report_.tunnels[s.tunnel].done[s.change] = ok;
    if (c.op == Op::add_sa && ok)
        store_.history.confirm(c.key_fingerprint);
    if (!ok && c.op == Op::add_sa) // never installed: its key is still unused
        forget_if_recorded(s.tunnel, c.key_fingerprint);
    if (!ok)
        fail_tunnel(s.tunnel, c, ack.describe());
    else if (c.op == Op::add_sa && c.sa->offload)
        if (auto why = missed_offload(*c.sa); why && report_.tunnels[s.tunnel].error.empty())
            // installed (done), so the tunnel's roll-back removes it
            report_.tunnels[s.tunnel].error = fmt::format("{}: {}: {}", where(plan_.tunnels[s.tunnel], c), c.describe(), *why);
}

// Linux 6.1 keeps an SA asked to be offloaded in software, and says nothing,
// when the driver declines it with EOPNOTSUPP (xfrm_dev_state_add() in
// net/xfrm/xfrm_device.c) or the kernel has no CONFIG_XFRM_OFFLOAD (its stub
// in include/net/xfrm.h). So the SA is read back: one that is not on the
// device it was asked for is refused like any refusal of the kernel's.
std::optional<std::string> Executor::missed_offload(const netlink::SaEntry& want)
{
    auto got = kernel_.sa(want.id);
    if (!got)
        return "it went in, but reading it back to see whether it is offloaded failed: " + got.error().message;
    if (*got && (*got)->offload && (*got)->offload->ifindex == want.offload->ifindex)
        return std::nullopt;
    return fmt::format("not offloaded: the kernel installed it in software, not on ifindex {} (the device's "
                       "driver declined it, or the kernel was built without CONFIG_XFRM_OFFLOAD)",
                       want.offload->ifindex);
}

// The ACK was lost (a full receive buffer): ask the kernel instead.
bool Executor::took_effect(const Change& c)
{
    if (c.is_sa()) {
        auto sa = kernel_.sa(c.sa->id);
        return sa && (c.is_add() ? sa->has_value() : !sa->has_value());
    }
    auto p = kernel_.policy(c.policy->id);
    if (!p)
        return false;
    return c.is_remove() ? !p->has_value() : p->has_value() && (*p)->same_config(*c.policy);
}

// Only what this run recorded: a key installed by an earlier run stays used.
void Executor::forget_if_recorded(std::size_t t, const std::string& fingerprint)
{
    auto& mine = recorded_[t];
    if (std::find(mine.begin(), mine.end(), fingerprint) != mine.end())
        store_.history.forget(fingerprint);
}

// Undoes, newest first, what went in of a tunnel whose first phase failed:
// its interface changes, then its SAs and policies.
void Executor::roll_back(std::size_t t)
{
    const TunnelPlan& tp = plan_.tunnels[t];
    TunnelOutcome& outcome = report_.tunnels[t];
    bool clean = true, impossible = false;
    std::vector<std::size_t> xfrm;
    for (std::size_t c = tp.changes.size(); c-- > 0;) {
        const Change& change = tp.changes[c];
        if (!outcome.done[c] || change.phase != 1)
            continue;
        if (change.is_xfrm()) {
            impossible |= change.op == Op::remove_sa; // never re-installed: its key has been used
            if (change.op != Op::remove_sa)
                xfrm.push_back(c);
        } else if (auto undo = undo_interface_change(change)) {
            bool ok = apply_interface_change(links_, *undo).has_value();
            outcome.done[c] = !ok;
            clean &= ok;
        }
    }
    clean &= undo_xfrm(t, xfrm);
    if (!clean)
        outcome.error += "; undoing it failed too, so the tunnel is half-changed: run apply again";
    else if (impossible)
        outcome.error += "; its old SA was already replaced, so the tunnel is down (its traffic is dropped) until "
                         "this is fixed";
    else
        outcome.error += "; tunnel " + tp.name + " was left as it was";
}

bool Executor::undo_xfrm(std::size_t t, std::vector<std::size_t> changes)
{
    const TunnelPlan& tp = plan_.tunnels[t];
    std::vector<netlink::Request> undo;
    for (std::size_t c : changes)
        undo.push_back(undo_request(t, tp.changes[c]));
    if (undo.empty())
        return true;
    auto acks = kernel_.execute(undo);
    bool clean = acks.has_value();
    for (std::size_t i = 0; i < changes.size() && acks; ++i) {
        report_.tunnels[t].done[changes[i]] = !(*acks)[i].ok();
        clean &= (*acks)[i].ok();
    }
    return clean;
}

netlink::Request Executor::undo_request(std::size_t t, const Change& c)
{
    switch (c.op) {
    case Op::add_sa: {
        // An SA that never carried a packet has not used its key: it may be
        // installed again, so its fingerprint is forgotten.
        auto now = kernel_.sa(c.sa->id);
        if (now && *now && (*now)->counters.packets == 0 && (*now)->counters.oseq == 0)
            forget_if_recorded(t, c.key_fingerprint);
        return netlink::build_sa_delete(c.sa->id);
    }
    case Op::add_policy: return netlink::build_policy_delete(c.policy->id);
    case Op::update_policy: return netlink::build_policy(XFRM_MSG_UPDPOLICY, *c.before);
    default: return netlink::build_policy(XFRM_MSG_NEWPOLICY, *c.policy);
    }
}

// Whether each entry a tunnel's changes touched is in the kernel now,
// following the changes in order (a replacement removes, then adds, the
// same identity; a rolled-back change counts as not done).
std::map<std::string, std::pair<bool, const Change*>> final_presence(const TunnelPlan& tp, const TunnelOutcome& outcome)
{
    std::map<std::string, std::pair<bool, const Change*>> present;
    for (std::size_t c = 0; c < tp.changes.size(); ++c) {
        const Change& change = tp.changes[c];
        auto [it, first] = present.try_emplace(change.identity(), !change.is_add(), &change);
        if (outcome.done[c])
            it->second.first = !change.is_remove();
    }
    return present;
}

void Executor::record_outcome()
{
    for (std::size_t t = 0; t < plan_.tunnels.size(); ++t) {
        const TunnelPlan& tp = plan_.tunnels[t];
        if (!active(t) || !store_.ledger.find(tp.name))
            continue;
        state::OwnedTunnel& owned = store_.ledger.at(tp.name);
        for (const auto& [key, state] : final_presence(tp, report_.tunnels[t])) {
            auto& set = owned_set(owned, *state.second);
            if (state.first)
                set.insert(key);
            else
                set.erase(key);
        }
        for (const auto& key : tp.stale) {
            owned.sas.erase(key);
            owned.policies.erase(key);
            owned.interface.erase(key);
        }
        if (owned.empty() && tp.removal)
            store_.ledger.erase(tp.name);
    }
    store_.ledger.reindex();
}

} // namespace

Result<ApplyReport> execute(const plan::Plan& plan, netlink::Kernel& kernel, netlink::Links& links, state::Store& store)
{
    return Executor(plan, kernel, links, store).run();
}

} // namespace xfrmctl::engine
