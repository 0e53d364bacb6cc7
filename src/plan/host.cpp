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

struct Needed {
    std::uint8_t lbits = 255, rbits = 255;
};

// xfrm_hash_rebuild(): for "out" the local side is the source, for "in" and
// "fwd" the destination. Wildcards (/0) stay unhashed whatever is set.
void need(Needed& n, const netlink::PolicyEntry& p)
{
    bool out = p.id.dir == netlink::Direction::out;
    const Prefix& local = out ? p.id.selector.src : p.id.selector.dst;
    const Prefix& remote = out ? p.id.selector.dst : p.id.selector.src;
    if (local.length == 0 || remote.length == 0)
        return;
    n.lbits = std::min(n.lbits, local.length);
    n.rbits = std::min(n.rbits, remote.length);
}

void plan_thresholds(HostPlan& plan, const std::vector<DesiredTunnel>& desired, const netlink::SpdInfo& spd)
{
    Needed v4, v6;
    for (const auto& d : desired)
        for (const auto& p : d.policies)
            need(p.entry.id.selector.family() == AF_INET ? v4 : v6, p.entry);
    for (auto [family, n, have] : {std::tuple{std::uint16_t{AF_INET}, v4, spd.ipv4}, {std::uint16_t{AF_INET6}, v6, spd.ipv6}}) {
        if (n.lbits == 255)
            continue;
        netlink::HashThresholds want{std::min(have.lbits, n.lbits), std::min(have.rbits, n.rbits)};
        if (want != have)
            plan.thresholds.push_back({family, have, want});
    }
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

HostPlan plan_host(const std::optional<model::HostSettings>& host, const std::vector<DesiredTunnel>& desired,
                   const netlink::Tables& kernel, const state::Ledger& ledger)
{
    HostPlan plan;
    plan_thresholds(plan, desired, kernel.spd);
    plan_default(plan, host, kernel, ledger);
    return plan;
}

} // namespace xfrmctl::plan
