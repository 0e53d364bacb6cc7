// One control client's state machine (engine::ControlSession): what xfrmd's
// poll loop relies on to serve clients without waiting on any.
#include "xfrmctl/engine/control_session.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace xfrmctl;
using namespace std::chrono_literals;
using engine::ControlSession;
using Phase = ControlSession::Phase;

namespace {

const ControlSession::Clock::time_point t0{};

engine::ControlLimits small_limits()
{
    engine::ControlLimits l;
    l.request_bytes = 16;
    l.response_bytes = 64;
    l.request_time = 5s;
    l.response_time = 10s;
    return l;
}

// The refusal a session answers with, decoded.
engine::ControlResponse answer_of(const ControlSession& s)
{
    std::string text(s.unsent());
    REQUIRE(text.ends_with("\n"));
    auto r = engine::decode_response(text.substr(0, text.size() - 1));
    REQUIRE(r.has_value());
    return *r;
}

} // namespace

TEST_CASE("ControlSession: a request in pieces is whole at its newline, without it")
{
    ControlSession s(t0, small_limits());
    s.received("{\"comm", t0 + 1s);
    CHECK(s.phase() == Phase::reading);
    s.received("and\"}\nrest", t0 + 2s);
    REQUIRE(s.phase() == Phase::ready);
    CHECK(s.request() == "{\"command\"}");
    s.received("more\n", t0 + 2s); // bytes after the request are not read
    CHECK(s.request() == "{\"command\"}");
}

TEST_CASE("ControlSession: the answer goes out as the socket takes it")
{
    ControlSession s(t0, small_limits());
    s.received("x\n", t0);
    s.respond({0, "up\n", ""}, t0 + 1s);
    REQUIRE(s.phase() == Phase::writing);
    std::string whole(s.unsent());
    CHECK(whole == engine::encode(engine::ControlResponse{0, "up\n", ""}));
    s.sent(5);
    CHECK(s.unsent() == whole.substr(5));
    CHECK(s.phase() == Phase::writing);
    s.sent(whole.size() - 5);
    CHECK(s.phase() == Phase::done);
}

TEST_CASE("ControlSession: a request longer than the limit is refused, not read on")
{
    ControlSession exact(t0, small_limits());
    exact.received(std::string(16, 'a') + "\n", t0);
    CHECK(exact.phase() == Phase::ready); // 16 bytes is the limit, not past it

    ControlSession s(t0, small_limits());
    s.received(std::string(10, 'a'), t0);
    s.received(std::string(10, 'a'), t0); // 20 bytes and no newline yet
    REQUIRE(s.phase() == Phase::writing);
    auto r = answer_of(s);
    CHECK(r.exit == 1);
    CHECK(r.err == "xfrmctl: the request is longer than 16 bytes\n");

    ControlSession late_newline(t0, small_limits());
    late_newline.received(std::string(20, 'b') + "\n", t0);
    CHECK(late_newline.phase() == Phase::writing);
}

TEST_CASE("ControlSession: an answer larger than the limit becomes a refusal saying so")
{
    ControlSession s(t0, small_limits());
    s.received("x\n", t0);
    s.respond({0, std::string(100, 'o'), ""}, t0);
    auto r = answer_of(s);
    CHECK(r.exit == 1);
    CHECK(r.out.empty());
    CHECK(r.err.find("larger than xfrmd sends (64 bytes)") != std::string::npos);
}

TEST_CASE("ControlSession: the request's deadline covers all of it, however it trickles in")
{
    ControlSession s(t0, small_limits());
    for (int i = 1; i <= 4; ++i) { // a byte a second: each read is prompt, the whole is not
        s.received("a", t0 + std::chrono::seconds(i));
        CHECK_FALSE(s.expired(t0 + std::chrono::seconds(i)));
    }
    CHECK(s.expired(t0 + 5s));
    s.time_out(t0 + 5s);
    REQUIRE(s.phase() == Phase::writing);
    CHECK(answer_of(s).err == "xfrmctl: no whole request arrived within 5 s\n");
    CHECK(s.expired(t0 + 5s)); // tried once, not waited for
}

TEST_CASE("ControlSession: the answer's deadline runs from the answer; a ready request has none")
{
    ControlSession s(t0, small_limits());
    s.received("x\n", t0 + 1s);
    CHECK_FALSE(s.expired(t0 + 60s)); // the daemon handles it next, however late
    s.respond({0, "", ""}, t0 + 60s);
    s.sent(3);
    CHECK_FALSE(s.expired(t0 + 69s));
    CHECK(s.expired(t0 + 70s)); // a client that stopped reading is dropped
}

TEST_CASE("ControlSession: time the daemon spent on another client's request is not counted")
{
    ControlSession s(t0, small_limits());
    s.postpone(13s); // an apply of thousands of tunnels
    CHECK_FALSE(s.expired(t0 + 17s));
    CHECK(s.expired(t0 + 18s));
}

TEST_CASE("ControlSession: a peer gone is done, whatever it was doing")
{
    ControlSession s(t0, small_limits());
    s.received("par", t0);
    s.peer_gone();
    CHECK(s.phase() == Phase::done);
    CHECK_FALSE(s.expired(t0 + 100s));
}
