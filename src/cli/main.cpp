// xfrmctl: JSON tunnel definitions in, the kernel's XFRM policies and SAs out.
#include "context.hpp"
#include "xfrmctl/util/allocator.hpp"
#include "xfrmctl/util/version.hpp"

#include <CLI/CLI.hpp>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <iostream>

using namespace xfrmctl::cli;

namespace {

struct Commands {
    bool check = false, diff = false, all = false, prometheus = false;
    int count = 0;
    std::vector<std::string> hold;
    ExplainArgs explain;
    std::vector<std::string> names;
};

void add_global_options(CLI::App& app, GlobalOptions& g)
{
    app.add_option("-c,--config", g.definitions, "the definitions: a JSON file or a directory of *.json files")
        ->capture_default_str();
    app.add_option("--state-dir", g.state_dir, "what the controller remembers")->capture_default_str();
    app.add_option("--socket", g.socket, "the daemon's control socket")->capture_default_str();
    app.add_flag("--forget-installed-keys", g.forget_installed_keys,
                 "if installed-keys.json is missing from the state directory, start a new, empty record of installed "
                 "keys (roll every manual AEAD key first: one used before could be installed again)");
    app.set_version_flag("--version", std::string("xfrmctl ") + xfrmctl::version(), "print the version and exit");
    app.add_flag("--json", g.json, "print one JSON document on stdout instead of a table");
    app.add_flag("--no-probe", g.no_probe,
                 "do not ask the kernel what it supports (validate for another machine; the kernel's own refusals "
                 "are still reported)");
}

void add_commands(CLI::App& app, Commands& c)
{
    app.add_subcommand("validate", "check the definitions and their key files; touches nothing");
    app.add_subcommand("plan", "show what apply would change; touches nothing")
        ->add_flag("--diff", c.diff, "show each changed entry before and after");
    auto* apply = app.add_subcommand("apply", "make the kernel match the definitions");
    apply->add_flag("--check", c.check, "only show what would change (like plan)");
    apply->add_flag("--diff", c.diff, "show each changed entry before and after");
    auto* status = app.add_subcommand("status", "each tunnel's state, SPIs and counters");
    status->add_option("name", c.names, "tunnels to show");
    status->add_flag("--prometheus", c.prometheus, "the same figures in Prometheus' text format");
    app.add_subcommand("reload", "make xfrmd read the definitions again (as SIGHUP does)");
    auto* down = app.add_subcommand("down", "remove the named tunnels' kernel entries");
    down->add_option("name", c.names, "tunnels to take down");
    down->add_flag("--all", c.all, "take every tunnel down");
    app.add_subcommand("capabilities", "what the running kernel supports, found by asking it");
    auto* monitor = app.add_subcommand("monitor", "print the kernel's XFRM events for owned entries as they come");
    monitor->add_flag("--all", c.all, "every event, not only those of owned entries");
    monitor->add_option("--count", c.count, "stop after this many events")->check(CLI::PositiveNumber);
    auto* explain = app.add_subcommand("explain", "what the kernel does with one flow: which policy, template and SA, and why");
    explain->add_option("src", c.explain.src, "the source address")->required();
    explain->add_option("dst", c.explain.dst, "the destination address")->required();
    explain->add_option("proto", c.explain.proto, "the IP protocol (tcp, udp, icmp, ... or a number)");
    explain->add_option("port", c.explain.port, "the destination port");
    explain->add_option("--sport", c.explain.sport, "the source port");
    explain->add_option("--dir", c.explain.dir, "the direction: out (default), in or fwd")->check(CLI::IsMember({"out", "in", "fwd"}));
    explain->add_option("--mark", c.explain.mark, "the packet's mark");
    explain->add_option("--if-id", c.explain.if_id, "the XFRM interface the packet goes through");
    // Internal: the process that holds an ESP-in-UDP socket (started by apply).
    app.add_subcommand("hold-encap", "")->group("")->add_option("args", c.hold)->expected(3);
    for (auto* sub : app.get_subcommands({}))
        sub->fallthrough(); // global options may also follow the command
}

// With xfrmd running, the commands that change or report the kernel are
// its to carry out (one writer); nullopt when no daemon answers.
std::optional<int> via_daemon(const GlobalOptions& g, const std::string& command, const Commands& c)
{
    xfrmctl::engine::ControlRequest r{command, g.json, c.check, c.diff, c.all, c.prometheus, c.names,
                                      g.definitions_given ? g.definitions.string() : std::string()};
    auto answer = xfrmctl::engine::ask_daemon(g.socket, r);
    if (!answer)
        return report_error(g, answer.error());
    if (!*answer)
        return std::nullopt;
    std::cout << (*answer)->out;
    std::cerr << (*answer)->err;
    return (*answer)->exit;
}

int dispatch(const CLI::App& app, const GlobalOptions& g, const Commands& c)
{
    for (const char* command : {"apply", "plan", "down", "status", "reload"})
        if (app.got_subcommand(command)) {
            Commands asked = c;
            asked.check = c.check || std::string(command) == "plan";
            if (auto exit = via_daemon(g, std::string(command) == "plan" ? "apply" : command, asked))
                return *exit;
        }
    if (app.got_subcommand("reload"))
        return report_error(g, xfrmctl::Error{"xfrmd is not running (nothing listens on " + g.socket.string() + ")"});
    if (app.got_subcommand("validate"))
        return run_validate(g);
    if (app.got_subcommand("plan"))
        return run_plan(g, c.diff);
    if (app.got_subcommand("apply"))
        return run_apply(g, c.check, c.diff);
    if (app.got_subcommand("status"))
        return run_status(g, c.names, c.prometheus);
    if (app.got_subcommand("capabilities"))
        return run_capabilities(g);
    if (app.got_subcommand("monitor"))
        return run_monitor(g, c.all, c.count);
    if (app.got_subcommand("explain"))
        return run_explain(g, c.explain);
    if (app.got_subcommand("hold-encap"))
        return run_hold_encap(c.hold);
    return run_down(g, c.names, c.all);
}

// The edge: whatever escapes a command (a bug; errors travel as values)
// is one error message and exit 1, never an abort that leaves no report.
int dispatch_guarded(const CLI::App& app, const GlobalOptions& g, const Commands& c)
{
    try {
        return dispatch(app, g, c);
    } catch (const std::exception& e) {
        return report_error(g, xfrmctl::Error{std::string("internal error: ") + e.what()});
    } catch (...) {
        return report_error(g, xfrmctl::Error{"internal error: an unknown exception"});
    }
}

} // namespace

// Key material passes through this process: no core file may keep it, and no
// other process of the same user may read its memory.
void protect_memory()
{
    rlimit none{0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int main(int argc, char** argv)
{
    protect_memory();
    xfrmctl::keep_freed_memory();
    CLI::App app{"xfrmctl: Linux IPsec from JSON tunnel definitions (see xfrmctl(8))", "xfrmctl"};
    GlobalOptions g;
    Commands c;
    add_global_options(app, g);
    add_commands(app, c);
    app.require_subcommand(1, 1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "xfrmctl: " << e.what() << "\n" << "Run xfrmctl --help for usage.\n";
        return kError;
    }
    g.definitions_given = app.count("--config") > 0;
    return dispatch_guarded(app, g, c);
}
