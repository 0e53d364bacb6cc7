#include "xfrmctl/engine/explain.hpp"

#include "xfrmctl/plan/desired.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace xfrmctl::engine {

using netlink::Mode;

std::string Flow::str() const
{
    std::string s = fmt::format("{} {} -> {}", netlink::direction_name(dir), src.str(), dst.str());
    if (proto)
        s += fmt::format(" proto {}", proto);
    if (dport)
        s += fmt::format(" dport {}", dport);
    if (mark)
        s += fmt::format(" mark 0x{:x}", mark);
    return s;
}

namespace {

bool ports_match(std::uint16_t port, std::uint16_t want, std::uint16_t mask) { return ((port ^ want) & mask) == 0; }

// __xfrm4_selector_match() and __xfrm6_selector_match().
bool selector_matches(const netlink::Selector& s, const Flow& f)
{
    return s.family() == f.src.family && s.src.contains(f.src) && s.dst.contains(f.dst) &&
           (s.proto == 0 || s.proto == f.proto) && ports_match(f.sport, s.sport, s.sport_mask) &&
           ports_match(f.dport, s.dport, s.dport_mask);
}

// xfrm_policy_match(): the flow's mark under the policy's mask, and the same if_id.
bool policy_matches(const netlink::PolicyEntry& p, const Flow& f)
{
    return p.id.dir == f.dir && p.id.type == XFRM_POLICY_TYPE_MAIN && (f.mark & p.id.mark.mask) == p.id.mark.value &&
           p.id.if_id == f.if_id && selector_matches(p.id.selector, f);
}

bool addresses_equal(const IpAddress& a, const IpAddress& b) { return a.family == b.family && a.bytes == b.bytes; }

// xfrm_state_find() via xfrm_state_look_at(): a valid SA of the template's
// protocol, mode and reqid between the addresses; the newest wins.
std::optional<netlink::SaEntry> find_sa(const netlink::Template& t, const IpAddress& daddr, const IpAddress& saddr,
                                        const Flow& f, const netlink::Tables& kernel)
{
    const netlink::SaEntry* best = nullptr;
    for (const auto& sa : kernel.sas) {
        if (sa.id.spi == 0 || sa.id.proto != t.proto || sa.mode != t.mode || (t.reqid && sa.reqid != t.reqid) ||
            (t.spi && sa.id.spi != t.spi)) // a template naming an SPI takes that SA only
            continue;
        if (!addresses_equal(sa.id.daddr, daddr) || !(saddr.is_unspecified() || addresses_equal(sa.saddr, saddr)))
            continue;
        if ((f.mark & sa.id.mark.mask) != sa.id.mark.value || sa.if_id != f.if_id)
            continue;
        if (!best || sa.counters.add_time > best->counters.add_time)
            best = &sa;
    }
    return best ? std::optional(best->clone()) : std::nullopt;
}

std::string owner_of_policy(const netlink::PolicyEntry& p, const state::Ledger& ledger)
{
    return ledger.policy_owner(p.id.key()).value_or("");
}

bool same_reqids(const netlink::PolicyEntry& a, const netlink::PolicyEntry& b)
{
    return std::equal(a.templates.begin(), a.templates.end(), b.templates.begin(), b.templates.end(),
                      [](const auto& x, const auto& y) { return x.reqid == y.reqid; });
}

// charon's policy for a negotiated tunnel: not ours, but the same selector
// and reqid as the tunnel's own floor policy behind it.
std::string charon_policy_owner(const netlink::PolicyEntry& p, const std::vector<const netlink::PolicyEntry*>& matching,
                                const state::Ledger& ledger)
{
    if (p.id.selector.user != 0 || p.templates.empty())
        return "";
    for (const auto* floor : matching)
        if (floor->id.selector.user == plan::kFloorSelectorUser && plan::charon_policy_id(floor->id) == p.id &&
            same_reqids(*floor, p))
            return owner_of_policy(*floor, ledger);
    return "";
}

void resolve_templates(Explanation& e, const netlink::Tables& kernel, const state::Ledger& ledger)
{
    IpAddress daddr = e.flow.dst, saddr = e.flow.src; // transport mode: the packet's own
    for (const auto& t : e.policy->templates) {
        if (t.mode == Mode::tunnel) { // a tunnel's endpoints, for it and the templates after it
            daddr = t.daddr;
            saddr = t.saddr;
        }
        TemplateStep step{t, find_sa(t, daddr, saddr, e.flow, kernel), daddr, saddr, "", false};
        if (step.sa)
            step.owner = ledger.sa_owner(step.sa->id.key()).value_or("");
        // An ikev2 tunnel's SAs are charon's: ours by the reqid our policy names.
        if (step.sa && step.owner.empty() && !e.policy_owner.empty() && t.reqid != 0 && step.sa->reqid == t.reqid) {
            step.owner = e.policy_owner;
            step.negotiated = true;
        }
        e.steps.push_back(std::move(step));
    }
}

void conclude(Explanation& e)
{
    const netlink::PolicyEntry& p = *e.policy;
    std::string by = e.policy_owner.empty() ? "a policy xfrmctl did not install"
                     : e.charon_policy      ? "tunnel " + e.policy_owner + " (charon's policy, ahead of the tunnel's own)"
                                            : "tunnel " + e.policy_owner;
    if (p.action == XFRM_POLICY_BLOCK) {
        e.verdict = Verdict::dropped_blocked;
        e.summary = "dropped: " + by + " blocks it";
    } else if (p.templates.empty()) {
        e.verdict = Verdict::bypassed;
        e.summary = "allowed in clear: " + by + " lets it bypass IPsec";
    } else if (std::any_of(e.steps.begin(), e.steps.end(), [](const auto& s) { return !s.sa && !s.tmpl.optional; })) {
        e.verdict = Verdict::dropped_no_sa;
        e.summary = "dropped: " + by + " requires an SA that is not there (the kernel asks for one: an acquire)";
    } else {
        e.verdict = Verdict::protected_;
        std::string chain;
        for (auto it = e.steps.rbegin(); it != e.steps.rend(); ++it) // outermost first, as on the wire
            if (it->sa)
                chain += fmt::format("{}{} spi 0x{:08x}", chain.empty() ? "" : " over ", netlink::protocol_name(it->sa->id.proto),
                                     it->sa->id.spi);
        e.summary = "protected by " + by + ": " + chain + " (" + netlink::mode_name(p.templates.front().mode) + " mode)";
    }
}

} // namespace

