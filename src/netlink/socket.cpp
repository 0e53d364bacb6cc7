#include "xfrmctl/netlink/socket.hpp"

#include "attributes.hpp"

#include <libmnl/libmnl.h>
#include <linux/xfrm.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace xfrmctl::netlink {

namespace {

constexpr std::size_t kReceiveBufferSize = 64 * 1024;
// Enough requests per sendmsg to make the syscall cost vanish, few enough
// that their ACKs fit in the receive buffer (each ACK costs a whole skb).
constexpr std::size_t kMaxRequestsPerSend = 256;
constexpr std::size_t kMaxBytesPerSend = 256 * 1024;
constexpr int kSocketBufferSize = 8 * 1024 * 1024;
constexpr int kMaxDumpAttempts = 10;

// Whether a whole message lies in the `left` bytes from nlh. Instead of
// mnl_nlmsg_ok(), which compares nlmsg_len as a signed int: a length of
// 2^31 or more passes it, and mnl_nlmsg_next() then walks off the buffer
// (found by fuzzing: tests/fuzz/regressions/netlink).
bool message_fits(const nlmsghdr* nlh, int left)
{
    return left >= static_cast<int>(sizeof(nlmsghdr)) && nlh->nlmsg_len >= sizeof(nlmsghdr) &&
           nlh->nlmsg_len <= static_cast<unsigned>(left);
}

void set_buffer(int fd, int force_option, int option)
{
    int size = kSocketBufferSize;
    // The *FORCE options need CAP_NET_ADMIN, which anyone changing XFRM
    // state has; otherwise take what the sysctl limits allow.
    if (setsockopt(fd, SOL_SOCKET, force_option, &size, sizeof size) < 0)
        setsockopt(fd, SOL_SOCKET, option, &size, sizeof size);
}

Status configure(mnl_socket* s)
{
    int one = 1;
    // Extended ACKs: the kernel's own words on what it refused and where.
    mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof one);
    // Capped ACKs: errors do not echo our request (which may hold keys).
    mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof one);
    int fd = mnl_socket_get_fd(s);
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
    set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
    timeval timeout{10, 0}; // the kernel answers at once; never hang on it
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0)
        return fail(Error::from_errno("netlink socket timeout", errno));
    return {};
}

const nlattr* find_attribute(const nlattr* begin, std::size_t size, std::uint16_t type)
{
    const auto* a = begin;
    int left = static_cast<int>(size);
    for (; mnl_attr_ok(a, left); a = next_attribute(a, left))
        if (mnl_attr_get_type(a) == type)
            return a;
    return nullptr;
}

} // namespace

std::string Ack::describe() const
{
    if (!answered)
        return "no answer from the kernel (its acknowledgement was lost)";
    std::string s = std::strerror(error);
    if (!message.empty())
        s += " (kernel: " + message + ")";
    return s;
}

Ack parse_ack(const nlmsghdr* nlh)
{
    Ack ack;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) {
        ack.error = EBADMSG;
        return ack;
    }
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
    // The kernel sends a negative errno, or 0; anything else is not an
    // answer it gives (and -INT_MIN is not an int).
    ack.error = err->error <= 0 && err->error > INT_MIN ? -err->error : EBADMSG;
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
        return ack;
    std::size_t tlv_offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
        // The echoed request's payload, padded as nlmsg_append() pads it
        // (net/netlink/af_netlink.c, netlink_ack), so the TLVs start aligned.
        if (err->msg.nlmsg_len < sizeof(nlmsghdr))
            return ack;
        tlv_offset += NLMSG_ALIGN(std::size_t{err->msg.nlmsg_len} - sizeof(nlmsghdr));
    }
    std::size_t payload = mnl_nlmsg_get_payload_len(nlh);
    if (tlv_offset >= payload)
        return ack;
    const auto* tlvs = reinterpret_cast<const nlattr*>(static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + tlv_offset);
    if (const nlattr* msg = find_attribute(tlvs, payload - tlv_offset, NLMSGERR_ATTR_MSG))
        ack.message.assign(static_cast<const char*>(mnl_attr_get_payload(msg)),
                           strnlen(static_cast<const char*>(mnl_attr_get_payload(msg)), mnl_attr_get_payload_len(msg)));
    if (const nlattr* offs = find_attribute(tlvs, payload - tlv_offset, NLMSGERR_ATTR_OFFS);
        offs && mnl_attr_get_payload_len(offs) >= 4)
        ack.attribute_offset = mnl_attr_get_u32(offs);
    return ack;
}

void XfrmSocket::Closer::operator()(mnl_socket* s) const { mnl_socket_close(s); }

