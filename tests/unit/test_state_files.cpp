// The state directory read back as it may be found: names that are not
// ours, numbers out of range, files missing or half written.
#include "scratch_dir.hpp"

#include "xfrmctl/engine/capability_cache.hpp"
#include "xfrmctl/engine/encap_holder.hpp"
#include "xfrmctl/state/key_history.hpp"
#include "xfrmctl/state/ledger.hpp"
#include "xfrmctl/state/observations.hpp"
#include "xfrmctl/state/store.hpp"
#include "xfrmctl/util/files.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <csignal>
#include <vector>

using namespace xfrmctl;
using xfrmctl::test::ScratchDir;

TEST_CASE("only a holder's pidfile name is a port")
{
    auto port = engine::port_of_pidfile("ipv6-4500.pid");
    REQUIRE(port);
    CHECK(port->family == AF_INET6);
    CHECK(port->port == 4500);
    CHECK(engine::port_of_pidfile("ipv4-1.pid")->port == 1);
    CHECK(engine::port_of_pidfile("ipv4-65535.pid")->family == AF_INET);
    for (const char* stray : {"backup-ipv4-4500.pid", "ipv4-99999999999999999999.pid", "ipv4-65536.pid", "ipv4-0.pid",
                              "ipv4-.pid", "ipv4-4500x.pid", "ipv4-+4500.pid", "ipv4--1.pid", "ipv4- 4500.pid",
                              "ipv5-4500.pid", "ipv4-4500.pid.tmp", "ipv4-4500", ".pid", "-.pid", ""})
        CHECK_MESSAGE(!engine::port_of_pidfile(stray), stray);
}

TEST_CASE("a number out of range in the ledger is damage, not a wrapped value")
{
    for (const char* reqid : {"1e30", "-1", "4294967296", "1.5", "\"1\""}) {
        ScratchDir dir;
        dir.write("owned.json", std::string(R"({"version": 1, "tunnels": {"t": {"reqid": )") + reqid +
                                    R"(, "sas": [], "policies": []}}})");
        auto ledger = state::Ledger::load(dir.path());
        REQUIRE_FALSE(ledger);
        CHECK(ledger.error().message.find("is damaged") != std::string::npos);
    }
    ScratchDir dir;
    dir.write("owned.json", R"({"version": 1, "tunnels": {}, "saved_default_policy": {"in": 1, "fwd": 99999999999999999999, "out": 2}})");
    CHECK_FALSE(state::Ledger::load(dir.path()));
}

TEST_CASE("observations out of range are forgotten, as damaged ones are")
{
    ScratchDir dir;
    dir.write("observed.json", R"({"version": 1, "sas": {"a": {"packets": 1e30, "since": 10, "known": true}}})");
    auto seen = state::Observations::load(dir.path());
    // Not the float cast to a count (x86-64 makes it 2^63): unknown, first seen now.
    CHECK_FALSE(seen.seconds_since_change("a", std::uint64_t{1} << 63, 100));
}

namespace {

bool mentions(const Error& e, const std::string& text) { return e.message.find(text) != std::string::npos; }

// A state directory as a run leaves it, then without its key history.
void lose_key_history(const ScratchDir& dir)
{
    auto store = state::Store::open_for_writing(dir.path(), 0);
    REQUIRE(store);
    REQUIRE(store->save());
    std::filesystem::remove(dir.path() / "installed-keys.json");
}

} // namespace

TEST_CASE("a key history missing where the ledger shows one was kept is refused, as a damaged one is")
{
    ScratchDir dir;
    lose_key_history(dir);
    auto writer = state::Store::open_for_writing(dir.path(), 0);
    REQUIRE_FALSE(writer);
    CHECK(mentions(writer.error(), "installed-keys.json is missing"));
    CHECK(mentions(writer.error(), "--forget-installed-keys"));
    auto reader = state::Store::open_for_reading(dir.path());
    REQUIRE_FALSE(reader);
    CHECK(mentions(reader.error(), "is missing"));
}

