// xfrmd: the daemon that keeps the kernel's XFRM state in line with the
// definitions over time (see xfrmd(8)).
#include "daemon.hpp"
#include "xfrmctl/util/allocator.hpp"
#include "xfrmctl/util/version.hpp"

#include <CLI/CLI.hpp>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <iostream>

namespace {

int run(const xfrmctl::daemon::Options& o)
{
    auto daemon = xfrmctl::daemon::Daemon::start(o);
    if (!daemon) {
        std::cerr << "<3>xfrmd: " << daemon.error().message << std::endl;
        return 1;
    }
    return (*daemon)->run();
}

// The edge: whatever escapes (a bug; errors travel as values) is logged
// and exit 1, never an abort: systemd restarts the daemon, and what it set
// up in the kernel stays.
int run_guarded(const xfrmctl::daemon::Options& o)
{
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::cerr << "<3>xfrmd: internal error: " << e.what() << std::endl;
    } catch (...) {
        std::cerr << "<3>xfrmd: internal error: an unknown exception" << std::endl;
    }
    return 1;
}

} // namespace

int main(int argc, char** argv)
{
    // Key material lives in this process: no core file, no ptrace by peers.
    rlimit none{0, 0};
    setrlimit(RLIMIT_CORE, &none);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    xfrmctl::keep_freed_memory(); // the tables read every second reuse the last second's memory

    CLI::App app{"xfrmd: keeps the kernel's IPsec state in line with the definitions (see xfrmd(8))", "xfrmd"};
    xfrmctl::daemon::Options o;
    app.set_version_flag("--version", std::string("xfrmd ") + xfrmctl::version(), "print the version and exit");
    app.add_option("-c,--config", o.definitions, "the definitions: a JSON file or a directory of *.json files")
        ->capture_default_str();
    app.add_option("--state-dir", o.state_dir, "what the controller remembers")->capture_default_str();
    app.add_option("--socket", o.socket, "the control socket xfrmctl talks to")->capture_default_str();
    app.add_option("--textfile", o.textfile, "write Prometheus metrics there every second (node_exporter's textfile collector)");
    app.add_option("--resync", o.resync_seconds, "seconds between full re-reads of the kernel")->capture_default_str()
        ->check(CLI::Range(1, 3600));
    app.add_flag("--no-probe", o.no_probe, "do not ask the kernel what it supports");
    app.add_option("--charon", o.charon, "the charon xfrmd runs for ikev2 tunnels")->capture_default_str();
    app.add_option("--vici", o.vici, "use the charon already listening on this VICI socket instead of running one");
    app.add_option("--alerts", o.alerts, "that charon's error-notify socket (with --vici)");
    app.add_option("--event-buffer", o.event_buffer, "")->group(""); // tests: a small buffer, to overrun it
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    return run_guarded(o);
}
