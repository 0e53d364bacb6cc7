#include "xfrmctl/plan/planner.hpp"

#include "interface_planner.hpp"
#include "xfrmctl/netlink/fields.hpp"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <unordered_map>

namespace xfrmctl::plan {

Change Change::clone() const
{
    Change c;
    c.op = op;
    c.phase = phase;
    if (sa)
        c.sa = sa->clone();
    c.policy = policy;
    c.before = before;
    c.link = link;
    c.link_name = link_name;
    c.prefix = prefix;
    c.origin = origin;
    c.reason = reason;
    c.aead = aead;
    c.key_fingerprint = key_fingerprint;
    c.key_file = key_file;
    return c;
}

Object Change::object() const
{
    switch (op) {
    case Op::add_sa:
    case Op::remove_sa: return Object::sa;
    case Op::add_policy:
    case Op::update_policy:
    case Op::remove_policy: return Object::policy;
    case Op::add_link:
    case Op::remove_link: return Object::link;
    case Op::add_address:
    case Op::remove_address: return Object::address;
    case Op::add_route:
    case Op::remove_route: break;
    }
    return Object::route;
}

bool Change::is_add() const
{
    return op == Op::add_sa || op == Op::add_policy || op == Op::add_link || op == Op::add_address || op == Op::add_route;
}

bool Change::is_remove() const { return !is_add() && op != Op::update_policy; }

std::string Change::identity() const
{
    switch (object()) {
    case Object::sa: return sa->id.key();
    case Object::policy: return policy->id.key();
    case Object::link: return link_key(link->name);
    case Object::address: return address_key(link_name, *prefix);
    case Object::route: break;
    }
    return route_key(link_name, *prefix);
}

const char* Change::action() const { return is_add() ? "add" : is_remove() ? "remove" : "update"; }

std::string Change::describe() const
{
    switch (object()) {
    case Object::sa: return sa->describe();
    case Object::policy: return policy->describe();
    case Object::link: {
        std::string s = fmt::format("link {} {} id {}", link->name, netlink::link_kind_name(link->kind), link->id);
        if (link->kind != netlink::LinkKind::xfrm)
            s += fmt::format(" {} -> {}", link->local.str(), link->remote.str());
        return link->mtu ? s + fmt::format(" mtu {}", link->mtu) : s;
    }
    case Object::address: return fmt::format("address {} on {}", prefix->str(), link_name);
    case Object::route: break;
    }
    return fmt::format("route {} dev {}", prefix->str(), link_name);
}

bool Plan::has_changes() const
{
    return host.changes() || std::any_of(tunnels.begin(), tunnels.end(), [](const auto& t) { return !t.changes.empty(); });
}

bool Plan::has_refusals() const
{
    return !host.errors.empty() ||
           std::any_of(tunnels.begin(), tunnels.end(), [](const auto& t) { return t.blocked() || !t.errors.empty(); });
}

namespace {

// The kernel's entries by identity key.
struct KernelIndex {
    std::unordered_map<std::string, const netlink::SaEntry*> sas;
    std::unordered_map<std::string, const netlink::PolicyEntry*> policies;

    explicit KernelIndex(const netlink::Tables& kernel)
    {
        for (const auto& sa : kernel.sas)
            sas.emplace(sa.id.key(), &sa);
        for (const auto& p : kernel.policies)
            policies.emplace(p.id.key(), &p);
    }
};

Change remove_sa(const netlink::SaEntry& current, int phase, std::string reason)
{
    Change c;
    c.op = Op::remove_sa;
    c.phase = phase;
    c.sa = current.clone();
    c.reason = std::move(reason);
    return c;
}

Change remove_policy(const netlink::PolicyEntry& current, std::string reason)
{
    Change c;
    c.op = Op::remove_policy;
    c.phase = 2;
    c.policy = current;
    c.reason = std::move(reason);
    return c;
}

// The SA's whole key, in key-file order (AEAD, or cipher then integrity).
Secret key_material(const netlink::SaEntry& sa)
{
    std::size_t size = 0;
    for (const auto* a : {&sa.aead, &sa.crypt, &sa.auth})
        size += *a ? (*a)->key.size() : 0;
    Secret material(size);
    std::size_t at = 0;
    for (const auto* a : {&sa.aead, &sa.crypt, &sa.auth})
        if (*a) {
            std::copy((*a)->key.bytes().begin(), (*a)->key.bytes().end(), material.data() + at);
            at += (*a)->key.size();
        }
    return material;
}

TunnelPlan tunnel_plan(std::string name, std::string file, std::uint32_t reqid, bool removal)
{
    TunnelPlan t;
    t.name = std::move(name);
    t.file = std::move(file);
    t.reqid = reqid;
    t.removal = removal;
    return t;
}

class TunnelPlanner {
public:
    TunnelPlanner(const PlanInputs& in, const KernelIndex& kernel, TunnelPlan& out) : in_(in), kernel_(kernel), out_(out) {}

