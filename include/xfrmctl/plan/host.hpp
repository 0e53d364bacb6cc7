// The host-wide part of a plan: the kernel's default policy and the SPD
// hash thresholds (bypass policies are planned as the entries of a pseudo
// tunnel, kHostTunnel).
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/netlink/kernel.hpp"
#include "xfrmctl/plan/desired.hpp"
#include "xfrmctl/state/ledger.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace xfrmctl::plan {

// Owns the bypass policies in the ledger; no tunnel name can be this.
inline constexpr const char* kHostTunnel = "@host";

DesiredTunnel compile_host(const model::HostSettings& host);

// How far one tunnel (or the bypass policies, kHostTunnel) lowers a
// family's thresholds.
struct ThresholdNeed {
    std::string tunnel;
    netlink::HashThresholds thresholds;
};

struct ThresholdChange {
    std::uint16_t family;
    netlink::HashThresholds before, after;
    // The thresholds go in and out with the tunnels that need them: each
    // tunnel whose policies need them lower than `before`.
    std::vector<ThresholdNeed> needs;

    // The thresholds that the tunnels `kept` says are kept need: `before`
    // where none of them needs them lower.
    netlink::HashThresholds needed_by(const std::function<bool(const std::string&)>& kept) const;
};

struct HostPlan {
    // Host settings go with the tunnels: the thresholds are lowered before
    // the tunnels' policies go in, and given back with a tunnel whose
    // changes are undone; the default policy is set after everything else,
    // and not at all when every tunnel with changes failed.
    std::vector<ThresholdChange> thresholds;
    std::optional<netlink::DefaultPolicy> default_before, default_after;
    bool save_default = false;   // remember default_before in the ledger, to restore it one day
    bool forget_default = false; // the saved one was restored
    std::vector<std::string> errors;

    bool changes() const { return !thresholds.empty() || default_after.has_value(); }
};

// Thresholds low enough for every wanted policy to be hashed (never raised:
// that would only slow someone else's policies); the default policy as the
// definitions ask, or back to what it was before we set it.
HostPlan plan_host(const std::optional<model::HostSettings>& host, const std::vector<DesiredTunnel>& desired,
                   const netlink::Tables& kernel, const state::Ledger& ledger);

} // namespace xfrmctl::plan