std::string priority_arithmetic(const netlink::Selector& s, std::uint32_t priority)
{
    std::uint32_t automatic = plan::automatic_priority(s);
    if (priority != automatic)
        return fmt::format("priority {} was set explicitly (the automatic one would be {})", priority, automatic);
    unsigned port_bits = static_cast<unsigned>(__builtin_popcount(s.sport_mask) + __builtin_popcount(s.dport_mask));
    return fmt::format("priority {} = 200000 - ({} + {}) prefix bits x 512 - {} (protocol) - {} port bits x 4", priority,
                       s.src.length, s.dst.length, s.proto ? 256 : 0, port_bits);
}

Explanation explain(const Flow& flow, const netlink::Tables& kernel, const state::Ledger& ledger)
{
    Explanation e;
    e.flow = flow;
    std::vector<const netlink::PolicyEntry*> matching;
    for (const auto& p : kernel.policies)
        if (policy_matches(p, flow))
            matching.push_back(&p);
    // The lowest priority wins; on a tie, the one inserted first (the lower index).
    std::sort(matching.begin(), matching.end(), [](const auto* a, const auto* b) {
        return a->priority != b->priority ? a->priority < b->priority : a->index < b->index;
    });
    if (matching.empty()) {
        bool block = kernel.defaults && (flow.dir == netlink::Direction::out ? kernel.defaults->out
                                         : flow.dir == netlink::Direction::in ? kernel.defaults->in
                                                                              : kernel.defaults->fwd) == XFRM_USERPOLICY_BLOCK;
        e.verdict = block ? Verdict::dropped_default : Verdict::clear_no_policy;
        e.summary = block ? "dropped: no policy matches and the kernel's default policy blocks"
                          : "sent in clear: no IPsec policy matches this flow";
        return e;
    }
    e.policy = *matching.front();
    e.policy_owner = owner_of_policy(*e.policy, ledger);
    e.why = priority_arithmetic(e.policy->id.selector, e.policy->priority);
    if (e.policy_owner.empty() && !(e.policy_owner = charon_policy_owner(*e.policy, matching, ledger)).empty()) {
        e.charon_policy = true;
        e.why = fmt::format("priority {}: charon's, one ahead of the tunnel's own policy", e.policy->priority);
    }
    if (matching.size() > 1 && matching[1]->priority == e.policy->priority)
        e.why += "; it ties with another policy and wins by having been inserted first";
    for (std::size_t i = 1; i < matching.size(); ++i)
        e.also_matched.push_back(*matching[i]);
    resolve_templates(e, kernel, ledger);
    conclude(e);
    return e;
}

} // namespace xfrmctl::engine
