// xfrmd's control socket: what xfrmctl hands over (apply, down, status,
// reload), done here and answered with what xfrmctl is to print.
#include "daemon.hpp"

#include "xfrmctl/report/render.hpp"
#include "xfrmctl/util/safe_paths.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>

namespace xfrmctl::daemon {

namespace {

constexpr int kError = 1, kPending = 2, kNotUp = 3;

engine::ControlResponse refuse(const std::string& why) { return {kError, "", "xfrmctl: " + why + "\n"}; }

sockaddr_un address_of(const std::filesystem::path& path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    return addr;
}

} // namespace

// Only root may reach it: 0600, in a directory nobody else may write to
// (claim_socket_path checks it), and each peer's credentials are checked
// (SO_PEERCRED) as well.
Status Daemon::open_control_socket()
{
    if (auto ok = claim_socket_path(options_.socket); !ok)
        return ok;
    UniqueFd listening(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr = address_of(options_.socket);
    if (!listening || ::bind(listening.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::chmod(options_.socket.c_str(), 0600) != 0 || ::listen(listening.get(), 64) != 0)
        return fail(Error::from_errno("cannot listen on " + options_.socket.string(), errno));
    clients_.listen_on(std::move(listening));
    return {};
}

// Only once the request is in (see ControlClients) is a peer that is not
// root refused: a refusal must reach it.
engine::ControlResponse Daemon::answer(const std::string& line, bool root)
{
    if (!root)
        return refuse("only root may control xfrmd");
    auto request = engine::decode_request(line);
    return request ? handle(*request) : refuse(request.error().message);
}

engine::ControlResponse Daemon::handle(const engine::ControlRequest& r)
{
    std::error_code ec;
    if (!r.definitions.empty() && !std::filesystem::equivalent(r.definitions, options_.definitions, ec))
        return refuse("xfrmd keeps " + options_.definitions.string() + ", not " + r.definitions +
                      ": give xfrmctl the same -c (or stop xfrmd)");
    if (r.command == "apply")
        return handle_apply(r);
    if (r.command == "down")
        return handle_down(r);
    if (r.command == "status")
        return handle_status(r);
    if (r.command == "reload") {
        // Refused definitions change nothing, tunnels held down included.
        if (auto ok = reload("xfrmctl reload"); !ok)
            return refuse(ok.error().message + " (xfrmd keeps its last good definitions)");
        held_down_.clear();
        reconcile("xfrmctl reload");
        return {0, "reloaded " + options_.definitions.string() + "\n", ""};
    }
    return refuse("xfrmd does not know the command \"" + r.command + "\"");
}

// apply reads the definitions afresh (a bad one is refused and the daemon
// keeps the last good one); apply --check plans without adopting them.
engine::ControlResponse Daemon::handle_apply(const engine::ControlRequest& r)
{
    std::optional<engine::Definitions> fresh;
    plan::KernelTraits traits;
    if (auto ok = load(fresh, traits, r.check ? engine::CacheUse::read_only : engine::CacheUse::read_write); !ok)
        return refuse(ok.error().message);
    if (!r.check) {
        defs_ = std::move(fresh);
        traits_ = traits;
        held_down_.clear();
        health_.configure(defs_->tunnels, std::time(nullptr), journal_);
    }
    engine::Writer w = writer();
    auto outcome = engine::apply(r.check ? *fresh : *defs_, w, traits, std::time(nullptr), r.check);
    if (!outcome)
        return refuse(outcome.error().message);
    // Asked for by the operator, so the addresses are checked too.
    engine::add_definition_warnings(outcome->plan,
                                    engine::definition_warnings(r.check ? fresh->tunnels : defs_->tunnels, &links_));
    if (!r.check)
        follow_outcome(*outcome, "xfrmctl apply");
    std::ostringstream out, err;
    const engine::ApplyReport* report = outcome->report ? &*outcome->report : nullptr;
    report::print_outcome(out, err, r.json, outcome->plan, report, r.diff);
    int exit = outcome->plan.has_refusals() || (report && report->failed()) ? kError
               : r.check && outcome->plan.has_changes()                      ? kPending
                                                                             : 0;
    return {exit, out.str(), err.str()};
}

engine::ControlResponse Daemon::handle_down(const engine::ControlRequest& r)
{
    if (r.all == !r.names.empty())
        return refuse("down takes tunnel names or --all (not both)");
    std::vector<std::string> chosen;
    for (const auto& [name, owned] : store_.ledger.tunnels())
        if (name != plan::kHostTunnel && (r.all || std::find(r.names.begin(), r.names.end(), name) != r.names.end()))
            chosen.push_back(name);
    for (const auto& name : r.names)
        if (!store_.ledger.find(name) && !(defs_ && defs_->tunnels.find(name)))
            return refuse("no tunnel named \"" + name + "\" is defined or installed");
    held_down_.insert(chosen.begin(), chosen.end()); // and kept down: no repair brings them back
    for (const auto& name : r.names)
        held_down_.insert(name);
    engine::Writer w = writer();
    auto outcome = engine::take_down(chosen, w);
    if (!outcome)
        return refuse(outcome.error().message);
    follow_outcome(*outcome, "xfrmctl down"); // charon closes the SAs of what went down
    std::ostringstream out, err;
    const engine::ApplyReport* report = outcome->report ? &*outcome->report : nullptr;
    report::print_outcome(out, err, r.json, outcome->plan, report, false);
    return {report && report->failed() ? kError : 0, out.str(), err.str()};
}

engine::ControlResponse Daemon::handle_status(const engine::ControlRequest& r)
{
    auto status = current_status(std::time(nullptr)); // the kernel as it is now (a change may be a moment old)
    health_.overlay(status);                          // with the health checks' last verdicts
    std::vector<engine::TunnelStatus> shown;
    for (const auto& name : r.names)
        if (std::none_of(status.begin(), status.end(), [&](const auto& s) { return s.name == name; }))
            return refuse("no tunnel named \"" + name + "\" is defined");
    std::copy_if(status.begin(), status.end(), std::back_inserter(shown), [&](const auto& s) {
        return r.names.empty() || std::find(r.names.begin(), r.names.end(), s.name) != r.names.end();
    });
    std::ostringstream out;
    auto host = engine::read_xfrm_stat();
    if (r.prometheus)
        out << report::prometheus(shown, host);
    else if (r.json)
        out << report::status_json(shown, host).dump(2) << "\n";
    else
        report::print_status(out, shown, host);
    bool all_up = std::all_of(shown.begin(), shown.end(), [](const auto& s) { return s.health == engine::Health::up; });
    return {all_up ? 0 : kNotUp, out.str(), ""};
}

} // namespace xfrmctl::daemon
