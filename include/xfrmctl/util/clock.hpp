// Wall-clock times as events and records show them.
#pragma once

#include <ctime>
#include <string>

namespace xfrmctl {

// RFC 3339 in UTC, to the second: "2026-11-27T12:00:00Z".
std::string utc_timestamp(std::time_t when = std::time(nullptr));

} // namespace xfrmctl
