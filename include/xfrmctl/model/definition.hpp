// Tunnel definitions (format version 1, see xfrmctl.json(5)), as read and
// checked from the operator's JSON. Nothing here touches the kernel.
#pragma once

#include "xfrmctl/model/proposal.hpp"
#include "xfrmctl/net/address.hpp"
#include "xfrmctl/netlink/links.hpp"
#include "xfrmctl/netlink/spd.hpp"
#include "xfrmctl/netlink/xfrm.hpp"
#include "xfrmctl/util/boxed.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xfrmctl::model {

enum class Protocol { esp, ah, ah_esp };
const char* protocol_name(Protocol protocol);

// One SA's manual key: its SPI and where its key material lives.
struct KeyRef {
    std::uint32_t spi = 0;
    // Absolute, or relative to the working directory. A string: a
    // std::filesystem::path keeps a list of its components on the heap, and
    // 10,000 tunnels name 20,000 key files or more.
    std::string key_file;
    std::string written_as; // the key_file string as the operator wrote it
    std::string path;       // JSON path of this {spi, key_file} object
};

// The SAs of one direction: an ESP one, an AH one, or both for ah+esp.
struct DirectionKeys {
    // On the heap: a tunnel uses one or both, and each key reference is
    // 104 bytes.
    Boxed<KeyRef> esp;
    Boxed<KeyRef> ah;
    std::uint32_t first_spi() const { return esp ? esp->spi : ah ? ah->spi : 0; }
};

// One generation of a tunnel's manual keys. Rolling keys without losing a
// packet: a new generation is first listed with "send": false on both ends
// (its inbound SAs go in), then made to send (its outbound SAs replace the
// old ones); the old generation's inbound SAs stay until it is removed
// (xfrmd retires them by itself once the peer has switched and they have
// been idle for the grace period).
struct Generation {
    std::string name;
    DirectionKeys outbound, inbound;
    bool send = true;
    std::optional<std::int64_t> send_from; // unix time: sends from then on
    std::string path;                      // JSON path of the generation

    bool sends_at(std::int64_t now) const { return send && (!send_from || now >= *send_from); }
};

struct Endpoint {
    IpAddress address;
    std::vector<Prefix> subnets; // never empty once read: defaults to the address
};

// Narrows a tunnel's traffic to one IP protocol and, optionally, ports.
struct Traffic {
    std::uint8_t protocol = 0;
    std::uint16_t local_port = 0; // 0: any
    std::uint16_t remote_port = 0;
};

// ESP in UDP (RFC 3948), for crossing NAT.
struct Encapsulation {
    std::uint16_t local_port = 4500;
    std::uint16_t remote_port = 4500;
};

// NIC offload of the tunnel's SAs (both directions) to one device: crypto
// offload (the device encrypts and decrypts, the kernel does the rest) or
// packet offload (the device does the whole ESP work, Linux 6.2 and later).
struct Offload {
    std::string device;
    bool packet = false;
};

// A route-based tunnel: an XFRM interface (or VTI) that carries the
// tunnel's traffic, with its own addresses and the routes into it.
struct Interface {
    std::string name;
    std::optional<netlink::LinkKind> kind; // default: what the kernel has
    std::optional<std::uint32_t> id;       // if_id or VTI key; default: the tunnel's reqid
    std::vector<Prefix> addresses;         // host bits allowed: "169.254.0.1/30"
    std::vector<Prefix> routes;
    std::uint32_t mtu = 0;
};

// What xfrmd watches to tell whether a tunnel works: the kernel's counters
// always; with a target, an echo request through the tunnel every interval.
struct HealthCheck {
    std::uint32_t interval = 5;   // seconds
    std::uint32_t dead_after = 15; // seconds without an answer (or without traffic in) before "down"
    std::optional<IpAddress> target; // in the remote subnets
    std::optional<IpAddress> source; // in the local subnets; by default a local address found in them
};