    void plan_sa(const DesiredSa& d)
    {
        std::string key = d.entry.id.key();
        auto it = kernel_.sas.find(key);
        if (it == kernel_.sas.end())
            return add_sa(d, "not in the kernel");
        auto owner = in_.ledger.sa_owner(key);
        if (!owner)
            return refuse(fmt::format("{}: the kernel already has an SA {} that xfrmctl did not install; remove it "
                                      "or choose another SPI",
                                      d.origin, key));
        if (it->second->same_config(d.entry))
            return adopt_sa(*owner, key);
        if (refused_for_reuse(d)) // then the old SA stays as it is
            return;
        out_.changes.push_back(remove_sa(*it->second, 1, changed("replaced: its", it->second->differences(d.entry))));
        add_sa(d, "replaces the SA of the same SPI");
    }

    void plan_policy(const DesiredPolicy& d)
    {
        if (charon_slot_taken(d))
            return refuse(fmt::format("{}: the kernel already has a policy {} that neither xfrmctl nor charon installed "
                                      "for this tunnel, where charon must put its own; remove it, or narrow this "
                                      "tunnel's subnets",
                                      d.origin, d.entry.id.selector.str()));
        std::string key = d.entry.id.key();
        auto it = kernel_.policies.find(key);
        if (it == kernel_.policies.end())
            return add_policy(d, Op::add_policy, nullptr, "not in the kernel");
        auto owner = in_.ledger.policy_owner(key);
        if (!owner)
            return refuse(fmt::format("{}: the kernel already has a policy {} that xfrmctl did not install; remove "
                                      "it, or narrow this tunnel's subnets",
                                      d.origin, d.entry.id.selector.str()));
        if (it->second->same_config(d.entry)) {
            if (*owner != out_.name)
                out_.adopted_policies.insert(key);
            return;
        }
        add_policy(d, Op::update_policy, it->second, changed("its", it->second->differences(d.entry)));
    }

private:
    void refuse(std::string why) { out_.refusals.push_back(std::move(why)); }

    // A negotiated tunnel's floor policy: the same selector without the
    // floor's mark is charon's place (plan::kFloorSelectorUser). Taken by
    // charon for this tunnel (its reqid), or by an earlier xfrmctl's
    // policy (owned), is as it should be; by anything else, charon could
    // not install its policies.
    bool charon_slot_taken(const DesiredPolicy& d) const
    {
        if (d.entry.id.selector.user != kFloorSelectorUser)
            return false;
        std::string charons = charon_policy_id(d.entry.id).key();
        auto it = kernel_.policies.find(charons);
        if (it == kernel_.policies.end() || in_.ledger.policy_owner(charons))
            return false;
        const auto& templates = it->second->templates;
        return templates.empty() || templates.front().reqid != d.entry.templates.front().reqid;
    }

    // "its if_id and lifetime changed": the reason names what differs, as
    // the two entries' lines show it.
    static std::string changed(const char* what, const std::vector<std::string>& fields)
    {
        return fmt::format("{} {} changed", what, netlink::join_names(fields));
    }

    void adopt_sa(const std::string& owner, const std::string& key)
    {
        if (owner != out_.name)
            out_.adopted_sas.insert(key);
    }

