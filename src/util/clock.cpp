#include "xfrmctl/util/clock.hpp"

namespace xfrmctl {

std::string utc_timestamp(std::time_t when)
{
    char text[32];
    std::tm parts{};
    gmtime_r(&when, &parts);
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

} // namespace xfrmctl
