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
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr = address_of(options_.socket);
    if (!listen_ || ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::chmod(options_.socket.c_str(), 0600) != 0 || ::listen(listen_.get(), 16) != 0)
        return fail(Error::from_errno("cannot listen on " + options_.socket.string(), errno));
    return {};
}

namespace {

std::string read_request(int fd)
{
    std::string text;
    char buf[4096];
    while (text.find('\n') == std::string::npos && text.size() < 65536) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text.substr(0, text.find('\n'));
}

bool peer_is_root(int fd)
{
    ucred cred{};
    socklen_t len = sizeof cred;
    return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
}

} // namespace

void Daemon::on_control_connection()
{
    for (;;) {
        UniqueFd client(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!client)
            return;
        timeval timeout{5, 0}; // a client that says nothing does not hold the daemon
        setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        engine::ControlResponse response;
        std::string line = read_request(client.get()); // first: a refusal must reach the client
        if (!peer_is_root(client.get())) {
            response = refuse("only root may control xfrmd");
        } else if (auto request = engine::decode_request(line); !request) {
            response = refuse(request.error().message);
        } else {
            response = handle(*request);
        }
        std::string text = engine::encode(response);
        (void)::send(client.get(), text.data(), text.size(), MSG_NOSIGNAL);
    }
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
        held_down_.clear();
        reload("xfrmctl reload");
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
    if (auto ok = load(fresh, traits); !ok)
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
    if (!r.check) {
        note_outcome(*outcome, "xfrmctl apply");
        hold_encap_sockets();
    }
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
    note_outcome(*outcome, "xfrmctl down");
    hold_encap_sockets();
    configure_negotiator(); // charon closes the SAs of what went down
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