    void add_sa(const DesiredSa& d, std::string reason)
    {
        if (refused_for_reuse(d))
            return;
        Change c;
        c.op = Op::add_sa;
        c.sa = d.entry.clone();
        c.origin = d.origin;
        c.reason = std::move(reason);
        c.aead = d.aead;
        c.key_file = d.key_file;
        c.key_fingerprint = in_.history.fingerprint(key_material(d.entry).bytes());
        if (in_.history.contains(c.key_fingerprint))
            out_.warnings.push_back(fmt::format("{}: the key in {} was installed on this host before; the peer's "
                                                "replay window will drop traffic until the key is rolled",
                                                d.origin, d.key_file));
        out_.changes.push_back(std::move(c));
    }

    // A manual AEAD key is never installed twice: a new SA restarts its
    // counter, and with it the nonces (RFC 4106, RFC 7634). Nor is any SA
    // whose hard lifetime ran out: that is the operator's limit on the key.
    bool refused_for_reuse(const DesiredSa& d)
    {
        if (in_.ledger.expired().contains(d.entry.id.key())) {
            out_.errors.push_back(fmt::format("{}: its hard lifetime ran out: roll the key (a new key file and SPI); "
                                              "until then this SA is left out and the tunnel's traffic is dropped",
                                              d.origin));
            return true;
        }
        if (!d.aead || !in_.history.contains(in_.history.fingerprint(key_material(d.entry).bytes())))
            return false;
        out_.errors.push_back(fmt::format("{}: the key in {} was installed on this host before, and an AEAD key "
                                          "must never be installed twice: roll the key (a new key file and SPI); "
                                          "until then this SA is left out and the tunnel's traffic is dropped",
                                          d.origin, d.key_file));
        return true;
    }

    void add_policy(const DesiredPolicy& d, Op op, const netlink::PolicyEntry* before, std::string reason)
    {
        Change c;
        c.op = op;
        c.policy = d.entry;
        if (before)
            c.before = *before;
        c.origin = d.origin;
        c.reason = std::move(reason);
        out_.changes.push_back(std::move(c));
    }

