// Every input in the fuzz targets' seed corpus and every crash the fuzzers
// ever found (tests/fuzz/regressions/<target>/) goes through the same code
// as under libFuzzer, here in the ordinary build.
#include "../fuzz/targets.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace {

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The inputs of one target; the seed corpus must not be empty.
std::size_t run_inputs(const char* target)
{
    auto run = xfrmctl::fuzz::target_named(target);
    REQUIRE(static_cast<bool>(run));
    std::size_t count = 0;
    for (const char* kind : {"corpus", "regressions"}) {
        std::filesystem::path dir = std::filesystem::path(XFRMCTL_TEST_DATA) / "fuzz" / kind / target;
        if (!std::filesystem::exists(dir))
            continue;
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            auto bytes = read_bytes(entry.path());
            INFO(entry.path().string());
            CHECK_NOTHROW(run(bytes));
            ++count;
        }
    }
    return count;
}

} // namespace

TEST_CASE("fuzz corpus and regressions: definitions")
{
    CHECK(run_inputs("definitions") >= 4);
}

TEST_CASE("fuzz corpus and regressions: netlink")
{
    CHECK(run_inputs("netlink") >= 8);
}

TEST_CASE("fuzz corpus and regressions: control")
{
    CHECK(run_inputs("control") >= 5);
}

TEST_CASE("fuzz corpus and regressions: vici")
{
    CHECK(run_inputs("vici") >= 6);
}
