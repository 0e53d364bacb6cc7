// The host's XFRM error counters (/proc/net/xfrm_stat, one per network
// namespace; the kernel has it with CONFIG_XFRM_STATISTICS): what no SA
// counter shows, such as packets that found no SA or no policy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace xfrmctl::engine {

using HostCounters = std::map<std::string, std::uint64_t>; // "XfrmInNoStates" -> 3

// Empty when the kernel does not keep them.
HostCounters read_xfrm_stat(const std::filesystem::path& file = "/proc/net/xfrm_stat");

} // namespace xfrmctl::engine
