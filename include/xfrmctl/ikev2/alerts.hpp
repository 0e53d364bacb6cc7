// charon's alerts, as its error-notify plugin sends them on a UNIX stream
// socket: fixed records of 768 bytes (error_notify_msg.h in strongSwan):
// int type (network order), char str[384], name[64], id[256], ip[60].
#pragma once

#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace xfrmctl::ikev2 {

inline constexpr std::size_t kAlertSize = 4 + 384 + 64 + 256 + 60;

struct Alert {
    int type = 0;
    std::string text;       // charon's own words, "peer authentication failed"
    std::string connection; // the connection's name, when charon knew it
    std::string peer_id, peer_address;

    // Whether it explains a failure to establish or keep the tunnel (as
    // opposed to news like "retransmitting" or "replaced a duplicate").
    bool is_failure() const;
    // A certificate's problem (no trusted issuer, expired, revoked...): it
    // says what to fix, where the "authentication failed" that follows it
    // does not.
    bool is_certificate_problem() const;
};

// What the alert means for the operator of the tunnel, with charon's own
// words after it: charon speaks from its own side ("local authentication
// failed" is the peer refusing ours), which reads backwards in a status.
// `psk`: the tunnel authenticates with a pre-shared key (else X.509).
std::string operator_reason(const Alert& alert, bool psk);

Result<Alert> decode_alert(std::span<const std::byte> record);
std::vector<std::byte> encode_alert(const Alert& alert); // for tests

// A client of the error-notify socket.
class AlertStream {
public:
    static Result<AlertStream> connect(const std::filesystem::path& socket);
    int fd() const { return fd_.get(); }
    // The whole records received so far; an error once charon hung up.
    Result<std::vector<Alert>> read_available();

private:
    explicit AlertStream(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
    std::vector<std::byte> partial_;
    bool closed_ = false; // charon hung up: said once what came before is out
};

} // namespace xfrmctl::ikev2
