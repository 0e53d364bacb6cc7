// What xfrmd tells charon: the strongswan.conf of the charon it runs, and
// one VICI connection per ikev2 tunnel. Pure: no files, no sockets.
#pragma once

#include "xfrmctl/model/definition.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace xfrmctl::ikev2 {

using ordered_json = nlohmann::ordered_json;

// Our connections are named with this prefix, so that stale ones can be
// unloaded from a charon that also serves others.
inline constexpr std::string_view kConnectionPrefix = "xfrmctl.";
std::string connection_name(const std::string& tunnel);
// The tunnel's name, if `connection` is one of ours.
std::optional<std::string> tunnel_of(std::string_view connection);

struct CharonPaths {
    std::filesystem::path vici_socket;
    std::filesystem::path alert_socket; // the error-notify plugin's
    std::filesystem::path log_file;
};

// charon's retransmission schedule, which bounds how long a dead peer
// takes to notice: 1 s, then ×1.5 each time, 3 retransmissions.
inline constexpr double kRetransmitTimeout = 1.0, kRetransmitBase = 1.5;
inline constexpr int kRetransmitTries = 3;
// Seconds from the last unanswered message to giving up (1 + 1.5 + 2.25 + 3.375).
double retransmit_give_up_seconds();

// The whole strongswan.conf of the charon xfrmd runs: nothing of the
// host's own strongSwan configuration is read.
std::string strongswan_conf(const CharonPaths& paths);

// The certificates of an X.509 tunnel, as PEM text (public: no wiping).
struct Certificates {
    std::string own, ca;
};

// The body of a VICI load-conn for one tunnel: policies left to xfrmctl
// (policies = no) and SAs carrying `reqid`, which xfrmctl's policies name.
// The peer must present a certificate issued by the tunnel's CA.
ordered_json connection(const model::Tunnel& tunnel, std::uint32_t reqid, const Certificates* certificates);

// A PSK tunnel's IKE identity of one side: as configured, else its address.
// The connection and the PSK's owners must name the same one.
std::string psk_identity(const model::Tunnel& tunnel, bool local);

// The traffic selectors of one side, in strongSwan's syntax ("10.1.0.0/16[udp/5000]").
std::vector<std::string> traffic_selectors(const model::Tunnel& tunnel, bool local);

} // namespace xfrmctl::ikev2
