// The socket side of VICI: one blocking exchange at a time over a
// non-blocking UNIX stream socket, every wait bounded by poll() against a
// deadline, so that a stuck charon costs a timeout rather than a hang.
#include "xfrmctl/ikev2/vici.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>

namespace xfrmctl::ikev2 {

struct ViciConnection::Received {
    ViciPacketType type{};
    std::string name;
    WipedBytes payload; // what followed the length field
    std::size_t message_offset = 0;

    std::span<const std::byte> message() const { return std::span(payload).subspan(message_offset); }
};

namespace {

using Clock = std::chrono::steady_clock;

Status wait_for(int fd, short events, Clock::time_point deadline)
{
    for (;;) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0)
            return fail("timed out waiting for charon", ETIMEDOUT);
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<decltype(left)>(left, INT_MAX)));
        // POLLHUP and POLLERR count as ready: the read or write reports them.
        if (n > 0)
            return {};
        if (n < 0 && errno != EINTR)
            return fail(Error::from_errno("waiting on the vici socket", errno));
    }
}

// Exactly out.size() bytes: a packet may come in any number of pieces.
Status read_exact(int fd, std::span<std::byte> out, Clock::time_point deadline)
{
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n > 0) {
            done += static_cast<std::size_t>(n);
        } else if (n == 0) {
            return fail("charon closed the vici connection", ECONNRESET);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (auto ok = wait_for(fd, POLLIN, deadline); !ok)
                return ok;
        } else if (errno != EINTR) {
            return fail(Error::from_errno("reading from charon", errno));
        }
    }
    return {};
}

// MSG_NOSIGNAL: a charon that went away is an error value, not SIGPIPE.
Status write_all(int fd, std::span<const std::byte> data, Clock::time_point deadline)
{
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (auto ok = wait_for(fd, POLLOUT, deadline); !ok)
                return ok;
        } else if (errno != EINTR) {
            return fail(Error::from_errno("writing to charon", errno));
        }
    }
    return {};
}

Error in_context(std::string_view what, const Error& error)
{
    return Error{"vici " + std::string(what) + ": " + error.message, error.errnum};
}

Result<ViciEvent> to_event(std::string_view name, std::span<const std::byte> message)
{
    auto decoded = decode(message);
    if (!decoded)
        return fail(in_context("event " + std::string(name), decoded.error()));
    return ViciEvent{std::string(name), std::move(*decoded)};
}

} // namespace

Status expect_success(const ordered_json& reply, std::string_view what)
{
    auto field = [&reply](const char* key) -> std::string_view {
        if (!reply.is_object())
            return {};
        auto it = reply.find(key);
        if (it == reply.end() || !it->is_string())
            return {};
        return it->get_ref<const std::string&>();
    };
    if (field("success") == "yes")
        return {};
    std::string_view errmsg = field("errmsg");
    return fail(std::string(what) + ": " +
                (errmsg.empty() ? std::string("charon reports failure without a reason") : std::string(errmsg)));
}

Result<ViciConnection> ViciConnection::connect(const std::string& socket_path)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path)
        return fail("vici socket path \"" + socket_path + "\" is empty or too long for a UNIX socket");
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
    // Non-blocking: a UNIX connect() completes at once, or fails (EAGAIN
    // when charon's backlog is full) instead of hanging.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        return fail(Error::from_errno("vici socket", errno));
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0)
        return fail(Error::from_errno("connecting to charon at " + socket_path, errno));
    return ViciConnection(std::move(fd));
}

Result<ViciConnection> ViciConnection::adopt(UniqueFd fd)
{
    int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0)
        return fail(Error::from_errno("making the vici socket non-blocking", errno));
    return ViciConnection(std::move(fd));
}

Status ViciConnection::usable() const
{
    if (!fd_)
        return fail("not connected to charon");
    if (broken_)
        return fail("the vici connection is out of step after an earlier error; reconnect");
    return {};
}

// Once a command's answer may still be on its way, or a packet was read in
// part, the next packet read would be taken for the wrong thing.
std::unexpected<Error> ViciConnection::out_of_step(Error error)
{
    broken_ = true;
    return fail(std::move(error));
}

