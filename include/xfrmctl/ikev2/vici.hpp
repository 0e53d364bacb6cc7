// A small client for strongSwan's VICI protocol, the control interface charon
// offers on a UNIX socket (strongSwan's src/libcharon/plugins/vici/README.md).
// Our own rather than libvici: libvici brings libstrongswan, its thread pool
// and event callbacks on foreign threads; this one is blocking, single
// threaded, returns errors as values and fits a poll loop.
//
// A message in memory is an nlohmann::ordered_json object (order matters to
// charon): object = section, string = key/value, array of strings = list.
// Secrets (PSKs, private keys) never go into json: requests that carry them
// are built with ViciWriter, whose buffer is wiped whenever it is freed.
#pragma once

#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/secret.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xfrmctl::ikev2 {

using ordered_json = nlohmann::ordered_json;

// charon's VICI_MESSAGE_SIZE_MAX (vici_socket.h, 5.9.8 to 6.0): the largest
// value of the length field, which counts the type byte, name and message.
// charon drops the connection on a larger packet from us, and silently
// discards a larger response of its own, so such a call ends in a timeout.
inline constexpr std::size_t kViciMaxPacket = 512 * 1024;
inline constexpr std::size_t kViciMaxName = 0xff;   // 8-bit length field
inline constexpr std::size_t kViciMaxValue = 0xffff; // 16-bit length field
// Ours: strongSwan has no nesting limit; its own messages nest 4 deep.
inline constexpr std::size_t kViciMaxDepth = 16;

