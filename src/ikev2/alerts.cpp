#include "xfrmctl/ikev2/alerts.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace xfrmctl::ikev2 {

namespace {

struct Field {
    std::size_t offset, size;
};
constexpr Field kText{4, 384}, kName{388, 64}, kId{452, 256}, kIp{708, 60};

std::string field(std::span<const std::byte> record, Field f)
{
    const char* begin = reinterpret_cast<const char*>(record.data() + f.offset);
    return std::string(begin, strnlen(begin, f.size));
}

void put(std::vector<std::byte>& out, Field f, const std::string& text)
{
    std::memcpy(out.data() + f.offset, text.data(), std::min(text.size(), f.size - 1));
}

// ERROR_NOTIFY_* types that mean the tunnel cannot come up or stay up.
constexpr std::array kFailures = {2, 3, 6, 7, 8, 9, 10, 11, 12, 16, 17, 18, 19, 23, 24, 28, 29, 30, 31, 32};

} // namespace

bool Alert::is_failure() const
{
    return std::find(kFailures.begin(), kFailures.end(), type) != kFailures.end();
}

bool Alert::is_certificate_problem() const
{
    return (type >= 17 && type <= 19) || (type >= 29 && type <= 32);
}

std::string operator_reason(const Alert& a, bool psk)
{
    std::string meaning;
    if (a.type == 2) // ERROR_NOTIFY_LOCAL_AUTH_FAILED: the peer sent AUTHENTICATION_FAILED
        meaning = psk ? "the peer refused our authentication: the two ends do not hold the same PSK (or file it "
                        "under other identities)"
                      : "the peer refused our authentication: it does not trust our certificate or expects "
                        "another identity";
    else if (a.type == 3) // ERROR_NOTIFY_PEER_AUTH_FAILED: the peer's AUTH did not verify here
        meaning = psk ? "the peer's authentication failed here: it does not hold the same PSK as this end (or "
                        "uses another identity)"
                      : "the peer's authentication failed here: its certificate is not trusted or not the "
                        "identity expected";
    return meaning.empty() ? a.text : meaning + " (charon: " + a.text + ")";
}

Result<Alert> decode_alert(std::span<const std::byte> record)
{
    if (record.size() != kAlertSize)
        return fail("an error-notify record is " + std::to_string(kAlertSize) + " bytes, got " +
                    std::to_string(record.size()));
    std::uint32_t type = 0;
    std::memcpy(&type, record.data(), sizeof type);
    return Alert{static_cast<int>(ntohl(type)), field(record, kText), field(record, kName), field(record, kId),
                 field(record, kIp)};
}

std::vector<std::byte> encode_alert(const Alert& a)
{
    std::vector<std::byte> out(kAlertSize);
    std::uint32_t type = htonl(static_cast<std::uint32_t>(a.type));
    std::memcpy(out.data(), &type, sizeof type);
    put(out, kText, a.text);
    put(out, kName, a.connection);
    put(out, kId, a.peer_id);
    put(out, kIp, a.peer_address);
    return out;
}

Result<AlertStream> AlertStream::connect(const std::filesystem::path& socket)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket.native().size() >= sizeof addr.sun_path)
        return fail("alert socket path too long: " + socket.string());
    std::strcpy(addr.sun_path, socket.c_str());
    if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return fail(Error::from_errno("connect " + socket.string(), errno));
    return AlertStream(std::move(fd));
}

Result<std::vector<Alert>> AlertStream::read_available()
{
    if (closed_)
        return fail("charon closed the alert socket");
    std::array<std::byte, 8192> buffer;
    while (true) {
        ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), 0);
        if (n == 0) { // the records before the end still count
            closed_ = true;
            break;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0)
            return fail(Error::from_errno("read alerts", errno));
        partial_.insert(partial_.end(), buffer.begin(), buffer.begin() + n);
    }
    std::vector<Alert> alerts;
    std::size_t used = 0;
    for (; partial_.size() - used >= kAlertSize; used += kAlertSize)
        if (auto a = decode_alert(std::span(partial_).subspan(used, kAlertSize)))
            alerts.push_back(std::move(*a));
    partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(used));
    if (closed_ && alerts.empty())
        return fail("charon closed the alert socket");
    return alerts;
}

} // namespace xfrmctl::ikev2
