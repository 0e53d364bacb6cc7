// xfrmd's side of IKEv2: it runs charon (or uses one already running),
// loads one connection per ikev2 tunnel over VICI, decides when to
// negotiate (at start, on the kernel's acquire, after a dead peer) and
// follows charon's events and alerts into each tunnel's status. charon
// installs and rekeys the SAs with the tunnel's reqid; the policies that
// name that reqid stay xfrmctl's.
#pragma once

#include "journal.hpp"
#include "xfrmctl/engine/status.hpp"
#include "xfrmctl/ikev2/alerts.hpp"
#include "xfrmctl/ikev2/charon_config.hpp"
#include "xfrmctl/ikev2/sa_list.hpp"
#include "xfrmctl/ikev2/vici.hpp"
#include "xfrmctl/model/keys.hpp"

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xfrmctl::daemon {

struct NegotiatorOptions {
    std::string charon = "/usr/sbin/charon-systemd"; // run by xfrmd, unless `vici` is given
    std::optional<std::filesystem::path> vici;       // an existing charon's VICI socket
    std::optional<std::filesystem::path> alerts;     // and its error-notify socket
    std::filesystem::path runtime_dir;               // our charon's sockets and strongswan.conf
    std::filesystem::path log_file;                  // our charon's log
};

struct IkeTunnel {
    const model::Tunnel* tunnel = nullptr;
    std::uint32_t reqid = 0;
};

class Negotiator {
public:
    Negotiator(NegotiatorOptions options, Journal& journal);
    ~Negotiator();
    Negotiator(const Negotiator&) = delete;
    Negotiator& operator=(const Negotiator&) = delete;

    // The ikev2 tunnels wanted now, with their secrets (after each reconcile).
    void configure(const std::vector<IkeTunnel>& tunnels, const model::KeyRing& keys);
    void tick(std::int64_t now);
    void on_acquire(std::uint32_t reqid, std::int64_t now);
    std::vector<int> fds() const;
    void on_readable(std::int64_t now);
    // Adds the IKE view to the ikev2 tunnels' status, and the reason they are down.
    void overlay(std::vector<engine::TunnelStatus>& status) const;
    // xfrmctl down: closes the tunnel's SAs and stops negotiating it.
    void hold(const std::string& tunnel, bool held);
    // The SPIs charon holds for the tunnel, as of the last look; nothing
    // when charon's view is not at hand (then nothing is stale).
    std::optional<std::set<std::uint32_t>> charon_spis(const std::string& tunnel) const;

private:
    enum class Mode { keep_up, on_acquire, passive };
    struct Peer {
        model::Tunnel tunnel; // a copy: the daemon's definitions are replaced on reload
        std::uint32_t reqid = 0;
        Secret secret;        // the PSK or the private key
        ikev2::Certificates certificates;
        std::string digest;        // of what charon should have for it (set by configure)
        std::string loaded_digest; // of what charon has for it: reloaded when it differs
        Mode mode = Mode::passive;
        bool held = false;
        std::int64_t initiated_at = 0, next_try = 0, acquired_at = -1000;
        int attempts = 0;
        std::optional<ikev2::NegotiatedTunnel> seen;
        std::string last_alert;  // charon's words
        std::string last_reason; // what they mean for the operator (status's reason)
        bool alert_names_certificate = false;
        std::int64_t alert_at = 0;
        bool was_up = false;
        std::int64_t down_at = 0; // when was_up last turned false
        // The CHILD SA inside a standing IKE SA: tries since it went, and
        // the peer's refusal (a rekey or a new CHILD SA), if it said one.
        int child_tries = 0;
        std::string child_refusal;
        bool restarting = false; // a fresh IKE SA on its way: the old one's refusals are known
        std::string last_restart;  // why the last fresh IKE SA (status's ike.last_restart)
        std::int64_t restarted = 0;
    };

    // negotiator.cpp: charon itself and the connections to it
    bool connected() const { return commands_.has_value(); }
    void ensure_charon(std::int64_t now);
    void spawn_charon(std::int64_t now);
    void reap_charon();
    void connect();
    void disconnect(const std::string& why);
    std::filesystem::path vici_path() const;
    std::filesystem::path alerts_path() const;

    // negotiator_sync.cpp: what charon holds
    void sync(std::int64_t now);
    Status load_peer(Peer& p);
    Status load_secrets(const Peer& p);
    Status unload(const std::string& tunnel);
    void unload_stale();
    void refresh(std::int64_t now);
    void keep_up(std::int64_t now);
    void initiate(Peer& p, std::int64_t now, const std::string& why);
    bool child_needs_fresh_ike(const Peer& p) const;
    void restart_ike(Peer& p, std::int64_t now);

    // negotiator_events.cpp
    void on_vici_event(const ikev2::ViciEvent& e, std::int64_t now);
    void on_alert(const ikev2::Alert& a, std::int64_t now);
    Peer* peer_of_connection(const std::string& connection);
    Peer* peer_of_address(const std::string& address);
    void note_transitions(std::int64_t now);

    NegotiatorOptions options_;
    Journal& journal_;
    std::map<std::string, Peer> peers_;
    std::optional<ikev2::ViciConnection> commands_, events_;
    std::optional<ikev2::AlertStream> alerts_;
    pid_t child_ = -1;
    std::int64_t spawned_at_ = 0, last_connect_try_ = 0;
    bool stale_checked_ = false;
    std::string down_reason_; // why charon is not there, while it is not
};

} // namespace xfrmctl::daemon
