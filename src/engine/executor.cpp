#include "xfrmctl/engine/executor.hpp"

#include <fmt/format.h>
#include <linux/xfrm.h>

#include <algorithm>
#include <cerrno>

namespace xfrmctl::engine {

using plan::Change;
using plan::Op;
using plan::TunnelPlan;

bool TunnelOutcome::changed() const { return std::find(done.begin(), done.end(), true) != done.end(); }

bool ApplyReport::changed() const
{
    return std::any_of(tunnels.begin(), tunnels.end(), [](const auto& t) { return t.changed(); });
}

bool ApplyReport::failed() const
{
    return std::any_of(tunnels.begin(), tunnels.end(), [](const auto& t) { return !t.error.empty(); });
}

namespace {

netlink::Request build(const Change& c)
{
    switch (c.op) {
    case Op::add_sa: return netlink::build_sa(XFRM_MSG_NEWSA, *c.sa);
    case Op::remove_sa: return netlink::build_sa_delete(c.sa->id);
    case Op::add_policy: return netlink::build_policy(XFRM_MSG_NEWPOLICY, *c.policy);
    case Op::update_policy: return netlink::build_policy(XFRM_MSG_UPDPOLICY, *c.policy);
    case Op::remove_policy: return netlink::build_policy_delete(c.policy->id);
    }
    return {};
}

std::string where(const TunnelPlan& t, const Change& c)
{
    std::string place = t.file.empty() ? "tunnel " + t.name : t.file;
    return c.origin.empty() ? place : place + ": " + c.origin;
}

struct Step {
    std::size_t tunnel, change;
};

class Executor {
public:
    Executor(const plan::Plan& plan, netlink::Kernel& kernel, state::Store& store)
        : plan_(plan), kernel_(kernel), store_(store), recorded_(plan.tunnels.size())
    {
        for (const auto& t : plan.tunnels)
            report_.tunnels.push_back(TunnelOutcome{std::vector<bool>(t.changes.size(), false), {}});
    }

    Result<ApplyReport> run()
    {
        if (auto ok = write_ahead(); !ok)
            return fail(ok.error());
        if (auto ok = run_phase(1); !ok)
            return fail(ok.error());
        for (std::size_t t = 0; t < plan_.tunnels.size(); ++t)
            if (!report_.tunnels[t].error.empty())
                roll_back(t);
        if (auto ok = run_phase(2); !ok)
            return fail(ok.error());
        record_outcome();
        if (auto ok = store_.save(); !ok)
            return fail(ok.error());
        return std::move(report_);
    }

private:
    bool active(std::size_t t) const { return !plan_.tunnels[t].blocked(); }

