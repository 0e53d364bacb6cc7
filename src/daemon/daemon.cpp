#include "daemon.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <span>

namespace xfrmctl::daemon {

Daemon::Daemon(const Options& o, state::Store store, netlink::Kernel kernel, netlink::Links links,
               netlink::XfrmSocket events)
    : options_(o), journal_(o.state_dir / "events.jsonl"), store_(std::move(store)), kernel_(std::move(kernel)),
      links_(std::move(links)), events_(std::move(events)),
      ike_(NegotiatorOptions{o.charon, o.vici, o.alerts, o.socket.parent_path(), o.state_dir / "charon.log"}, journal_)
{
}

namespace {

Result<UniqueFd> signal_fd()
{
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGHUP, SIGTERM, SIGINT})
        sigaddset(&set, s);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
        return fail(Error::from_errno("sigprocmask", errno));
    signal(SIGPIPE, SIG_IGN);
    UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd)
        return fail(Error::from_errno("signalfd", errno));
    return fd;
}

Result<UniqueFd> second_timer()
{
    UniqueFd fd(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    itimerspec every_second{{1, 0}, {1, 0}};
    if (!fd || timerfd_settime(fd.get(), 0, &every_second, nullptr) != 0)
        return fail(Error::from_errno("timerfd", errno));
    return fd;
}

Result<netlink::XfrmSocket> event_socket(int buffer)
{
    auto events = netlink::XfrmSocket::open(netlink::kEventGroups);
    if (!events)
        return fail(events.error());
    if (buffer > 0) // smaller than the default only to provoke overruns in tests
        setsockopt(events->fd(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
    return events;
}

} // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const Options& o)
{
    umask(077);
    auto store = state::Store::open_for_writing(o.state_dir, 0);
    if (!store)
        return fail(store.error());
    auto kernel = netlink::Kernel::open();
    auto links = netlink::Links::open();
    auto events = event_socket(o.event_buffer);
    for (const Error* e : {kernel ? nullptr : &kernel.error(), links ? nullptr : &links.error(), events ? nullptr : &events.error()})
        if (e)
            return fail(*e);
    std::unique_ptr<Daemon> d(new Daemon(o, std::move(*store), std::move(*kernel), std::move(*links), std::move(*events)));
    auto signals = signal_fd();
    auto timer = second_timer();
    if (!signals || !timer)
        return fail(!signals ? signals.error() : timer.error());
    d->signals_ = std::move(*signals);
    d->timer_ = std::move(*timer);
    (void)d->reload("start"); // none yet: the daemon waits for good ones (logged)
    d->reconcile("start"); // adopts what is already right: no SA reinstalled
    if (auto ok = d->open_control_socket(); !ok)
        return fail(ok.error());
    return d;
}

void Daemon::on_signals()
{
    signalfd_siginfo info{};
    while (::read(signals_.get(), &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
            if (reload("SIGHUP")) // else the kernel is left as it is
                reconcile_soon("SIGHUP");
        } else {
            stopping_ = true;
        }
    }
}

// A netlink socket closed under xfrmd (or broken) is no reason to stop
// keeping the kernel in line: both are opened afresh, and everything is
// re-read, since events may have been missed meanwhile.
void Daemon::reopen_kernel_sockets(const std::string& why)
{
    kernel_.drop();
    events_.drop();
    auto kernel = netlink::Kernel::open();
    auto events = event_socket(options_.event_buffer);
    if (!kernel || !events) {
        if (!reopen_failing_)
            journal_.error("cannot reopen the kernel's netlink sockets (" + why +
                           "), trying again every second: " + (kernel ? events.error() : kernel.error()).message);
        reopen_failing_ = true;
        return;
    }
    kernel_ = std::move(*kernel);
    events_ = std::move(*events);
    reopen_failing_ = false;
    journal_.event("netlink-reopened", {{"why", why}});
    reconcile_soon("netlink sockets reopened");
}

void Daemon::check_kernel_sockets()
{
    bool requests_intact = kernel_.intact(); // asked once: each asking is two system calls, every second
    if (!requests_intact || !events_.intact())
        reopen_kernel_sockets(requests_intact ? "the event socket is gone" : "the request socket is gone");
}

int Daemon::run()
{
    notify("READY=1\nSTATUS=keeping the kernel in line with " + options_.definitions.string());
    journal_.info("ready: " + options_.definitions.string() + ", control socket " + options_.socket.string());
    bool requests_waiting = false;
    auto answer = [this](const std::string& line, bool root) { return this->answer(line, root); };
    while (!stopping_) {
        std::vector<pollfd> fds = {{signals_.get(), POLLIN, 0}, {timer_.get(), POLLIN, 0}, {events_.fd(), POLLIN, 0}};
        std::size_t negotiator_at = fds.size();
        for (int fd : ike_.fds())
            fds.push_back({fd, POLLIN, 0});
        std::size_t probes_at = fds.size();
        for (int fd : health_.fds())
            fds.push_back({fd, POLLIN, 0});
        std::size_t clients_at = fds.size();
        clients_.add_fds(fds);
        if (::poll(fds.data(), fds.size(), requests_waiting || due_ ? 0 : -1) < 0 && errno != EINTR)
            break;
        if (fds[2].revents)
            on_kernel_events();
        if (fds[0].revents)
            on_signals();
        if (fds[1].revents) {
            std::uint64_t expirations;
            if (::read(timer_.get(), &expirations, sizeof expirations) > 0)
                tick();
        }
        clients_.serve(std::span(fds).subspan(clients_at), ControlClients::Clock::now());
        for (std::size_t i = negotiator_at; i < probes_at; ++i)
            if (fds[i].revents) {
                ike_.on_readable(std::time(nullptr));
                break;
            }
        if (clients_at > probes_at)
            health_.collect_answers(std::time(nullptr));
        if (due_ && !stopping_) // a repair first, then at most one client's request
            reconcile(*due_);
        requests_waiting = !stopping_ && clients_.answer_one(answer);
    }
    notify("STOPPING=1");
    hand_over_encap_sockets();
    ::unlink(options_.socket.c_str());
    journal_.info("stopped; the kernel's entries stay as they are");
    return 0;
}

} // namespace xfrmctl::daemon