// An allocator that wipes memory before freeing it, so that neither a
// vector's growth nor its destruction leaves a copy of a key on the heap.
template <typename T>
struct WipingAllocator {
    using value_type = T;
    WipingAllocator() = default;
    template <typename U>
    WipingAllocator(const WipingAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept
    {
        wipe(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    friend bool operator==(const WipingAllocator&, const WipingAllocator&) { return true; }
};
using WipedBytes = std::vector<std::byte, WipingAllocator<std::byte>>;

// Builds a message element by element into a wiped buffer. Misuse (a list
// item outside a list, an over-long name or value, too deep) is remembered
// and reported by status(), which also refuses open sections or lists.
class ViciWriter {
public:
    ViciWriter() = default;
    ViciWriter(const ViciWriter&) = delete;
    ViciWriter& operator=(const ViciWriter&) = delete;
    ViciWriter(ViciWriter&&) noexcept = default;
    ViciWriter& operator=(ViciWriter&&) noexcept = default;
    ~ViciWriter() = default; // WipingAllocator wipes the buffer

    ViciWriter& begin_section(std::string_view name);
    ViciWriter& end_section();
    ViciWriter& key_value(std::string_view name, std::span<const std::byte> value);
    ViciWriter& key_value(std::string_view name, std::string_view value);
    ViciWriter& begin_list(std::string_view name);
    ViciWriter& list_item(std::span<const std::byte> value);
    ViciWriter& list_item(std::string_view value);
    ViciWriter& end_list();
    // Writes the members of a json object into the current section, as
    // encode() does; for the parts of a request that are not secret.
    ViciWriter& append(const ordered_json& object);

    Status status() const;
    std::span<const std::byte> bytes() const { return buffer_; }

private:
    bool check(bool ok, std::string_view what);
    bool put(std::uint8_t type, const std::string_view* name, const std::span<const std::byte>* value);
    void append_member(const std::string& name, const ordered_json& value);

    WipedBytes buffer_;
    std::string error_; // the first misuse; empty while all is well
    std::size_t depth_ = 0;
    bool in_list_ = false;
};

// json → message. Numbers and booleans become text (true "yes", false "no"),
// json binary values raw bytes; null, nested arrays and arrays of objects
// have no VICI form and are errors.
Result<ViciWriter> encode(const ordered_json& message);

// message → json: objects, strings and arrays of strings only. Values are
// raw bytes in std::string and need not be UTF-8 (list-certs sends DER), so
// dump() such json with error_handler_t::replace. Malformed input, including
// a key repeated in one section, is an error.
Result<ordered_json> decode(std::span<const std::byte> message);

enum class ViciPacketType : std::uint8_t {
    cmd_request = 0,
    cmd_response = 1,
    cmd_unknown = 2,
    event_register = 3,
    event_unregister = 4,
    event_confirm = 5,
    event_unknown = 6,
    event = 7,
};

// "CMD_REQUEST", ... as the README names them.
std::string_view to_string(ViciPacketType type);

// A parsed packet; name and message are views into the bytes parsed.
struct ViciPacket {
    ViciPacketType type{};
    std::string_view name;
    std::span<const std::byte> message;
};

// The length field, type and name: all that comes before the message, so a
// message holding secrets can be sent from its own buffer without a copy.
Result<std::vector<std::byte>> packet_header(ViciPacketType type, std::string_view name,
                                             std::size_t message_size);
// A whole packet (length field included).
Result<WipedBytes> encode_packet(ViciPacketType type, std::string_view name,
                                 std::span<const std::byte> message = {});
// The length field's value, checked to be 1..kViciMaxPacket.
Result<std::size_t> packet_length(std::span<const std::byte, 4> field);
// `payload` is what follows the length field.
Result<ViciPacket> parse_packet(std::span<const std::byte> payload);

// charon's usual answer is {success = yes|no, errmsg = ...}: turns a "no"
// into an error "<what>: <errmsg>".
Status expect_success(const ordered_json& reply, std::string_view what);

struct ViciEvent {
    std::string name;
    ordered_json message;
};

// One connection to charon. Commands are strictly one at a time (the
// protocol has no sequence numbers). Events that arrive during a command or
// (un)registration are queued for read_event(). After a timeout or any error
// that may have left the byte stream out of step, every further operation
// fails: reconnect.
class ViciConnection {
public:
    using Timeout = std::chrono::milliseconds;
    static constexpr Timeout kDefaultTimeout{10'000};

    static Result<ViciConnection> connect(const std::string& socket_path);
    // Takes over a connected stream socket (made non-blocking here).
    static Result<ViciConnection> adopt(UniqueFd fd);

    ViciConnection(ViciConnection&&) noexcept = default;
    ViciConnection& operator=(ViciConnection&&) noexcept = default;

    // Sends a command and waits for its response. CMD_UNKNOWN is the error
    // "charon does not know the command X". The timeout covers the whole
    // call: give `initiate` with its own timeout a longer one.
    Result<ordered_json> call(std::string_view command, const ViciWriter& body,
                              Timeout timeout = kDefaultTimeout);
    Result<ordered_json> call(std::string_view command,
                              const ordered_json& body = ordered_json::object(),
                              Timeout timeout = kDefaultTimeout);

    // For commands that stream their answer as events (list-sas: list-sa,
    // initiate: control-log): registers for `event_name`, sends the command,
    // collects those events until the response, unregisters. A response with
    // success = no is an error. `event_name` must not be subscribed to here:
    // charon would deliver each event twice.
    Result<std::vector<ordered_json>> call_streaming(std::string_view command, const ViciWriter& body,
                                                     std::string_view event_name,
                                                     Timeout timeout = kDefaultTimeout);
    Result<std::vector<ordered_json>> call_streaming(std::string_view command, const ordered_json& body,
                                                     std::string_view event_name,
                                                     Timeout timeout = kDefaultTimeout);

    // EVENT_REGISTER; EVENT_UNKNOWN is an error. Subscribing twice is a
    // no-op (charon would otherwise send each event twice).
    Status subscribe(std::string_view event, Timeout timeout = kDefaultTimeout);
    Status unsubscribe(std::string_view event, Timeout timeout = kDefaultTimeout);

    // For poll(): readable means an event (or part of one) has arrived.
    int fd() const { return fd_.get(); }
    // Events queued by call()/subscribe(); poll() cannot see them.
    bool has_queued_events() const { return !queued_.empty(); }
    // A queued event, else reads one whole packet, waiting up to `timeout`.
    Result<ViciEvent> read_event(Timeout timeout = kDefaultTimeout);

private:
    using Deadline = std::chrono::steady_clock::time_point;
    struct Received;

    explicit ViciConnection(UniqueFd fd) : fd_(std::move(fd)) {}
    Status usable() const;
    std::unexpected<Error> out_of_step(Error error);
    Status send(ViciPacketType type, std::string_view name, std::span<const std::byte> message,
                Deadline deadline);
    Result<Received> receive(Deadline deadline);
    void queue_event(const Received& packet, std::string_view dropped);
    Result<ordered_json> await_response(std::string_view command, std::string_view streamed,
                                        std::vector<ordered_json>* events, Deadline deadline);
    Result<bool> await_confirm(std::string_view what, std::string_view dropped, Deadline deadline);
    Status register_event(ViciPacketType type, std::string_view event, std::string_view dropped,
                          Deadline deadline);
    bool subscribed(std::string_view event) const;

    UniqueFd fd_;
    bool broken_ = false;
    std::deque<Result<ViciEvent>> queued_; // an undecodable event as its error
    std::vector<std::string> subscriptions_;
};

} // namespace xfrmctl::ikev2
