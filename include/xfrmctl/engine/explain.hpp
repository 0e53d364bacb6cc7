// `xfrmctl explain`: for one flow, what the kernel's XFRM lookup will do
// with it, step by step. A pure function over the kernel's tables that
// follows xfrm_policy_lookup_bytype() (the matching policy of lowest
// priority), xfrm_tmpl_resolve_one() (each template in order) and
// xfrm_state_find() (the newest valid SA), so that its answer can be
// checked against the packets the kernel actually sends.
#pragma once

#include "xfrmctl/netlink/kernel.hpp"
#include "xfrmctl/state/ledger.hpp"

#include <optional>
#include <string>
#include <vector>

namespace xfrmctl::engine {

struct Flow {
    IpAddress src, dst;
    std::uint8_t proto = 0;     // 0: any protocol (matches only protocol-less selectors' policies fully)
    std::uint16_t sport = 0, dport = 0;
    std::uint32_t mark = 0;
    std::uint32_t if_id = 0;
    netlink::Direction dir = netlink::Direction::out;
    std::string str() const;
};

enum class Verdict { protected_, bypassed, dropped_no_sa, dropped_blocked, clear_no_policy, dropped_default };

struct TemplateStep {
    netlink::Template tmpl;
    std::optional<netlink::SaEntry> sa; // nullopt: no SA (an acquire, and the packet dropped)
    IpAddress daddr, saddr;             // the addresses the SA was looked up with
    std::string owner;                  // the tunnel that owns the SA, if ours
    bool negotiated = false;            // charon's SA for that tunnel (ikev2), not in the ledger
};

struct Explanation {
    Flow flow;
    std::optional<netlink::PolicyEntry> policy;
    std::string policy_owner; // tunnel name, or "" for foreign
    // The policy is charon's for a negotiated tunnel: the one ahead of the
    // tunnel's own (plan::kFloorSelectorUser), which policy_owner names.
    bool charon_policy = false;
    std::string why;          // why this policy: the priority arithmetic
    std::vector<netlink::PolicyEntry> also_matched; // losers, by priority
    std::vector<TemplateStep> steps;
    Verdict verdict = Verdict::clear_no_policy;
    std::string summary;
};

Explanation explain(const Flow& flow, const netlink::Tables& kernel, const state::Ledger& ledger);

// For the why: the automatic priority of a selector, spelt out.
std::string priority_arithmetic(const netlink::Selector& s, std::uint32_t priority);

} // namespace xfrmctl::engine