XfrmSocket::XfrmSocket(std::unique_ptr<mnl_socket, Closer> socket, std::uint32_t portid)
    : socket_(std::move(socket)), portid_(portid)
{
}

XfrmSocket::~XfrmSocket() = default;

int XfrmSocket::fd() const { return socket_ ? mnl_socket_get_fd(socket_.get()) : -1; }

// Our socket still, by its port: a descriptor closed under us reads EBADF,
// and its number, reused, names some other file or socket.
bool XfrmSocket::intact() const
{
    sockaddr_nl address{};
    socklen_t length = sizeof address;
    int protocol = 0;
    socklen_t protocol_length = sizeof protocol;
    return socket_ && getsockname(fd(), reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
           address.nl_family == AF_NETLINK && address.nl_pid == portid_ &&
           getsockopt(fd(), SOL_SOCKET, SO_PROTOCOL, &protocol, &protocol_length) == 0 && protocol == NETLINK_XFRM;
}

void XfrmSocket::drop()
{
    bool number_reused = socket_ && !intact() && fcntl(fd(), F_GETFD) >= 0;
    // Closing a reused number would close somebody else's file: the few
    // bytes of libmnl's handle are left behind instead.
    if (number_reused)
        (void)socket_.release();
    socket_.reset();
}

Result<XfrmSocket> XfrmSocket::open(unsigned groups)
{
    std::unique_ptr<mnl_socket, Closer> s(mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC));
    if (!s)
        return fail(Error::from_errno("cannot open the kernel's XFRM netlink socket", errno));
    if (mnl_socket_bind(s.get(), groups, MNL_SOCKET_AUTOPID) < 0)
        return fail(Error::from_errno("cannot bind the XFRM netlink socket", errno));
    if (auto ok = configure(s.get()); !ok)
        return fail(ok.error());
    std::uint32_t portid = mnl_socket_get_portid(s.get());
    return XfrmSocket(std::move(s), portid);
}

Result<std::vector<Ack>> XfrmSocket::transact(std::span<const Request> requests)
{
    std::vector<Ack> acks(requests.size());
    std::size_t done = 0;
    while (done < requests.size()) {
        std::size_t count = 0, bytes = 0;
        while (done + count < requests.size() && count < kMaxRequestsPerSend &&
               (count == 0 || bytes + requests[done + count].bytes().size() <= kMaxBytesPerSend))
            bytes += requests[done + count++].bytes().size();
        std::uint32_t first_seq = seq_ + 1;
        seq_ += static_cast<std::uint32_t>(count);
        if (auto ok = send_chunk(requests.subspan(done, count), first_seq); !ok)
            return fail(ok.error());
        if (auto ok = collect_acks(first_seq, std::span(acks).subspan(done, count)); !ok)
            return fail(ok.error());
        done += count;
    }
    return acks;
}

Status XfrmSocket::send_chunk(std::span<const Request> requests, std::uint32_t first_seq)
{
    if (!socket_)
        return fail(Error::from_errno("the XFRM netlink socket is closed", EBADF));
    std::size_t total = 0;
    for (const auto& r : requests)
        total += r.bytes().size();
    Secret buffer(total);
    std::size_t at = 0;
    std::uint32_t seq = first_seq;
    for (const auto& r : requests) {
        std::memcpy(buffer.data() + at, r.bytes().data(), r.bytes().size());
        auto* nlh = reinterpret_cast<nlmsghdr*>(buffer.data() + at);
        nlh->nlmsg_seq = seq++;
        nlh->nlmsg_pid = portid_; // the kernel stamps the events our changes cause with it
        // Only the last asks for an ACK: the kernel answers a refusal
        // whatever the flags (netlink_rcv_skb), and every ACK is a message
        // of its own, read with a syscall of its own.
        if (&r != &requests.back())
            nlh->nlmsg_flags &= static_cast<std::uint16_t>(~NLM_F_ACK);
        at += r.bytes().size();
    }
    if (mnl_socket_sendto(socket_.get(), buffer.data(), buffer.size()) < 0)
        return fail(Error::from_errno("cannot send to the kernel", errno));
    return {};
}

