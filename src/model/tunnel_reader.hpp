// Reads one tunnel's JSON (defaults already merged in) into a Tunnel.
#pragma once

#include "fields.hpp"
#include "xfrmctl/model/definition.hpp"

#include <array>
#include <filesystem>

namespace xfrmctl::model {

// Every field a tunnel may have; "defaults" may hold any of them too.
inline constexpr std::array<std::string_view, 18> kTunnelFields = {
    "state",  "mode",     "protocol",      "local",    "remote",   "traffic",       "proposal",
    "keying", "replay_window", "priority", "esn",      "lifetime", "encapsulation", "mark",
    "output_mark", "interface", "offload", "health"};

// The parts of a tunnel read in keying_reader.cpp; each reads its field
// from the tunnel object `j` and fills in `t`.
Parsed<void> read_traffic(const Origin& o, const json& j, Tunnel& t);
// The traffic object at `at` (a tunnel's "traffic", or a bypass entry's).
Parsed<Traffic> parse_traffic(const Origin& o, const json& v, const std::string& at);
Parsed<void> read_proposal(const Origin& o, const json& j, Tunnel& t);
Parsed<void> read_keying(const Origin& o, const json& j, Tunnel& t, const std::filesystem::path& base_dir);
// Whether the tunnel object says keying.method "ikev2".
bool is_ikev2(const json& tunnel);

// In ikev2_reader.cpp: the "keying" object `k` of an ikev2 tunnel.
inline constexpr std::array<std::string_view, 12> kIkev2KeyingFields = {
    "method",        "psk_file",      "certificate", "private_key", "ca",  "local_id",
    "remote_id",     "ike_proposals", "esp_proposals", "rekey",     "dpd", "start"};
Parsed<void> read_ikev2_keying(const Origin& o, const json& k, Tunnel& t, const std::filesystem::path& base_dir);
// After the options: refuses what ikev2 keying does not take (`j`: the tunnel).
Parsed<void> check_ikev2_fit(const Origin& o, const json& j, Tunnel& t);
// In options_reader.cpp: esn, lifetime, mark, output_mark, encapsulation,
// offload, health.
Parsed<void> read_options(const Origin& o, const json& j, Tunnel& t);
// In interface_reader.cpp.
Parsed<void> read_interface(const Origin& o, const json& j, Tunnel& t);

Parsed<Tunnel> read_tunnel(const std::string& name, const json& merged, const Origin& origin,
                           const std::filesystem::path& base_dir);

} // namespace xfrmctl::model
