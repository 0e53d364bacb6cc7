// What every subcommand shares: the global options, exit statuses, and the
// one place where an error becomes a message.
#pragma once

#include "xfrmctl/engine/capability_cache.hpp"
#include "xfrmctl/engine/control.hpp"
#include "xfrmctl/engine/operations.hpp"
#include "xfrmctl/model/warnings.hpp"
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
    bool no_probe = false;
    bool forget_installed_keys = false; // a lost installed-keys.json starts anew
    bool definitions_given = false; // -c on the command line (else xfrmd uses its own)
};

// Prints an error once: to stderr, and with --json also as {"error": ...}
// (plus `extra` fields) on stdout. Returns kError.
int report_error(const GlobalOptions& g, const Error& e, nlohmann::json extra = nlohmann::json::object());
void warn(const std::string& message);
// What the definitions may say but most likely do not mean, with this
// host's addresses when they can be read (model/warnings.hpp).
std::vector<model::Warning> definition_warnings(const model::Definitions& defs);

// The kernel handles and the state, opened for a command run here (not in
// xfrmd): for writing it takes the state directory's lock.
struct Local {
    state::Store store;
    netlink::Kernel kernel;
    netlink::Links links;
    engine::Writer writer() { return {store, kernel, links}; }
};
Result<Local> open_local(const GlobalOptions& g, bool for_writing);

// What the kernel can carry, checked against what the definitions need (a
// validation error otherwise); with --no-probe, assumed. `use`: whether
// the command may keep the answer (engine::CacheUse). The devices that
// tunnels offload to are looked up too; `strict_devices`: one missing or
// without ESP offload is an error (engine::find_offload_devices()).
Result<plan::KernelTraits> check_kernel(const GlobalOptions& g, const model::Definitions& defs, engine::CacheUse use,
                                        bool strict_devices = true);

// Starts or stops the ESP-in-UDP socket holders that the installed tunnels
// need (see engine/encap_holder.hpp); warns of what it cannot do.
void reconcile_encap(const GlobalOptions& g, const model::Definitions& defs, const state::Ledger& ledger);

int run_validate(const GlobalOptions& g);
int run_plan(const GlobalOptions& g, bool diff);
int run_apply(const GlobalOptions& g, bool check, bool diff);
int run_status(const GlobalOptions& g, const std::vector<std::string>& names, bool prometheus);
int run_down(const GlobalOptions& g, const std::vector<std::string>& names, bool all);
int run_capabilities(const GlobalOptions& g);
int run_monitor(const GlobalOptions& g, bool all, int count);
int run_hold_encap(const std::vector<std::string>& args);

struct ExplainArgs {
    std::string src, dst, proto;
    std::uint16_t port = 0, sport = 0;
    std::uint32_t mark = 0, if_id = 0;
    std::string dir = "out";
};
int run_explain(const GlobalOptions& g, const ExplainArgs& args);

} // namespace xfrmctl::cli
