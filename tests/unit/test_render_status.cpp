// Status as Prometheus metrics and JSON: each metric family in one group
// under its HELP and TYPE, and the version in both.
#include "xfrmctl/report/render.hpp"
#include "xfrmctl/util/version.hpp"

#include <doctest/doctest.h>

#include <set>
#include <sstream>

using namespace xfrmctl;

namespace {

std::vector<engine::TunnelStatus> two_tunnels()
{
    std::vector<engine::TunnelStatus> tunnels(2);
    tunnels[0].name = "branch-a";
    tunnels[0].health = engine::Health::up;
    tunnels[0].bytes_in = 100;
    tunnels[0].packets_in = 1;
    tunnels[0].last_in_seconds = 3;
    tunnels[1].name = "branch-b";
    tunnels[1].next_roll = 1800000000;
    return tunnels;
}

// The name of a sample line, or of the family a TYPE line opens.
std::string name_of(const std::string& line)
{
    if (line.starts_with("# TYPE "))
        return line.substr(7, line.find(' ', 7) - 7);
    return line.substr(0, line.find_first_of("{ "));
}

} // namespace

TEST_CASE("prometheus: every family's samples follow its own HELP and TYPE, none elsewhere")
{
    std::istringstream text(report::prometheus(two_tunnels(), {{"XfrmInNoStates", 2}}));
    std::set<std::string> closed;
    std::string family, line;
    int samples = 0;
    while (std::getline(text, line)) {
        if (line.starts_with("# HELP"))
            continue;
        std::string name = name_of(line);
        if (line.starts_with("# TYPE ")) {
            CHECK_MESSAGE(!closed.contains(name), "a second group of " << name);
            closed.insert(family);
            family = name;
            continue;
        }
        CHECK_MESSAGE(name == family, line << " in the group of " << family);
        ++samples;
    }
    CHECK(samples > 2 * 6);
}

TEST_CASE("prometheus and status --json carry the version")
{
    std::string expected = std::string("xfrmctl_build_info{version=\"") + version() + "\"} 1\n";
    CHECK(report::prometheus({}).find(expected) != std::string::npos);
    CHECK(report::status_json({})["version"] == version());
    CHECK(std::string(version()).find('.') != std::string::npos);
}
