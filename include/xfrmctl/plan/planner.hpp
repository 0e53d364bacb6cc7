// The planner: desired state and current state in, a list of changes out.
// Pure: it reads no file and touches no kernel, so it is tested directly.
#pragma once

#include "xfrmctl/netlink/kernel.hpp"
#include "xfrmctl/plan/desired.hpp"
#include "xfrmctl/plan/host.hpp"
#include "xfrmctl/plan/interfaces.hpp"
#include "xfrmctl/state/key_history.hpp"
#include "xfrmctl/state/ledger.hpp"
#include "xfrmctl/util/boxed.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace xfrmctl::plan {

enum class Op {
    add_sa, remove_sa,
    add_policy, update_policy, remove_policy,
    add_link, remove_link,
    add_address, remove_address,
    add_route, remove_route,
};
enum class Object { sa, policy, link, address, route };

struct Change {
    Op op = Op::add_sa;
    // Phase 1 makes (adds, updates, and removals that free an SA's identity
    // for its replacement); phase 2 breaks what is no longer wanted, only
    // once phase 1 of the same tunnel has fully succeeded.
    int phase = 1;
    // On the heap: a change holds one of them (a plan for 10,000 tunnels
    // has some 50,000 changes).
    Boxed<netlink::SaEntry> sa;         // add: as desired; remove: as the kernel has it
    Boxed<netlink::PolicyEntry> policy; // add, update: as desired; remove: as the kernel has it
    Boxed<netlink::PolicyEntry> before; // update: as the kernel has it now, to undo
    Boxed<netlink::LinkSpec> link;      // add: as desired; remove: as the kernel has it
    std::string link_name;              // address and route changes: on which link
    std::optional<Prefix> prefix;       // the address, or the route's destination
    std::string origin;                 // JSON path that asked for it, if any
    std::string reason;
    bool aead = false;           // add_sa: an AEAD key
    std::string key_fingerprint; // add_sa: in KeyHistory terms
    std::string key_file;        // add_sa: as the operator wrote it

    Change clone() const;
    Object object() const;
    bool is_sa() const { return object() == Object::sa; }
    bool is_xfrm() const { return object() == Object::sa || object() == Object::policy; }
    bool is_add() const;
    bool is_remove() const;
    std::string identity() const; // the kernel identity key of the entry
    std::string describe() const; // one line, never key material
    const char* action() const;   // "add", "update", "remove"
};

struct TunnelPlan {
    std::string name;
    std::string file;
    std::uint32_t reqid = 0;
    bool removal = false; // the tunnel is no longer wanted
    std::vector<Change> changes;
    std::vector<std::string> refusals; // why it cannot be changed; then nothing of it is
    // Errors that leave the rest of the tunnel to go in: an SA whose AEAD key
    // was installed before is not installed, but its policies are, so that
    // the tunnel's traffic is dropped rather than sent in clear.
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
    std::set<std::string> adopted_sas, adopted_policies, adopted_interface; // owned under another name, already right
    std::set<std::string> stale; // owned, not wanted, and already gone from the kernel

    bool blocked() const { return !refusals.empty(); }
};

struct Plan {
    std::vector<TunnelPlan> tunnels;
    HostPlan host;
    bool takedown = false; // plan_removal's: about the named tunnels, not the definitions
    bool has_changes() const;
    bool has_refusals() const; // refusals or errors: exit status 1
};

struct PlanInputs {
    const std::vector<DesiredTunnel>& desired; // the present tunnels
    const std::set<std::string>& absent;       // defined with "state": "absent"
    const state::Ledger& ledger;
    const netlink::Tables& kernel;
    const state::KeyHistory& history;
    const LinkSnapshot& links;
};

Plan make_plan(const PlanInputs& in);

// Only removals: every owned entry of the named tunnels (for `down`).
Plan plan_removal(const std::vector<std::string>& names, const state::Ledger& ledger, const netlink::Tables& kernel,
                  const LinkSnapshot& links);

// A reqid for every tunnel: the one it had, or a new one derived from its
// name (scattered, so the kernel's SA hash stays even; see __xfrm_dst_hash)
// that no other entry in the kernel uses.
std::map<std::string, std::uint32_t> assign_reqids(const std::vector<std::string>& names, const state::Ledger& ledger,
                                                   const netlink::Tables& kernel);

} // namespace xfrmctl::plan