    // Claims every entry about to be added, and every key about to be
    // installed, before the kernel sees them.
    Status write_ahead()
    {
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

    void adopt(const TunnelPlan& tp, state::OwnedTunnel& owned)
    {
        for (const auto& key : tp.adopted_sas) {
            if (auto owner = store_.ledger.sa_owner(key))
                store_.ledger.at(*owner).sas.erase(key);
            owned.sas.insert(key);
        }
        for (const auto& key : tp.adopted_policies) {
            if (auto owner = store_.ledger.policy_owner(key))
                store_.ledger.at(*owner).policies.erase(key);
            owned.policies.insert(key);
        }
    }

    void claim(std::size_t t, const Change& c, state::OwnedTunnel& owned)
    {
        if (c.op == Op::add_sa) {
            owned.sas.insert(c.identity());
            if (!store_.history.contains(c.key_fingerprint)) {
                store_.history.record(c.key_fingerprint, fmt::format("{} spi 0x{:08x}", plan_.tunnels[t].name, c.sa->id.spi));
                recorded_[t].push_back(c.key_fingerprint);
            }
        } else if (c.op == Op::add_policy) {
            owned.policies.insert(c.identity());
        }
    }

    Status run_phase(int phase)
    {
        std::vector<Step> steps;
        std::vector<netlink::Request> requests;
        for (std::size_t t = 0; t < plan_.tunnels.size(); ++t) {
            if (!active(t) || !report_.tunnels[t].error.empty())
                continue;
            const auto& changes = plan_.tunnels[t].changes;
            for (std::size_t c = 0; c < changes.size(); ++c)
                if (changes[c].phase == phase) {
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

    void settle(const Step& s, const netlink::Ack& ack)
    {
        const TunnelPlan& tp = plan_.tunnels[s.tunnel];
        const Change& c = tp.changes[s.change];
        bool already_gone = (c.op == Op::remove_sa || c.op == Op::remove_policy) &&
                            (ack.error == ENOENT || ack.error == ESRCH);
        bool ok = ack.ok() || already_gone || (!ack.answered && took_effect(c));
        report_.tunnels[s.tunnel].done[s.change] = ok;
        if (!ok && c.op == Op::add_sa) // never installed: its key is still unused
            forget_if_recorded(s.tunnel, c.key_fingerprint);
        std::string& error = report_.tunnels[s.tunnel].error;
        if (!ok && error.empty())
            error = fmt::format("{}: the kernel refused to {} {}: {}", where(tp, c), c.action(), c.describe(),
                                ack.describe());
    }

    // The ACK was lost (a full receive buffer): ask the kernel instead.
    bool took_effect(const Change& c)
    {
        if (c.is_sa()) {
            auto sa = kernel_.sa(c.sa->id);
            return sa && (c.op == Op::add_sa ? sa->has_value() : !sa->has_value());
        }
        auto p = kernel_.policy(c.policy->id);
        if (!p)
            return false;
        return c.op == Op::remove_policy ? !p->has_value() : p->has_value() && (*p)->same_config(*c.policy);
    }

    // Only what this run recorded: a key installed by an earlier run stays used.
    void forget_if_recorded(std::size_t t, const std::string& fingerprint)
    {
        auto& mine = recorded_[t];
        if (std::find(mine.begin(), mine.end(), fingerprint) != mine.end())
            store_.history.forget(fingerprint);
    }

    void roll_back(std::size_t t);
    netlink::Request undo_request(std::size_t t, const Change& c);
    void record_outcome();

    const plan::Plan& plan_;
    netlink::Kernel& kernel_;
    state::Store& store_;
    std::vector<std::vector<std::string>> recorded_; // key fingerprints first recorded in this run
    ApplyReport report_;
};

// Undoes, newest first, what went in of a tunnel whose first phase failed.
void Executor::roll_back(std::size_t t)
{
    const TunnelPlan& tp = plan_.tunnels[t];
    TunnelOutcome& outcome = report_.tunnels[t];
    std::vector<netlink::Request> undo;
    std::vector<std::size_t> undone;
    bool impossible = false;
    for (std::size_t c = tp.changes.size(); c-- > 0;) {
        if (!outcome.done[c] || tp.changes[c].phase != 1)
            continue;
        if (tp.changes[c].op == Op::remove_sa) { // never re-installed: its key has been used
            impossible = true;
            continue;
        }
        undo.push_back(undo_request(t, tp.changes[c]));
        undone.push_back(c);
    }
    auto acks = kernel_.execute(undo);
    for (std::size_t i = 0; i < undone.size(); ++i)
        if (acks && (*acks)[i].ok())
            outcome.done[undone[i]] = false;
    if (!acks || std::any_of(acks->begin(), acks->end(), [](const auto& a) { return !a.ok(); }))
        outcome.error += "; undoing it failed too, so the tunnel is half-changed: run apply again";
    else if (impossible)
        outcome.error += "; its old SA was already replaced, so the tunnel is down (its traffic is dropped) until "
                         "this is fixed";
    else
        outcome.error += "; tunnel " + tp.name + " was left as it was";
}

netlink::Request Executor::undo_request(std::size_t t, const Change& c)
{
    switch (c.op) {
    case Op::add_sa: {
        // An SA that never carried a packet has not used its key: it may be
        // installed again, so its fingerprint is forgotten.
        auto now = kernel_.sa(c.sa->id);
        bool unused = now && *now && (*now)->counters.packets == 0 && (*now)->counters.oseq == 0;
        if (unused)
            forget_if_recorded(t, c.key_fingerprint);
        return netlink::build_sa_delete(c.sa->id);
    }
    case Op::add_policy: return netlink::build_policy_delete(c.policy->id);
    case Op::update_policy: return netlink::build_policy(XFRM_MSG_UPDPOLICY, *c.before);
    case Op::remove_policy: return netlink::build_policy(XFRM_MSG_NEWPOLICY, *c.policy);
    case Op::remove_sa: break; // see roll_back()
    }
    return {};
}

void Executor::record_outcome()
{
    for (std::size_t t = 0; t < plan_.tunnels.size(); ++t) {
        const TunnelPlan& tp = plan_.tunnels[t];
        if (!active(t) || !store_.ledger.find(tp.name))
            continue;
        state::OwnedTunnel& owned = store_.ledger.at(tp.name);
        for (std::size_t c = 0; c < tp.changes.size(); ++c) {
            const Change& change = tp.changes[c];
            bool is_add = change.op == Op::add_sa || change.op == Op::add_policy;
            bool is_remove = change.op == Op::remove_sa || change.op == Op::remove_policy;
            bool gone = (is_add && !report_.tunnels[t].done[c]) || (is_remove && report_.tunnels[t].done[c]);
            if (gone)
                (change.is_sa() ? owned.sas : owned.policies).erase(change.identity());
        }
        for (const auto& key : tp.stale) {
            owned.sas.erase(key);
            owned.policies.erase(key);
        }
        if (owned.empty() && tp.removal)
            store_.ledger.erase(tp.name);
    }
    store_.ledger.reindex();
}

} // namespace

Result<ApplyReport> execute(const plan::Plan& plan, netlink::Kernel& kernel, state::Store& store)
{
    return Executor(plan, kernel, store).run();
}

} // namespace xfrmctl::engine
