// The control protocol between xfrmctl and xfrmd: over xfrmd's UNIX stream
// socket, one JSON request on one line, one JSON response on one line.
// Only root may connect (the socket is 0600 in a 0700 directory, and xfrmd
// checks the peer's credentials).
#pragma once

#include "xfrmctl/util/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xfrmctl::engine {

struct ControlRequest {
    std::string command; // apply, down, status, reload
    bool json = false, check = false, diff = false, all = false, prometheus = false;
    std::vector<std::string> names;
    std::string definitions; // the -c the client was given: it must be the daemon's
};

struct ControlResponse {
    int exit = 0;
    std::string out, err; // what to print on stdout and stderr
};

std::string encode(const ControlRequest& r);
Result<ControlRequest> decode_request(const std::string& line);
std::string encode(const ControlResponse& r);
Result<ControlResponse> decode_response(const std::string& line);

// nullopt when no daemon listens there (no socket, or nobody behind it):
// the caller then does the work itself.
Result<std::optional<ControlResponse>> ask_daemon(const std::filesystem::path& socket, const ControlRequest& request);

} // namespace xfrmctl::engine