// A file the operator named in the definition.
struct FileRef {
    std::filesystem::path file; // absolute, or relative to the working directory
    std::string written_as;     // as the operator wrote it
    std::string path;           // JSON path of the field
};

// IKEv2 keying: strongSwan's charon negotiates and rekeys the SAs (driven
// by xfrmd over VICI); xfrmctl owns the policies, as for manual keys.
struct Ikev2 {
    enum class Start { now, on_demand, respond };
    enum class DpdAction { restart, trap, clear };

    std::optional<FileRef> psk_file;                    // PSK authentication, or:
    std::optional<FileRef> certificate, private_key, ca; // X.509 authentication
    std::string local_id, remote_id; // empty: the address (PSK) or the certificate's subject
    std::vector<std::string> ike_proposals; // strongSwan keywords, never empty once read
    std::vector<std::string> esp_proposals; // strongSwan keywords, never empty once read
    std::uint32_t ike_rekey = 14400;  // seconds
    std::uint32_t child_rekey = 3600; // seconds
    std::uint32_t jitter = 0;         // seconds taken off at random; 0: a tenth of each rekey time
    std::uint32_t ike_lifetime = 0;   // seconds before an IKE SA not rekeyed is closed; 0: rekey time + a tenth
    std::uint32_t child_lifetime = 0; // the same for a CHILD SA (its hard lifetime in the kernel)
    std::uint32_t dpd_interval = 30;  // seconds; 0: no dead-peer detection
    DpdAction dpd_action = DpdAction::restart;
    Start start = Start::now;
    std::string path; // JSON path of "keying"
    // Names the tunnel's secret (PSK or private key) in the KeyRing: unique
    // per tunnel even when "defaults" name the file for many.
    std::string secret_id;

    bool uses_certificates() const { return certificate.has_value(); }
};
const char* start_name(Ikev2::Start s);
const char* dpd_action_name(Ikev2::DpdAction a);

struct Tunnel {
    std::string name;
    std::string file; // the definition file it came from
    bool present = true;

    netlink::Mode mode = netlink::Mode::tunnel;
    Protocol protocol = Protocol::esp;
    Endpoint local, remote;
    std::optional<Traffic> traffic;
    const Proposal* esp_proposal = nullptr;
    const Proposal* ah_proposal = nullptr;
    std::vector<Generation> generations; // manual keys, oldest first; empty only with ikev2
    Boxed<Ikev2> ikev2;                  // keying.method "ikev2" (on the heap: 656 bytes most tunnels leave empty)
    std::uint32_t grace = 60;            // seconds an old generation's inbound SAs stay idle before xfrmd retires them
    std::uint32_t replay_window = 128;
    bool esn = false;
    netlink::Limits limits; // from "lifetime"
    std::optional<netlink::Mark> mark;
    std::optional<netlink::Mark> output_mark;
    std::optional<Encapsulation> encapsulation;
    std::optional<Interface> interface;
    std::optional<Offload> offload;
    std::optional<HealthCheck> health;
    std::optional<std::uint32_t> priority;

    std::string path() const { return "/tunnels/" + name; }
    std::uint16_t family() const { return local.address.family; }
    bool negotiated() const { return ikev2.has_value(); }
    // The newest generation that sends at `now`, if any.
    const Generation* sender(std::int64_t now) const;
};

// Traffic that must never go through IPsec, even on a host whose default
// policy blocks (what reaches the host's own SSH, say).
struct Bypass {
    std::vector<Prefix> local, remote; // default: everything, either family
    std::optional<Traffic> traffic;
    std::optional<std::uint32_t> priority;
    std::string path; // JSON path of the entry
};

// The host-wide part of the definitions ("host", in one file at most).
struct HostSettings {
    std::string file;
    std::optional<netlink::DefaultPolicy> default_policy; // XFRM_MSG_SETDEFAULT
    std::vector<Bypass> bypass;
};

struct Definitions {
    std::vector<Tunnel> tunnels; // in name order
    std::optional<HostSettings> host;
    const Tunnel* find(const std::string& name) const;
};

} // namespace xfrmctl::model
