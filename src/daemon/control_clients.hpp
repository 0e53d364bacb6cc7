// The clients of xfrmd's control socket, served from the daemon's one poll
// loop without ever making it wait: every socket is non-blocking, each poll
// round gives each client at most one recv() or send() (none of which
// waits), and at most one request is handled per round, so that kernel
// events, the timer and a due drift repair come between any two requests
// (see engine::ControlSession for the buffers and deadlines).
#pragma once

#include "xfrmctl/engine/control_session.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <poll.h>

#include <functional>
#include <span>
#include <vector>

namespace xfrmctl::daemon {

class ControlClients {
public:
    using Clock = engine::ControlSession::Clock;
    // A request line and whether its peer is root, to its answer.
    using Handler = std::function<engine::ControlResponse(const std::string& line, bool root)>;

    explicit ControlClients(engine::ControlLimits limits = {}) : limits_(limits) {}
    void listen_on(UniqueFd listening) { listen_ = std::move(listening); }

    // Appends what to poll: the listening socket while fewer clients than
    // the cap are connected (the others wait in the backlog), and each
    // client for what its phase waits on.
    void add_fds(std::vector<pollfd>& fds);
    // fds: what add_fds appended, as poll left them. One I/O step for each
    // ready client, new clients accepted, finished and expired ones closed.
    void serve(std::span<const pollfd> fds, Clock::time_point now);
    // Answers the oldest whole request, if any; true if more are waiting.
    bool answer_one(const Handler& handler);

private:
    struct Client {
        UniqueFd fd;
        engine::ControlSession session;
        bool root = false;
    };
    void step(Client& c, short revents, Clock::time_point now);
    void accept_new(Clock::time_point now);
    void close_finished(Clock::time_point now);

    engine::ControlLimits limits_;
    UniqueFd listen_;
    std::vector<Client> clients_; // in the order they came
    bool listening_ = false;      // add_fds polled the listening socket
};

} // namespace xfrmctl::daemon
