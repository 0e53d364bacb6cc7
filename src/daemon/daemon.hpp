// xfrmd: keeps the kernel in line with the definitions over time. One
// thread, one poll loop, over: signals (HUP reloads, TERM and INT stop), a
// one-second timer (health, key generations, periodic re-reading), the
// kernel's XFRM events (drift repair), the control socket (xfrmctl), and
// the health probes. It alone writes: it holds the state directory's lock
// for its whole life.
#pragma once

#include "control_clients.hpp"
#include "health.hpp"
#include "journal.hpp"
#include "negotiator.hpp"
#include "xfrmctl/engine/capability_cache.hpp"
#include "xfrmctl/engine/control.hpp"
#include "xfrmctl/engine/encap_holder.hpp"
#include "xfrmctl/engine/operations.hpp"
#include "xfrmctl/netlink/events.hpp"
#include "xfrmctl/state/observations.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>

namespace xfrmctl::daemon {

struct Options {
    std::filesystem::path definitions = "/etc/xfrmctl/tunnels.d";
    std::filesystem::path state_dir = "/var/lib/xfrmctl";
    std::filesystem::path socket = "/run/xfrmctl/xfrmd.sock";
    std::optional<std::filesystem::path> textfile; // Prometheus metrics for node_exporter
    bool no_probe = false;
    int resync_seconds = 30; // a full re-read of the kernel, whatever the events said
    int event_buffer = 0;    // the event socket's receive buffer in bytes; 0: a large one
    std::string charon = "/usr/sbin/charon-systemd"; // run for ikev2 tunnels
    std::optional<std::filesystem::path> vici;        // or an existing charon's VICI socket
    std::optional<std::filesystem::path> alerts;      // and its error-notify socket
};

class Daemon {
public:
    static Result<std::unique_ptr<Daemon>> start(const Options& options);
    int run(); // until SIGTERM or SIGINT; the kernel's entries stay

private:
    void on_signals();
    void reopen_kernel_sockets(const std::string& why);
    void check_kernel_sockets();
    Daemon(const Options& o, state::Store store, netlink::Kernel kernel, netlink::Links links, netlink::XfrmSocket events);

    // daemon_kernel.cpp
    Status load(std::optional<engine::Definitions>& out, plan::KernelTraits& traits, engine::CacheUse use);
    Status reload(const std::string& why); // the load's error, already logged

    void reconcile(std::string why); // by value: it may be due_ itself, which it clears
    void reconcile_soon(const std::string& why) { due_ = due_.value_or(why); }
    void note_outcome(const engine::Outcome& outcome, const std::string& why);
    void follow_outcome(const engine::Outcome& outcome, const std::string& why);
    void on_kernel_events();
    void note_event(const netlink::Event& e, std::uint32_t sender);
    void hold_encap_sockets();
    void hand_over_encap_sockets();
    void configure_negotiator();
    // daemon_ikev2.cpp
    void sweep_stale_negotiated(std::int64_t now);

    // daemon_control.cpp
    Status open_control_socket();
    engine::ControlResponse answer(const std::string& line, bool root);
    engine::ControlResponse handle(const engine::ControlRequest& request);
    engine::ControlResponse handle_apply(const engine::ControlRequest& request);
    engine::ControlResponse handle_down(const engine::ControlRequest& request);
    engine::ControlResponse handle_status(const engine::ControlRequest& request);

    // daemon_tick.cpp
    void tick();
    std::vector<engine::TunnelStatus> current_status(std::int64_t now);
    bool senders_changed(std::int64_t now);
    bool retire_idle_generations(const std::vector<engine::TunnelStatus>& status, std::int64_t now);
    void write_textfile(const std::vector<engine::TunnelStatus>& status);

    engine::Writer writer() { return {store_, kernel_, links_}; }

    Options options_;
    Journal journal_;
    state::Store store_;
    netlink::Kernel kernel_;
    netlink::Links links_;
    netlink::XfrmSocket events_;
    UniqueFd signals_, timer_;
    ControlClients clients_; // the control socket's
    std::optional<engine::Definitions> defs_;
    plan::KernelTraits traits_;
    HealthTracker health_;
    Negotiator ike_;
    state::Observations observations_;
    std::map<engine::EncapPort, UniqueFd> encap_;
    std::map<std::string, std::string> key_problems_; // tunnel -> why an SA was left out
    std::map<std::string, std::string> senders_;      // tunnel -> its sending generation
    // retirement_key -> the inbound packets last seen, and since when
    std::map<std::string, std::pair<std::uint64_t, std::int64_t>> inbound_seen_;
    std::set<std::string> reported_;                  // errors already logged, to say each once
    std::set<std::string> held_down_;                 // taken down through xfrmctl down, until the next apply
    std::vector<engine::TunnelStatus> status_;
    std::int64_t last_resync_ = 0;
    std::optional<std::string> due_; // why a reconcile is due, if one is
    bool stopping_ = false;
    bool reopen_failing_ = false; // said once, tried every second
};

} // namespace xfrmctl::daemon
