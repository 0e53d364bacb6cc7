// The record of used keys across runs that did not finish: a key written
// ahead of its SA is judged against the kernel it was sent to.
#include "scratch_dir.hpp"

#include "xfrmctl/state/key_history.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace xfrmctl;
using xfrmctl::test::ScratchDir;

namespace {

state::KeyHistory loaded(const ScratchDir& dir)
{
    auto history = state::KeyHistory::load(dir.path());
    REQUIRE(history);
    return std::move(*history);
}

// A run killed between its write-ahead and the kernel's answer.
state::KeyHistory killed_run(const ScratchDir& dir, const std::string& fp, const std::string& sa)
{
    auto history = loaded(dir);
    history.record_pending(fp, "site spi 0x100", sa);
    REQUIRE(history.save(dir.path()));
    return loaded(dir);
}

auto kernel_with(std::string present)
{
    return [present](const std::string& sa) { return sa == present; };
}

} // namespace

TEST_CASE("a key the kernel took is confirmed, and stays used")
{
    ScratchDir dir;
    auto history = loaded(dir);
    history.record_pending("fp1", "site spi 0x100", "sa1");
    CHECK_FALSE(history.contains("fp1"));
    history.confirm("fp1");
    CHECK(history.contains("fp1"));
    CHECK_FALSE(history.has_pending());
}

TEST_CASE("killed before the kernel took it: the key is free again")
{
    ScratchDir dir;
    auto history = killed_run(dir, "fp1", "sa1");
    REQUIRE(history.has_pending());
    CHECK(history.settle(kernel_with("other")));
    CHECK_FALSE(history.contains("fp1"));
    CHECK_FALSE(history.has_pending());
}

TEST_CASE("killed after the kernel took it: its SA is there, so the key is used")
{
    ScratchDir dir;
    auto history = killed_run(dir, "fp1", "sa1");
    CHECK(history.settle(kernel_with("sa1")));
    CHECK(history.contains("fp1"));
}

TEST_CASE("pending from an earlier boot: nobody can tell, so the key counts as used")
{
    ScratchDir dir;
    killed_run(dir, "fp1", "sa1");
    auto path = dir.path() / "installed-keys.json";
    nlohmann::json doc = nlohmann::json::parse(std::ifstream(path));
    doc["pending"]["fp1"]["boot"] = "another-boot";
    std::ofstream(path) << doc.dump();
    auto history = loaded(dir);
    CHECK(history.settle(kernel_with("other")));
    CHECK(history.contains("fp1"));
}

TEST_CASE("nothing pending: settling changes nothing")
{
    ScratchDir dir;
    auto history = loaded(dir);
    history.record_pending("fp1", "site spi 0x100", "sa1");
    history.confirm("fp1");
    CHECK_FALSE(history.settle(kernel_with("sa1")));
    CHECK(history.contains("fp1"));
}
