// What every subcommand shares: the global options, exit statuses, and the
// one place where an error becomes a message.
#pragma once

#include "xfrmctl/util/result.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace xfrmctl::cli {

enum Exit : int { kOk = 0, kError = 1, kPending = 2, kNotUp = 3 };

struct GlobalOptions {
    std::filesystem::path definitions = "/etc/xfrmctl/tunnels.d";
    std::filesystem::path state_dir = "/var/lib/xfrmctl";
    std::filesystem::path socket = "/run/xfrmctl/xfrmd.sock";
    bool json = false;
};

// Prints an error once: to stderr, and with --json also as {"error": ...}
// (plus `extra` fields) on stdout. Returns kError.
int report_error(const GlobalOptions& g, const Error& e, nlohmann::json extra = nlohmann::json::object());
void warn(const std::string& message);

int run_validate(const GlobalOptions& g);
int run_plan(const GlobalOptions& g, bool diff);
int run_apply(const GlobalOptions& g, bool check, bool diff);
int run_status(const GlobalOptions& g, const std::vector<std::string>& names);
int run_down(const GlobalOptions& g, const std::vector<std::string>& names, bool all);

} // namespace xfrmctl::cli
