// ESP in UDP is decapsulated only on a UDP socket that asks for it
// (UDP_ENCAP_ESPINUDP) and stays open. Without a daemon, one small process
// per port and family holds such a socket ("xfrmctl hold-encap", started
// and stopped by apply and down, found again through a pidfile in the
// state directory).
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/state/ledger.hpp"
#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace xfrmctl::engine {

struct EncapPort {
    std::uint16_t family = 0;
    std::uint16_t port = 0;
    auto operator<=>(const EncapPort&) const = default;
    std::string name() const; // "ipv4-4500"
};

// A port number 1-65535, all of `text` (decimal digits), or nullopt.
std::optional<std::uint16_t> parse_port(std::string_view text);

// The port whose holder's pidfile is named `filename` ("ipv4-4500.pid");
// nullopt for any other name: a stray file in the state directory is not
// a holder, and is left alone.
std::optional<EncapPort> port_of_pidfile(std::string_view filename);

// The ports that the installed tunnels receive ESP in UDP on.
std::set<EncapPort> needed_encap_ports(const model::Definitions& defs, const state::Ledger& ledger);

// A bound UDP socket that decapsulates ESP.
Result<UniqueFd> open_encap_socket(const EncapPort& port);

struct HolderReport {
    std::vector<std::string> started, stopped, warnings;
};

// Starts the holders that are needed and missing, stops those no longer
// needed. `self` is the path of the xfrmctl binary to run.
HolderReport reconcile_holders(const std::set<EncapPort>& needed, const std::filesystem::path& state_dir,
                               const std::filesystem::path& self);

// The holder process's body: binds, reports readiness on `ready_fd`, and
// keeps the socket until SIGTERM. Returns its exit status.
int hold_encap_socket(const EncapPort& port, const std::filesystem::path& pidfile, int ready_fd);

// Whether a live holder holds the port (for status).
bool holder_running(const EncapPort& port, const std::filesystem::path& state_dir);

} // namespace xfrmctl::engine