// Header and message are written separately so that a message holding
// secrets is never copied; charon reassembles the stream.
Status ViciConnection::send(ViciPacketType type, std::string_view name, std::span<const std::byte> message,
                            Deadline deadline)
{
    auto header = packet_header(type, name, message.size());
    if (!header)
        return fail(header.error()); // nothing sent: still in step
    Status ok = write_all(fd_.get(), *header, deadline);
    if (ok)
        ok = write_all(fd_.get(), message, deadline);
    if (!ok)
        return out_of_step(ok.error());
    return {};
}

// A timeout before the first byte leaves the stream in step (read_event()
// may simply find no event); anything after it does not.
Result<ViciConnection::Received> ViciConnection::receive(Deadline deadline)
{
    if (auto ok = wait_for(fd_.get(), POLLIN, deadline); !ok)
        return fail(ok.error());
    std::array<std::byte, 4> field{};
    if (auto ok = read_exact(fd_.get(), field, deadline); !ok)
        return out_of_step(ok.error());
    auto length = packet_length(field);
    if (!length)
        return out_of_step(length.error());
    Received packet;
    packet.payload.resize(*length);
    if (auto ok = read_exact(fd_.get(), packet.payload, deadline); !ok)
        return out_of_step(ok.error());
    auto parsed = parse_packet(packet.payload);
    if (!parsed)
        return fail(parsed.error()); // read whole: the stream is still in step
    packet.type = parsed->type;
    packet.name = std::string(parsed->name);
    packet.message_offset = packet.payload.size() - parsed->message.size();
    return packet;
}

// Events that are not what a command streams are kept for read_event(), an
// undecodable one as its error; those named `dropped` (a streamed event
// outside its command) are nobody's.
void ViciConnection::queue_event(const Received& packet, std::string_view dropped)
{
    if (dropped.empty() || packet.name != dropped)
        queued_.push_back(to_event(packet.name, packet.message()));
}

Result<ordered_json> ViciConnection::await_response(std::string_view command, std::string_view streamed,
                                                    std::vector<ordered_json>* events, Deadline deadline)
{
    std::optional<Error> stream_error; // reported once the response is in
    for (;;) {
        auto packet = receive(deadline);
        if (!packet)
            return out_of_step(in_context(command, packet.error()));
        if (packet->type == ViciPacketType::event && events && packet->name == streamed) {
            auto event = to_event(packet->name, packet->message());
            if (event)
                events->push_back(std::move(event->message));
            else if (!stream_error)
                stream_error = event.error();
        } else if (packet->type == ViciPacketType::event) {
            queue_event(*packet, {});
        } else if (packet->type == ViciPacketType::cmd_unknown) {
            return fail("charon does not know the command " + std::string(command));
        } else if (packet->type != ViciPacketType::cmd_response) {
            return out_of_step(Error{"vici " + std::string(command) + ": an unexpected " +
                                     std::string(to_string(packet->type)) + " packet"});
        } else if (stream_error) {
            return fail(*stream_error);
        } else {
            auto reply = decode(packet->message());
            if (!reply)
                return fail(in_context(command, reply.error()));
            return reply;
        }
    }
}

// true for EVENT_CONFIRM, false for EVENT_UNKNOWN.
Result<bool> ViciConnection::await_confirm(std::string_view what, std::string_view dropped, Deadline deadline)
{
    for (;;) {
        auto packet = receive(deadline);
        if (!packet)
            return out_of_step(in_context(what, packet.error()));
        switch (packet->type) {
        case ViciPacketType::event_confirm:
            return true;
        case ViciPacketType::event_unknown:
            return false;
        case ViciPacketType::event:
            queue_event(*packet, dropped);
            break;
        default:
            return out_of_step(Error{"vici " + std::string(what) + ": an unexpected " +
                                     std::string(to_string(packet->type)) + " packet"});
        }
    }
}

// `dropped`: events of this name that arrive meanwhile are discarded.
Status ViciConnection::register_event(ViciPacketType type, std::string_view event, std::string_view dropped,
                                      Deadline deadline)
{
    bool registering = type == ViciPacketType::event_register;
    std::string what = std::string(registering ? "registering for " : "unregistering from ") + std::string(event);
    if (auto ok = send(type, event, {}, deadline); !ok)
        return fail(in_context(what, ok.error()));
    auto confirmed = await_confirm(what, dropped, deadline);
    if (!confirmed)
        return fail(confirmed.error());
    if (!*confirmed)
        return fail(registering ? "charon has no event " + std::string(event)
                                : "charon has no registration for the event " + std::string(event));
    return {};
}