// The kernel handles an XFRM request inside our sendmsg (netlink_unicast_kernel
// runs xfrm_netlink_rcv in the sender's context), so once sendmsg returns,
// every answer is either queued on our socket or was dropped because the
// queue was full (netlink_overrun: ENOBUFS). Reading until the queue is
// empty is therefore exact. The requests before the last carry no
// NLM_F_ACK: with the last one's ACK in and nothing dropped, silence means
// done. Otherwise a request with no answer is marked so, and the caller
// asks the kernel what became of it.
Status XfrmSocket::collect_acks(std::uint32_t first_seq, std::span<Ack> acks)
{
    for (auto& a : acks)
        a.answered = false;
    std::size_t pending = acks.size();
    bool dropped = false;
    Secret buffer(kReceiveBufferSize);
    while (pending) {
        ssize_t n = recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        dropped = dropped || (n < 0 && errno == ENOBUFS);
        if (n < 0 && (errno == EINTR || errno == ENOBUFS))
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0)
            return fail(Error::from_errno("no answer from the kernel", errno));
        int left = static_cast<int>(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data()); message_fits(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left)) {
            std::uint32_t i = nlh->nlmsg_seq - first_seq;
            if (nlh->nlmsg_type != NLMSG_ERROR || i >= acks.size() || acks[i].answered)
                continue;
            acks[i] = parse_ack(nlh);
            --pending;
        }
    }
    if (!dropped && acks.back().answered)
        for (auto& a : acks)
            if (!a.answered)
                a = Ack{};
    return {};
}

Status XfrmSocket::dump(const Request& request, const std::function<void()>& restart,
                        const std::function<Status(const nlmsghdr*)>& visit)
{
    for (int attempt = 0; attempt < kMaxDumpAttempts; ++attempt) {
        restart();
        bool interrupted = false;
        if (auto ok = dump_once(request, visit, interrupted); !ok)
            return ok;
        if (!interrupted)
            return {};
    }
    return fail("the kernel's table kept changing while it was read; try again", EAGAIN);
}

DumpReader::State DumpReader::feed(std::span<const std::uint8_t> buffer)
{
    int left = static_cast<int>(buffer.size());
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data()); message_fits(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
        if (nlh->nlmsg_seq != seq_)
            continue;
        if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
            interrupted_ = true;
        if (nlh->nlmsg_type == NLMSG_DONE)
            return State::done;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
            Ack ack = parse_ack(nlh);
            if (ack.error && result_)
                result_ = fail("reading the kernel's table: " + ack.describe(), ack.error);
            return State::done;
        }
        if (result_ && !interrupted_)
            result_ = visit_(nlh); // on a failure, keep reading to the end of the dump
    }
    return State::reading;
}

Status XfrmSocket::dump_once(const Request& request, const std::function<Status(const nlmsghdr*)>& visit,
                             bool& interrupted)
{
    std::uint32_t seq = ++seq_;
    if (auto ok = send_chunk(std::span(&request, 1), seq); !ok)
        return ok;
    Secret buffer(kReceiveBufferSize);
    DumpReader reader(seq, visit);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(Error::from_errno("reading the kernel's table", errno));
        if (reader.feed(buffer.bytes().first(static_cast<std::size_t>(n))) == DumpReader::State::done) {
            interrupted = reader.interrupted();
            return reader.result();
        }
    }
}

Status XfrmSocket::receive(const std::function<void(const nlmsghdr*)>& on_message, int timeout_ms)
{
    pollfd p{fd(), POLLIN, 0};
    int ready = ::poll(&p, 1, timeout_ms);
    if (ready < 0 && errno != EINTR)
        return fail(Error::from_errno("waiting for the kernel", errno));
    if (ready <= 0)
        return {};
    Secret buffer(kReceiveBufferSize);
    for (;;) {
        ssize_t n = recv(fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return {};
        if (n < 0)
            return fail(Error::from_errno("reading kernel events", errno));
        int left = static_cast<int>(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data()); message_fits(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left))
            on_message(nlh);
    }
}

Result<std::optional<Reply>> XfrmSocket::query(const Request& request)
{
    std::uint32_t seq = ++seq_;
    if (auto ok = send_chunk(std::span(&request, 1), seq); !ok)
        return fail(ok.error());
    Secret buffer(kReceiveBufferSize);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(socket_.get(), buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(Error::from_errno("no answer from the kernel", errno));
        int left = static_cast<int>(n);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data()); message_fits(nlh, left);
             nlh = mnl_nlmsg_next(nlh, &left)) {
            if (nlh->nlmsg_seq != seq)
                continue;
            if (nlh->nlmsg_type != NLMSG_ERROR)
                return std::optional(Reply(Secret::copy_of({reinterpret_cast<const std::uint8_t*>(nlh), nlh->nlmsg_len})));
            Ack ack = parse_ack(nlh);
            if (ack.error == ENOENT || ack.error == ESRCH)
                return std::optional<Reply>();
            return fail(ack.describe(), ack.error);
        }
    }
}

} // namespace xfrmctl::netlink
