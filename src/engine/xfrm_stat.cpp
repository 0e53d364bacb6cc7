#include "xfrmctl/engine/xfrm_stat.hpp"

#include <fstream>

namespace xfrmctl::engine {

// Lines of "XfrmInError              0" (net/xfrm/xfrm_proc.c).
HostCounters read_xfrm_stat(const std::filesystem::path& file)
{
    HostCounters counters;
    std::ifstream in(file);
    std::string name;
    std::uint64_t value = 0;
    while (in >> name >> value)
        counters[name] = value;
    return counters;
}

} // namespace xfrmctl::engine