bool ViciConnection::subscribed(std::string_view event) const
{
    return std::ranges::find(subscriptions_, event) != subscriptions_.end();
}

Result<ordered_json> ViciConnection::call(std::string_view command, const ViciWriter& body, Timeout timeout)
{
    if (auto ok = usable(); !ok)
        return fail(ok.error());
    if (auto ok = body.status(); !ok)
        return fail(in_context(command, ok.error()));
    Deadline deadline = Clock::now() + timeout;
    if (auto ok = send(ViciPacketType::cmd_request, command, body.bytes(), deadline); !ok)
        return fail(in_context(command, ok.error()));
    return await_response(command, {}, nullptr, deadline);
}

Result<ordered_json> ViciConnection::call(std::string_view command, const ordered_json& body, Timeout timeout)
{
    auto writer = encode(body);
    if (!writer)
        return fail(in_context(command, writer.error()));
    return call(command, *writer, timeout);
}

Result<std::vector<ordered_json>> ViciConnection::call_streaming(std::string_view command, const ViciWriter& body,
                                                                 std::string_view event_name, Timeout timeout)
{
    Status ready = usable();
    if (ready)
        ready = body.status();
    if (ready && subscribed(event_name))
        ready = fail("already subscribed to " + std::string(event_name) + ": charon would send each event twice");
    if (ready) // refuse a bad command name before registering for anything
        if (auto header = packet_header(ViciPacketType::cmd_request, command, body.bytes().size()); !header)
            ready = fail(header.error());
    if (!ready)
        return fail(in_context(command, ready.error()));
    Deadline deadline = Clock::now() + timeout;
    if (auto ok = register_event(ViciPacketType::event_register, event_name, event_name, deadline); !ok)
        return fail(ok.error());
    std::vector<ordered_json> events;
    Result<ordered_json> reply = fail("not sent");
    if (auto sent = send(ViciPacketType::cmd_request, command, body.bytes(), deadline); sent)
        reply = await_response(command, event_name, &events, deadline);
    else
        reply = fail(in_context(command, sent.error()));
    if (!reply && broken_)
        return fail(reply.error());
    Status unregistered = register_event(ViciPacketType::event_unregister, event_name, event_name, deadline);
    if (!reply)
        return fail(reply.error());
    if (!unregistered)
        return fail(unregistered.error());
    // initiate and terminate answer with success/errmsg; list-* with {}.
    if (reply->contains("success"))
        if (auto ok = expect_success(*reply, command); !ok)
            return fail(ok.error());
    return events;
}

Result<std::vector<ordered_json>> ViciConnection::call_streaming(std::string_view command, const ordered_json& body,
                                                                 std::string_view event_name, Timeout timeout)
{
    auto writer = encode(body);
    if (!writer)
        return fail(in_context(command, writer.error()));
    return call_streaming(command, *writer, event_name, timeout);
}

Status ViciConnection::subscribe(std::string_view event, Timeout timeout)
{
    if (auto ok = usable(); !ok)
        return ok;
    if (subscribed(event))
        return {};
    if (auto ok = register_event(ViciPacketType::event_register, event, {}, Clock::now() + timeout); !ok)
        return ok;
    subscriptions_.emplace_back(event);
    return {};
}

Status ViciConnection::unsubscribe(std::string_view event, Timeout timeout)
{
    if (auto ok = usable(); !ok)
        return ok;
    auto it = std::ranges::find(subscriptions_, event);
    if (it == subscriptions_.end())
        return {};
    // Gone from our list even if charon's answer goes astray: after an
    // error the connection is unusable anyway.
    subscriptions_.erase(it);
    return register_event(ViciPacketType::event_unregister, event, {}, Clock::now() + timeout);
}

Result<ViciEvent> ViciConnection::read_event(Timeout timeout)
{
    if (!queued_.empty()) {
        Result<ViciEvent> event = std::move(queued_.front());
        queued_.pop_front();
        return event;
    }
    if (auto ok = usable(); !ok)
        return fail(ok.error());
    auto packet = receive(Clock::now() + timeout);
    if (!packet)
        return fail(packet.error());
    if (packet->type != ViciPacketType::event)
        return out_of_step(Error{"vici: an unexpected " + std::string(to_string(packet->type)) +
                                 " packet while no command was active"});
    return to_event(packet->name, packet->message());
}

} // namespace xfrmctl::ikev2
