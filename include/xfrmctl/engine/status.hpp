// Each tunnel's state, from its definition and what the kernel holds.
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/netlink/kernel.hpp"
#include "xfrmctl/plan/desired.hpp"
#include "xfrmctl/plan/interfaces.hpp"
#include "xfrmctl/state/ledger.hpp"
#include "xfrmctl/state/observations.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xfrmctl::engine {

enum class Health { up, degraded, down };
const char* health_name(Health h);

struct SaStatus {
    std::string generation;
    bool outbound = false;
    std::uint8_t proto = 0;
    std::uint32_t spi = 0;
    bool present = false;
    netlink::SaCounters counters;
    // What the kernel says of the SA's offload (nullopt: in software), and
    // its device's name where the definitions name it.
    std::optional<netlink::Offload> offload;
    std::string offload_device;
};

// An ikev2 tunnel's IKE SA and CHILD SA as charon reports them (xfrmd only).
struct IkeStatus {
    std::string state = "none";    // charon's IKE SA state: "ESTABLISHED", "CONNECTING", or "none"
    std::string ike_algorithms;    // "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519"
    std::string child_algorithms;  // "AES_GCM_16-256/CURVE_25519"
    std::string child_state = "none"; // "INSTALLED", "REKEYING", ... or "none"
    std::optional<std::int64_t> established;   // unix time the IKE SA came up
    std::optional<std::int64_t> ike_rekey;     // unix time of its next rekey
    std::optional<std::int64_t> child_installed; // unix time the CHILD SA was installed (its last rekey)
    std::optional<std::int64_t> child_rekey;   // unix time of its next rekey
    std::string remote_id;
    std::string last_alert; // charon's words for the last failure
    // Why xfrmd last replaced the IKE SA (its CHILD SA could not be had
    // inside it) and when: kept once the tunnel is up again, as such a
    // tunnel goes down at every CHILD SA rekeying.
    std::string last_restart;
    std::optional<std::int64_t> restarted;
};

struct TunnelStatus {
    std::string name;
    Health health = Health::down;
    std::string reason; // why it is not up
    const model::Tunnel* definition = nullptr;
    std::vector<SaStatus> sas;
    std::size_t policies_wanted = 0, policies_present = 0;
    std::string interface; // the link's name, for a route-based tunnel
    std::string generation;               // the key generation that sends
    std::optional<std::int64_t> next_roll; // when a newer generation starts sending
    std::uint64_t bytes_in = 0, bytes_out = 0, packets_in = 0, packets_out = 0;
    std::uint64_t replay_errors = 0, integrity_errors = 0;
    std::optional<std::uint64_t> last_in_seconds;
    std::optional<IkeStatus> ike; // ikev2 tunnels, from xfrmd
};

struct StatusInputs {
    const model::Definitions& defs;
    const state::Ledger& ledger;
    const netlink::Tables& kernel;
    const plan::LinkSnapshot& links;
    const plan::KernelTraits& traits;
    const std::set<std::uint16_t>& held_encap_ports; // UDP ports with an ESP-in-UDP socket held
};

// The first reason, in order of gravity, that a tunnel is not up: a graver
// state replaces the one there, an equal one keeps its reason.
void demote(TunnelStatus& s, Health h, std::string reason);

// Whether a kernel SA is one charon negotiated for an ikev2 tunnel (charon
// installs them with the reqid xfrmd gave it; they are not in the ledger):
// it carries the tunnel's reqid between its two addresses and has an SPI (a
// larval acquire state has none). Its direction, true for outbound.
std::optional<bool> negotiated_direction(const netlink::SaEntry& sa, const model::Tunnel& tunnel, std::uint32_t reqid);

std::vector<TunnelStatus> tunnel_status(const StatusInputs& in, state::Observations& observations, std::uint64_t now);

} // namespace xfrmctl::engine
