#include "xfrmctl/plan/host.hpp"

#include <algorithm>

namespace xfrmctl::plan {

namespace {

netlink::PolicyEntry bypass_policy(const model::Bypass& b, const Prefix& local, const Prefix& remote,
                                   netlink::Direction dir)
{
    bool outbound = dir == netlink::Direction::out;
    netlink::PolicyEntry p;
    p.id.dir = dir;
    p.id.selector.src = outbound ? local : remote;
    p.id.selector.dst = outbound ? remote : local;
    if (b.traffic) {
        auto& s = p.id.selector;
        s.proto = b.traffic->protocol;
        s.sport = outbound ? b.traffic->local_port : b.traffic->remote_port;
        s.dport = outbound ? b.traffic->remote_port : b.traffic->local_port;
        s.sport_mask = s.sport ? 0xffff : 0;
        s.dport_mask = s.dport ? 0xffff : 0;
    }
    p.priority = b.priority.value_or(automatic_priority(p.id.selector));
    p.action = XFRM_POLICY_ALLOW; // and no template: in clear, on purpose
    return p;
}

} // namespace

DesiredTunnel compile_host(const model::HostSettings& host)
{
    DesiredTunnel d{kHostTunnel, host.file, 0, {}, {}, {}};
    for (const auto& b : host.bypass)
        for (const auto& local : b.local)
            for (const auto& remote : b.remote)
                if (local.address.family == remote.address.family)
                    for (auto dir : {netlink::Direction::out, netlink::Direction::in, netlink::Direction::fwd})
                        d.policies.push_back({bypass_policy(b, local, remote, dir), b.path});
    return d;
}

namespace {

// The thresholds a tunnel's policies need: {255, 255} for none.
constexpr netlink::HashThresholds kNoNeed{255, 255};

netlink::HashThresholds lowered(const netlink::HashThresholds& a, const netlink::HashThresholds& b)
{
    return {std::min(a.lbits, b.lbits), std::min(a.rbits, b.rbits)};
}

// xfrm_hash_rebuild(): for "out" the local side is the source, for "in" and
// "fwd" the destination. Wildcards (/0) stay unhashed whatever is set.
void need(netlink::HashThresholds& n, const netlink::PolicyEntry& p)
{
    bool out = p.id.dir == netlink::Direction::out;
    const Prefix& local = out ? p.id.selector.src : p.id.selector.dst;
    const Prefix& remote = out ? p.id.selector.dst : p.id.selector.src;
    if (local.length == 0 || remote.length == 0)
        return;
    n = lowered(n, {local.length, remote.length});
}

// Each tunnel's need is kept apart, so that the thresholds can follow the
// tunnels that went in (ThresholdChange::needed_by).
void plan_thresholds(HostPlan& plan, const std::vector<DesiredTunnel>& desired, const netlink::SpdInfo& spd)
{
    ThresholdChange v4{AF_INET, spd.ipv4, spd.ipv4, {}}, v6{AF_INET6, spd.ipv6, spd.ipv6, {}};
    for (const auto& d : desired) {
        netlink::HashThresholds n4 = kNoNeed, n6 = kNoNeed;
        for (const auto& p : d.policies)
            need(p.entry.id.selector.family() == AF_INET ? n4 : n6, p.entry);
        for (auto [change, n] : {std::pair{&v4, n4}, {&v6, n6}})
            if (auto want = lowered(change->before, n); want != change->before) {
                change->needs.push_back({d.name, want});
                change->after = lowered(change->after, want);
            }
    }
    for (ThresholdChange* change : {&v4, &v6})
        if (change->after != change->before)
            plan.thresholds.push_back(std::move(*change));
}

void plan_default(HostPlan& plan, const std::optional<model::HostSettings>& host, const netlink::Tables& kernel,
                  const state::Ledger& ledger)
{
    bool wanted = host && host->default_policy;
    if (!kernel.defaults) {
        if (wanted)
            plan.errors.push_back(host->file + ": /host/default_policy: this kernel has no default policies "
                                               "(XFRM_MSG_SETDEFAULT, Linux 5.16)");
        return;
    }
    const netlink::DefaultPolicy& now = *kernel.defaults;
    if (wanted) {
        if (now != *host->default_policy) {
            plan.default_before = now;
            plan.default_after = *host->default_policy;
        }
        plan.save_default = !ledger.saved_default();
        if (plan.save_default)
            plan.default_before = now;
    } else if (ledger.saved_default()) { // no longer asked for: back to what it was
        plan.forget_default = true;
        if (now != *ledger.saved_default()) {
            plan.default_before = now;
            plan.default_after = *ledger.saved_default();
        }
    }
}

} // namespace

netlink::HashThresholds ThresholdChange::needed_by(const std::function<bool(const std::string&)>& kept) const
{
    netlink::HashThresholds want = before;
    for (const auto& n : needs)
        if (kept(n.tunnel))
            want = lowered(want, n.thresholds);
    return want;
}

HostPlan plan_host(const std::optional<model::HostSettings>& host, const std::vector<DesiredTunnel>& desired,
                   const netlink::Tables& kernel, const state::Ledger& ledger)
{
    HostPlan plan;
    plan_thresholds(plan, desired, kernel.spd);
    plan_default(plan, host, kernel, ledger);
    return plan;
}

} // namespace xfrmctl::plan