    const PlanInputs& in_;
    const KernelIndex& kernel_;
    TunnelPlan& out_;
};

// Removes what a tunnel owns but no tunnel wants any more.
void sweep(TunnelPlan& out, const state::OwnedTunnel& owned, const KernelIndex& kernel,
           const std::set<std::string>& wanted, const std::string& reason)
{
    for (const auto& key : owned.sas) {
        if (wanted.contains(key))
            continue;
        if (auto it = kernel.sas.find(key); it != kernel.sas.end())
            out.changes.push_back(remove_sa(*it->second, 2, reason));
        else
            out.stale.insert(key);
    }
    for (const auto& key : owned.policies) {
        if (wanted.contains(key))
            continue;
        if (auto it = kernel.policies.find(key); it != kernel.policies.end())
            out.changes.push_back(remove_policy(*it->second, reason));
        else
            out.stale.insert(key);
    }
}

int order(const Change& c)
{
    // Phase 1: free identities, add SAs, then the policies that use them,
    // then the interface that routes traffic to them.
    // Phase 2: routes and interfaces first; then SAs before policies, so
    // that between the two traffic is dropped, not sent in clear.
    static constexpr Op kPhase1[] = {Op::remove_sa,   Op::add_sa,      Op::add_policy, Op::update_policy,
                                     Op::remove_link, Op::add_link,    Op::add_address, Op::add_route};
    static constexpr Op kPhase2[] = {Op::remove_route, Op::remove_address, Op::remove_link, Op::remove_sa,
                                     Op::remove_policy};
    const Op* begin = c.phase == 1 ? std::begin(kPhase1) : std::begin(kPhase2);
    const Op* end = c.phase == 1 ? std::end(kPhase1) : std::end(kPhase2);
    return (c.phase == 1 ? 0 : 100) + static_cast<int>(std::find(begin, end, c.op) - begin);
}

void sort_changes(TunnelPlan& t)
{
    std::stable_sort(t.changes.begin(), t.changes.end(), [](const Change& a, const Change& b) { return order(a) < order(b); });
}

std::set<std::string> wanted_keys(const std::vector<DesiredTunnel>& desired)
{
    std::set<std::string> wanted;
    for (const auto& d : desired) {
        for (const auto& sa : d.sas)
            wanted.insert(sa.entry.id.key());
        for (const auto& p : d.policies)
            wanted.insert(p.entry.id.key());
        wanted_interface_keys(d, wanted);
    }
    return wanted;
}

} // namespace

Plan make_plan(const PlanInputs& in)
{
    KernelIndex kernel(in.kernel);
    std::set<std::string> wanted = wanted_keys(in.desired);
    Plan plan;
    std::set<std::string> seen;
    for (const auto& d : in.desired) {
        TunnelPlan t = tunnel_plan(d.name, d.file, d.reqid, false);
        TunnelPlanner planner(in, kernel, t);
        for (const auto& sa : d.sas)
            planner.plan_sa(sa);
        for (const auto& p : d.policies)
            planner.plan_policy(p);
        InterfacePlanner interfaces(in.links, in.ledger, t);
        if (d.interface)
            interfaces.plan(*d.interface);
        if (const auto* owned = in.ledger.find(d.name)) {
            sweep(t, *owned, kernel, wanted, "no longer in the definition");
            interfaces.sweep(*owned, wanted, "no longer in the definition");
        }
        sort_changes(t);
        seen.insert(d.name);
        plan.tunnels.push_back(std::move(t));
    }
    for (const auto& [name, owned] : in.ledger.tunnels()) {
        if (seen.contains(name))
            continue;
        TunnelPlan t = tunnel_plan(name, "", owned.reqid, true);
        std::string reason = name == kHostTunnel         ? "no longer in the host's settings"
                             : in.absent.contains(name) ? "the tunnel is marked absent"
                                                        : "the tunnel is no longer defined";
        sweep(t, owned, kernel, wanted, reason);
        InterfacePlanner(in.links, in.ledger, t).sweep(owned, wanted, reason);
        sort_changes(t);
        plan.tunnels.push_back(std::move(t));
    }
    return plan;
}

Plan plan_removal(const std::vector<std::string>& names, const state::Ledger& ledger, const netlink::Tables& kernel_tables,
                  const LinkSnapshot& links)
{
    KernelIndex kernel(kernel_tables);
    Plan plan;
    plan.takedown = true;
    for (const auto& name : names) {
        TunnelPlan t = tunnel_plan(name, "", 0, true);
        if (const auto* owned = ledger.find(name)) {
            t.reqid = owned->reqid;
            sweep(t, *owned, kernel, {}, "taken down");
            InterfacePlanner(links, ledger, t).sweep(*owned, {}, "taken down");
        }
        sort_changes(t);
        plan.tunnels.push_back(std::move(t));
    }
    return plan;
}

namespace {

std::uint32_t reqid_from_name(const std::string& name, std::uint32_t attempt)
{
    std::string input = name + "#" + std::to_string(attempt);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    std::uint32_t v = static_cast<std::uint32_t>(digest[0]) << 24 | digest[1] << 16 | digest[2] << 8 | digest[3];
    // Keep clear of the small reqids that strongSwan and hand-written
    // configurations use: 0x10000000 and up.
    return 0x10000000u | (v & 0x7fffffffu);
}

std::set<std::uint32_t> reqids_in_use(const state::Ledger& ledger, const netlink::Tables& kernel)
{
    std::set<std::uint32_t> used;
    for (const auto& sa : kernel.sas)
        used.insert(sa.reqid);
    for (const auto& p : kernel.policies)
        for (const auto& t : p.templates)
            used.insert(t.reqid);
    for (const auto& [name, owned] : ledger.tunnels())
        used.insert(owned.reqid);
    return used;
}

} // namespace

std::map<std::string, std::uint32_t> assign_reqids(const std::vector<std::string>& names, const state::Ledger& ledger,
                                                   const netlink::Tables& kernel)
{
    std::map<std::string, std::uint32_t> reqids;
    std::set<std::uint32_t> used = reqids_in_use(ledger, kernel);
    for (const auto& name : names) {
        if (const auto* owned = ledger.find(name); owned && owned->reqid) {
            reqids[name] = owned->reqid;
            continue;
        }
        std::uint32_t attempt = 0, reqid = reqid_from_name(name, attempt);
        while (used.contains(reqid))
            reqid = reqid_from_name(name, ++attempt);
        used.insert(reqid);
        reqids[name] = reqid;
    }
    return reqids;
}

} // namespace xfrmctl::plan
