#include "targets.hpp"

#include "xfrmctl/engine/control.hpp"
#include "xfrmctl/engine/control_session.hpp"
#include "xfrmctl/ikev2/alerts.hpp"
#include "xfrmctl/ikev2/sa_list.hpp"
#include "xfrmctl/ikev2/vici.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/netlink/events.hpp"
#include "xfrmctl/netlink/socket.hpp"
#include "xfrmctl/plan/desired.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

namespace xfrmctl::fuzz {

namespace {

// A property the code promises broke: a crash for libFuzzer, a failure for
// the regression test.
void require(bool ok, const char* what)
{
    if (!ok)
        throw std::logic_error(what);
}

std::string as_text(Input data)
{
    return std::string(reinterpret_cast<const char*>(data.data()), data.size());
}

// The loader reads files; one per process, rewritten for each input.
const std::filesystem::path& scratch_file()
{
    static const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("xfrmctl-fuzz-" + std::to_string(getpid()) + ".json");
    return path;
}

Status visit_message(const nlmsghdr* nlh)
{
    switch (nlh->nlmsg_type) {
    case XFRM_MSG_NEWSA:
    case XFRM_MSG_UPDSA:
        (void)netlink::parse_sa(nlh);
        break;
    case XFRM_MSG_DELSA:
        (void)netlink::parse_sa_id(nlh);
        break;
    case XFRM_MSG_NEWPOLICY:
    case XFRM_MSG_UPDPOLICY:
        (void)netlink::parse_policy(nlh);
        break;
    case XFRM_MSG_DELPOLICY:
        (void)netlink::parse_policy_id(nlh);
        break;
    case NLMSG_ERROR:
        (void)netlink::parse_ack(nlh).describe();
        break;
    default:
        break;
    }
    if (auto event = netlink::parse_event(nlh); event && *event)
        (void)(*event)->describe();
    return {};
}

} // namespace

void definitions(Input data)
{
    {
        std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    }
    // Written an hour ago, as far as the loader knows: a fresh file that
    // fails to parse gets 50 ms to settle, which would be most of the run.
    std::filesystem::last_write_time(scratch_file(), std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
    auto defs = model::load_definitions(scratch_file());
    // JSON text has no NUL byte; nlohmann's lexer takes one for the end.
    require(!defs || std::find(data.begin(), data.end(), 0) == data.end(), "a definition with a NUL byte accepted");
    if (!defs) {
        // Every refusal is one message that names the file.
        require(defs.error().message.find(scratch_file().string()) != std::string::npos,
                "a refused definition whose message does not name the file");
        return;
    }
    std::uint32_t reqid = 1;
    for (const auto& tunnel : defs->tunnels)
        (void)plan::compile_tunnel(tunnel, reqid++, plan::CompileOptions{});
}

void netlink(Input data)
{
    // The sequence number of the first message, so that the reader takes
    // the buffer as the answer it waits for.
    std::uint32_t seq = data.size() >= sizeof(nlmsghdr) ? reinterpret_cast<const nlmsghdr*>(data.data())->nlmsg_seq : 0;
    std::function<Status(const nlmsghdr*)> visit = visit_message;
    netlink::DumpReader reader(seq, visit);
    (void)reader.feed(data);
}

// xfrmd's side of a connection, fed the bytes in pieces as recv() may
// give them: it takes the text before the first newline as the request,
// refuses only what is past the limit, and waits for more only while
// neither came.
void control_session(const std::string& bytes)
{
    engine::ControlLimits limits;
    limits.request_bytes = 256;
    engine::ControlSession::Clock::time_point now{};
    engine::ControlSession session(now, limits);
    for (std::size_t at = 0; at < bytes.size(); at += 7)
        session.received(std::string_view(bytes).substr(at, 7), now);
    std::size_t end = std::min(bytes.find('\n'), bytes.size());
    using Phase = engine::ControlSession::Phase;
    if (end > limits.request_bytes)
        require(session.phase() == Phase::writing, "a request past the limit is not refused");
    else if (end < bytes.size())
        require(session.phase() == Phase::ready && session.request() == bytes.substr(0, end),
                "a whole request is not taken as it came");
    else
        require(session.phase() == Phase::reading, "a request without its newline is not waited for");
}

void control(Input data)
{
    std::string line = as_text(data);
    control_session(line);
    // As for definitions: a NUL is never taken for the end of a request or
    // an answer (what followed it was dropped unseen).
    bool has_nul = line.find('\0') != std::string::npos;
    require(!has_nul || !engine::decode_request(line), "a request with a NUL byte accepted");
    require(!has_nul || !engine::decode_response(line), "an answer with a NUL byte accepted");
    if (auto request = engine::decode_request(line)) {
        std::string once = engine::encode(*request);
        auto again = engine::decode_request(once);
        require(again.has_value(), "an encoded request does not decode");
        require(engine::encode(*again) == once, "a request changes when encoded twice");
    }
    if (auto response = engine::decode_response(line)) {
        std::string once = engine::encode(*response);
        auto again = engine::decode_response(once);
        require(again.has_value(), "an encoded response does not decode");
        require(engine::encode(*again) == once, "a response changes when encoded twice");
    }
}

void vici(Input data)
{
    auto bytes = std::as_bytes(data);
    if (auto packet = ikev2::parse_packet(bytes)) {
        if (auto message = ikev2::decode(packet->message)) {
            (void)ikev2::read_sa_list({*message}, 0);
            (void)ikev2::expect_success(*message, "fuzz");
        }
    }
    if (auto message = ikev2::decode(bytes))
        (void)ikev2::read_sa_list({*message}, 0);
    if (auto alert = ikev2::decode_alert(bytes))
        (void)alert->is_failure();
}

Target target_named(std::string_view name)
{
    if (name == "definitions")
        return definitions;
    if (name == "netlink")
        return netlink;
    if (name == "control")
        return control;
    if (name == "vici")
        return vici;
    return nullptr;
}

} // namespace xfrmctl::fuzz