TEST_CASE("--forget-installed-keys starts a new key history, kept at once")
{
    ScratchDir dir;
    lose_key_history(dir);
    REQUIRE(state::Store::open_for_writing(dir.path(), 0, true));
    CHECK(std::filesystem::exists(dir.path() / "installed-keys.json"));
    CHECK(state::Store::open_for_writing(dir.path(), 0)); // and is no longer missing
}

TEST_CASE("--forget-installed-keys keeps a key history that is there")
{
    ScratchDir dir;
    std::string fingerprint;
    {
        auto store = state::Store::open_for_writing(dir.path(), 0);
        REQUIRE(store);
        fingerprint = store->history.fingerprint(std::vector<std::uint8_t>(36, 7));
        store->history.record_pending(fingerprint, "t spi 0x1", "sa");
        store->history.confirm(fingerprint);
        REQUIRE(store->save());
    }
    auto store = state::Store::open_for_writing(dir.path(), 0, true);
    REQUIRE(store);
    CHECK(store->history.contains(fingerprint));
}

TEST_CASE("a new state directory needs no key history")
{
    ScratchDir dir;
    CHECK(state::Store::open_for_writing(dir.path() / "new", 0));
    CHECK(state::Store::open_for_reading(dir.path() / "none"));
}

TEST_CASE("a write that fails for space leaves no temporary file behind")
{
    ScratchDir dir;
    auto file = dir.path() / "owned.json";
    REQUIRE(write_file_atomically(file, "old\n"));
    rlimit before{};
    getrlimit(RLIMIT_FSIZE, &before);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN); // EFBIG instead of the signal, as ENOSPC on a full disk
    rlimit small = before;
    small.rlim_cur = 16;
    setrlimit(RLIMIT_FSIZE, &small);
    auto written = write_file_atomically(file, std::string(4096, 'x'));
    setrlimit(RLIMIT_FSIZE, &before);
    std::signal(SIGXFSZ, old_handler);
    REQUIRE_FALSE(written);
    CHECK(mentions(written.error(), "cannot write"));
    CHECK_FALSE(std::filesystem::exists(dir.path() / "owned.json.tmp"));
    CHECK(*read_optional_file(file) == std::optional<std::string>("old\n"));
}

namespace {

const std::string kKeyLike = "c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffeec0ffee";

// A state file's refusal names it and says where, but quotes nothing of
// it: a key pasted into it, or a key file copied over it, would be printed.
void check_names_without_quoting(const Error& e, const std::filesystem::path& file)
{
    CAPTURE(e.message);
    CHECK(mentions(e, file.string() + " is damaged ("));
    CHECK_FALSE(mentions(e, "c0ffee"));
    CHECK_FALSE(mentions(e, "last read"));
}

} // namespace

TEST_CASE("a damaged owned.json or installed-keys.json is named, its content never quoted")
{
    const std::string cut = "\"" + kKeyLike; // a string cut short: nlohmann quoted it as "last read"
    for (const std::string& text : {cut, R"({"version": 1, "tunnels": {"t": {"reqid": ")" + kKeyLike + "\"}}}",
                                    R"({"version": 1, "tunnels": {")" + kKeyLike, kKeyLike + "\n"}) {
        ScratchDir dir;
        auto file = dir.write("owned.json", text);
        auto ledger = state::Ledger::load(dir.path());
        REQUIRE_FALSE(ledger);
        check_names_without_quoting(ledger.error(), file);
    }
    for (const std::string& text : {cut, R"({"version": 1, "salt": ")" + kKeyLike, R"({"version": 1, "salt": 1, "x": ")" +
                                    kKeyLike + "\"}", kKeyLike + "\n"}) {
        ScratchDir dir;
        auto file = dir.write("installed-keys.json", text);
        auto history = state::KeyHistory::load(dir.path());
        REQUIRE_FALSE(history);
        check_names_without_quoting(history.error(), file);
    }
}

TEST_CASE("a damaged capability cache is refused without quoting it")
{
    auto cache = engine::parse_cache("\"" + kKeyLike);
    REQUIRE_FALSE(cache);
    CHECK_FALSE(mentions(cache.error(), "c0ffee"));
}
