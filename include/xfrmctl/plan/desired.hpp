// What the kernel should hold for each tunnel: its SAs and policies, built
// from the definitions. Pure: no kernel, no files.
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/model/keys.hpp"
#include "xfrmctl/netlink/policy.hpp"
#include "xfrmctl/netlink/sa.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace xfrmctl::plan {

// Facts about the running kernel that change what is sent to it (found by
// engine::probe_kernel()).
struct KernelTraits {
    bool sa_dir = false; // SAs carry their direction (XFRMA_SA_DIR, Linux 6.10)
    bool xfrm_interfaces = false;
    bool vti = false, vti6 = false;
    bool ipcomp4 = false, ipcomp6 = false; // reported by `capabilities`; no definition uses IPComp
    bool crypto_offload = false; // the kernel takes XFRMA_OFFLOAD_DEV for ESP (INET_ESP_OFFLOAD)
    bool packet_offload = false; // ... with XFRM_OFFLOAD_PACKET (Linux 6.2)
    // The devices the definitions offload to, by name: their ifindex in the
    // caller's namespace (engine::find_offload_devices(); not cached, as an
    // ifindex does not outlive its device).
    std::map<std::string, int> offload_devices;
};

struct DesiredSa {
    netlink::SaEntry entry;
    std::string origin;   // JSON path of its {spi, key_file}
    std::string key_file; // as the operator wrote it (never the key)
    std::string generation;
    bool outbound = false;
    bool aead = false;
};

struct DesiredPolicy {
    netlink::PolicyEntry entry;
    std::string origin; // JSON path of the subnets that made it
};

// A route-based tunnel's interface, its addresses and the routes into it.
struct DesiredInterface {
    netlink::LinkSpec link;
    std::vector<Prefix> addresses;
    std::vector<Prefix> routes;
    std::string origin;
};

struct DesiredTunnel {
    std::string name;
    std::string file;
    std::uint32_t reqid = 0;
    std::vector<DesiredSa> sas;
    std::vector<DesiredPolicy> policies;
    std::optional<DesiredInterface> interface;
};

struct CompileOptions {
    // Without keys the SAs carry none (for status, which compares all but keys).
    const model::KeyRing* keys = nullptr;
    KernelTraits traits{};
    std::int64_t now = 0; // which generation sends depends on the time
    // Generations whose inbound SAs xfrmd has retired (retirement_key()).
    const std::set<std::string>* retired = nullptr;
};

DesiredTunnel compile_tunnel(const model::Tunnel& tunnel, std::uint32_t reqid, const CompileOptions& options);

// Names a generation's inbound SAs for the record of retired ones.
std::string retirement_key(const std::string& tunnel, const model::Generation& g);

// The interface kind a tunnel gets: its own choice, else an XFRM interface
// where the kernel has them, else VTI.
netlink::LinkKind link_kind(const model::Tunnel& tunnel, const KernelTraits& traits);

// Puts the proposal's transforms on an SA, splitting the key file's
// material as the proposal lays it out (no key when `key` is null).
void set_algorithms(netlink::SaEntry& sa, const model::Proposal& proposal, const Secret* key);

// The policy priority when the definition gives none: narrower selectors
// first (a lower number wins), by prefix lengths, then protocol, then ports.
std::uint32_t automatic_priority(const netlink::Selector& selector);

// A negotiated tunnel has two layers of policies with the same selectors.
// charon's own (swanctl "policies = yes") steer the traffic: their
// templates name the SPI of the SA in use, and charon moves that SPI within
// its own rekeying, after the peer can receive on the new SA (what the
// kernel would otherwise do at once: take the newest SA of the reqid).
// xfrmd's, one step behind in priority and naming only the reqid, are the
// floor: whenever charon's are absent (IKE down) they catch the traffic,
// which the kernel then drops while it asks for an SA (fail closed, and the
// acquire that starts IKE on demand). The kernel tells two policies apart by
// their whole selector, "user" field included (selector_cmp() in
// include/net/xfrm.h, used by xfrm_policy_insert_list() in
// net/xfrm/xfrm_policy.c), not by priority; "user" plays no part in
// matching (__xfrm4_selector_match()), so xfrmd's floor carries this mark
// there and charon's (0) can stand beside it.
inline constexpr std::uint32_t kFloorSelectorUser = 0x78666c72; // "xflr"

// Where charon's policy stands beside a floor policy of xfrmd's: the same
// identity without the floor's mark.
inline netlink::PolicyId charon_policy_id(netlink::PolicyId floor)
{
    floor.selector.user = 0;
    return floor;
}

// The priority charon gives a negotiated tunnel's policies: one ahead of the
// first (lowest-numbered) of xfrmd's floor policies for it.
std::uint32_t charon_policy_priority(const model::Tunnel& tunnel);

} // namespace xfrmctl::plan
