// One client of xfrmd's control socket as a state machine without I/O: the
// daemon's poll loop gives it what one recv() read and sends what it has
// to send, one step at a time, so that no client (idle, slow, or stopped
// and not reading) ever makes the loop wait. Its buffers are bounded, and
// each direction has a deadline for the whole of it.
#pragma once

#include "xfrmctl/engine/control.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace xfrmctl::engine {

struct ControlLimits {
    std::size_t request_bytes = 64 * 1024;               // a longer request line is refused
    std::size_t response_bytes = std::size_t{64} << 20;  // a larger answer is replaced by an error
    std::chrono::milliseconds request_time{5000};        // from accept to the request's last byte
    std::chrono::milliseconds response_time{30000};      // from the answer to its last byte out
    std::size_t clients = 32;                            // served at once; others wait in the backlog
};

class ControlSession {
public:
    using Clock = std::chrono::steady_clock;
    enum class Phase {
        reading,  // the request is coming in
        ready,    // a whole request line is in: to be handled
        writing,  // the answer is going out
        done,     // answered in full, or the peer went away: close
    };

    ControlSession(Clock::time_point accepted, const ControlLimits& limits);

    Phase phase() const { return phase_; }
    // What one recv() read; the request is whole at its first newline, and
    // refused when longer than the limit.
    void received(std::string_view bytes, Clock::time_point now);
    // recv() read end-of-file, or the socket failed.
    void peer_gone() { phase_ = Phase::done; }
    // The request line (ready), without its newline.
    const std::string& request() const { return input_; }
    // The answer to send; too large, it becomes a refusal saying so.
    void respond(const ControlResponse& response, Clock::time_point now);
    std::string_view unsent() const { return std::string_view(output_).substr(sent_); }
    // One send() took n bytes of unsent().
    void sent(std::size_t n);
    // Past the deadline of the phase it is in (ready has none: the daemon
    // handles it next).
    bool expired(Clock::time_point now) const;
    // Past the request's deadline: a refusal saying so, to be tried once.
    void time_out(Clock::time_point now);
    // The daemon was busy for `d` with another client's request (an apply
    // of thousands of tunnels, say): not this client's time.
    void postpone(Clock::duration d) { deadline_ += d; }

private:
    void refuse(const std::string& why, Clock::time_point now);
    void start_writing(std::string text, Clock::time_point now);

    ControlLimits limits_;
    Phase phase_ = Phase::reading;
    Clock::time_point deadline_;
    std::string input_, output_;
    std::size_t sent_ = 0;
};

} // namespace xfrmctl::engine
