// When each SA's inbound packet count was last seen to change. Kernels
// before 6.9 keep no "last used" time for ESP or AH SAs (x->lastused is set
// on output of route-optimisation states only), so "seconds since the last
// packet in" comes from watching the counter between looks.
#pragma once

#include "xfrmctl/util/result.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace xfrmctl::state {

class Observations {
public:
    static Observations load(const std::filesystem::path& state_dir); // empty if unreadable
    Status save(const std::filesystem::path& state_dir) const;

    // Seconds since the count last changed; nullopt when not yet known.
    std::optional<std::uint64_t> seconds_since_change(const std::string& sa, std::uint64_t packets, std::uint64_t now);

private:
    struct Seen {
        std::uint64_t packets = 0;
        std::uint64_t since = 0;
        bool known = false; // the change was seen, not just the first count
    };
    std::map<std::string, Seen> seen_;
};

} // namespace xfrmctl::state
