// Carries out a plan against the kernel: the thin part that writes.
#pragma once

#include "xfrmctl/netlink/kernel.hpp"
#include "xfrmctl/netlink/links.hpp"
#include "xfrmctl/plan/planner.hpp"
#include "xfrmctl/state/store.hpp"

#include <string>
#include <vector>

namespace xfrmctl::engine {

struct TunnelOutcome {
    std::vector<bool> done; // per change of the tunnel's plan: it stayed in the kernel
    std::string error;      // empty when the tunnel's changes all went in
    bool changed() const;
};

struct ApplyReport {
    std::vector<TunnelOutcome> tunnels; // in the order of plan.tunnels
    plan::HostPlan host;                // the host settings as they were changed
    std::string host_error;
    bool host_changed() const { return host.changes(); }
    bool changed() const;
    bool failed() const;
};

// Every tunnel's first phase goes to the kernel in one batch; a tunnel any
// part of which the kernel refuses is undone on its own, with the kernel's
// reason, and the others are unaffected; the second phase (removals) runs
// only for the tunnels whose first phase went in whole. Blocked tunnels are
// left as they are. Host settings go with the tunnels (see plan::HostPlan):
// an apply in which every tunnel failed leaves the host as it was. The
// ledger records what is owned before the kernel is
// written (so a crash never leaves an owned entry unrecorded) and after.
Result<ApplyReport> execute(const plan::Plan& plan, netlink::Kernel& kernel, netlink::Links& links, state::Store& store);

} // namespace xfrmctl::engine
