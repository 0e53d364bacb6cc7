#include "control_clients.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace xfrmctl::daemon {

using Phase = engine::ControlSession::Phase;

namespace {

short wanted(Phase phase) { return phase == Phase::reading ? POLLIN : phase == Phase::writing ? POLLOUT : 0; }

bool peer_is_root(int fd)
{
    ucred cred{};
    socklen_t len = sizeof cred;
    return ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
}

bool would_block(ssize_t n) { return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR); }

// One send() of what is left; never waits.
void send_some(int fd, engine::ControlSession& session)
{
    std::string_view rest = session.unsent();
    ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0)
        session.sent(static_cast<std::size_t>(n));
    else if (!would_block(n))
        session.peer_gone();
}

} // namespace

void ControlClients::add_fds(std::vector<pollfd>& fds)
{
    listening_ = listen_ && clients_.size() < limits_.clients;
    if (listening_)
        fds.push_back({listen_.get(), POLLIN, 0});
    for (const auto& c : clients_) { // a negative fd is not polled: a ready request waits for its turn, not for I/O
        short events = wanted(c.session.phase());
        fds.push_back({events ? c.fd.get() : -1, events, 0});
    }
}

void ControlClients::serve(std::span<const pollfd> fds, Clock::time_point now)
{
    std::size_t first = listening_ ? 1 : 0;
    for (std::size_t i = 0; i < clients_.size() && first + i < fds.size(); ++i)
        if (fds[first + i].revents)
            step(clients_[i], fds[first + i].revents, now);
    if (listening_ && !fds.empty() && fds[0].revents)
        accept_new(now);
    close_finished(now);
}

void ControlClients::step(Client& c, short revents, Clock::time_point now)
{
    if (c.session.phase() == Phase::writing) {
        send_some(c.fd.get(), c.session);
        return;
    }
    if (c.session.phase() != Phase::reading || !(revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    char buf[16384];
    ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0)
        c.session.received(std::string_view(buf, static_cast<std::size_t>(n)), now);
    else if (!would_block(n))
        c.session.peer_gone(); // end of file, or a failed socket
}

void ControlClients::accept_new(Clock::time_point now)
{
    while (clients_.size() < limits_.clients) {
        UniqueFd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!fd)
            return;
        bool root = peer_is_root(fd.get()); // refused once its request is in: a refusal must reach it
        clients_.push_back({std::move(fd), engine::ControlSession(now, limits_), root});
    }
}

// A client past its request's deadline is told so (one try); one past its
// answer's deadline, e.g. stopped and not reading, is not waited for.
void ControlClients::close_finished(Clock::time_point now)
{
    for (auto& c : clients_)
        if (c.session.phase() == Phase::reading && c.session.expired(now)) {
            c.session.time_out(now);
            send_some(c.fd.get(), c.session);
        }
    std::erase_if(clients_, [&](const Client& c) { return c.session.phase() == Phase::done || c.session.expired(now); });
}

// The time a request took to handle is nobody else's: the deadlines of the
// clients that waited meanwhile move by as much.
bool ControlClients::answer_one(const Handler& handler)
{
    auto ready = [](const Client& c) { return c.session.phase() == Phase::ready; };
    auto it = std::find_if(clients_.begin(), clients_.end(), ready);
    if (it == clients_.end())
        return false;
    Clock::time_point start = Clock::now();
    engine::ControlResponse response = handler(it->session.request(), it->root);
    Clock::time_point end = Clock::now();
    for (auto& c : clients_)
        c.session.postpone(end - start);
    it->session.respond(response, end);
    return std::any_of(clients_.begin(), clients_.end(), ready);
}

} // namespace xfrmctl::daemon
