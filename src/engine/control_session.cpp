#include "xfrmctl/engine/control_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace xfrmctl::engine {

ControlSession::ControlSession(Clock::time_point accepted, const ControlLimits& limits)
    : limits_(limits), deadline_(accepted + limits.request_time)
{
}

void ControlSession::received(std::string_view bytes, Clock::time_point now)
{
    if (phase_ != Phase::reading)
        return; // a second line, or bytes after the request: not read
    input_.append(bytes);
    std::size_t end = input_.find('\n');
    if (std::min(end, input_.size()) > limits_.request_bytes)
        return refuse(fmt::format("the request is longer than {} bytes", limits_.request_bytes), now);
    if (end == std::string::npos)
        return;
    input_.resize(end);
    phase_ = Phase::ready;
}

void ControlSession::respond(const ControlResponse& response, Clock::time_point now)
{
    std::string text = encode(response);
    if (text.size() > limits_.response_bytes)
        return refuse(fmt::format("the answer ({} bytes) is larger than xfrmd sends ({} bytes): ask about fewer tunnels",
                                  text.size(), limits_.response_bytes),
                      now);
    start_writing(std::move(text), now);
}

void ControlSession::start_writing(std::string text, Clock::time_point now)
{
    output_ = std::move(text);
    sent_ = 0;
    phase_ = Phase::writing;
    deadline_ = now + limits_.response_time;
}

void ControlSession::sent(std::size_t n)
{
    sent_ += n;
    if (sent_ >= output_.size())
        phase_ = Phase::done;
}

bool ControlSession::expired(Clock::time_point now) const
{
    return (phase_ == Phase::reading || phase_ == Phase::writing) && now >= deadline_;
}

void ControlSession::time_out(Clock::time_point now)
{
    auto seconds = std::chrono::duration<double>(limits_.request_time).count();
    refuse(fmt::format("no whole request arrived within {:g} s", seconds), now);
    deadline_ = now; // tried once, not waited for
}

void ControlSession::refuse(const std::string& why, Clock::time_point now)
{
    input_.clear();
    start_writing(encode(ControlResponse{1, "", "xfrmctl: " + why + "\n"}), now); // short: never over the limit
}

} // namespace xfrmctl::engine
