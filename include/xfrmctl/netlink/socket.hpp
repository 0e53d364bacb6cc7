// A NETLINK_XFRM socket: many requests per sendmsg with every ACK checked,
// the kernel's extended ACK carried into each error, and dumps that are run
// again when the kernel reports them interrupted.
#pragma once

#include "xfrmctl/netlink/message.hpp"
#include "xfrmctl/util/result.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

struct mnl_socket;

namespace xfrmctl::netlink {

// The kernel's answer to one request.
struct Ack {
    int error = 0;       // 0, or the errno the kernel returned
    std::string message; // the extended ACK text, when the kernel gave one
    std::optional<std::uint32_t> attribute_offset; // NLMSGERR_ATTR_OFFS
    bool answered = true; // false when the ACK was lost to a full receive buffer

    bool ok() const { return answered && error == 0; }
    std::string describe() const; // "File exists (extack: ...)" 
};

// A message the kernel sent back (a GET reply); it may hold keys and is
// wiped with the buffer.
class Reply {
public:
    explicit Reply(Secret bytes) : bytes_(std::move(bytes)) {}
    const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(bytes_.data()); }

private:
    Secret bytes_;
};

class XfrmSocket {
public:
    // groups: the XFRMNLGRP_* multicast groups to join (0 for none).
    static Result<XfrmSocket> open(unsigned groups = 0);

    XfrmSocket(XfrmSocket&&) noexcept = default;
    XfrmSocket& operator=(XfrmSocket&&) noexcept = default;
    ~XfrmSocket();

    // Sends the requests, many per sendmsg, and returns the kernel's answer
    // to each, in order. A request the kernel refuses does not stop the
    // others (netlink_rcv_skb() goes on with the next message).
    Result<std::vector<Ack>> transact(std::span<const Request> requests);

    // Runs a dump; `restart` is called before every attempt, `visit` for
    // each answer. An interrupted dump (NLM_F_DUMP_INTR) is run again.
    Status dump(const Request& request, const std::function<void()>& restart,
                const std::function<Status(const nlmsghdr*)>& visit);

    // Waits up to timeout_ms (-1: for ever) for messages the kernel sends on
    // its own (events, for a socket bound to groups) and hands each to
    // `on_message`. Fails with errnum ENOBUFS when the receive buffer
    // overflowed and events were lost: the caller must re-read the tables.
    Status receive(const std::function<void(const nlmsghdr*)>& on_message, int timeout_ms = -1);

    // One GET: the reply, or nullopt when the kernel has no such entry.
    Result<std::optional<Reply>> query(const Request& request);

    int fd() const; // -1 once dropped
    std::uint32_t portid() const { return portid_; }
    // Whether the descriptor is still this socket (not closed under us).
    bool intact() const;
    // Lets go of the socket (closing it unless its number is now another
    // file's); every request then fails with EBADF.
    void drop();

private:
    struct Closer {
        void operator()(mnl_socket* s) const;
    };
    XfrmSocket(std::unique_ptr<mnl_socket, Closer> socket, std::uint32_t portid);

    Status send_chunk(std::span<const Request> requests, std::uint32_t first_seq);
    Status collect_acks(std::uint32_t first_seq, std::span<Ack> acks);
    Status dump_once(const Request& request, const std::function<Status(const nlmsghdr*)>& visit, bool& interrupted);

    std::unique_ptr<mnl_socket, Closer> socket_;
    std::uint32_t portid_ = 0;
    std::uint32_t seq_ = 0;
};

// Parses an NLMSG_ERROR message into an Ack.
Ack parse_ack(const nlmsghdr* nlh);

// Consumes the answers to one dump request, buffer by buffer. Once a message
// carries NLM_F_DUMP_INTR (the table changed under the dump) nothing more is
// visited, the rest is read to the end, and the dump must be run again.
// (XFRM dumps do not set it today: xfrm_dump_sa() and xfrm_dump_policy()
// leave cb->seq unset, and walk with a marker instead; the flag is honoured
// all the same.)
class DumpReader {
public:
    enum class State { reading, done };
    DumpReader(std::uint32_t seq, const std::function<Status(const nlmsghdr*)>& visit) : seq_(seq), visit_(visit) {}

    State feed(std::span<const std::uint8_t> buffer);
    bool interrupted() const { return interrupted_; }
    const Status& result() const { return result_; }

private:
    std::uint32_t seq_;
    const std::function<Status(const nlmsghdr*)>& visit_;
    bool interrupted_ = false;
    Status result_;
};

} // namespace xfrmctl::netlink
