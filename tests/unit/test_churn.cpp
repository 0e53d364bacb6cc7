// Definitions and key files read while another process rewrites them:
// every read gives all the tunnels, each file whole, or says the directory
// kept changing; never a tunnel missing (which would take it down), never
// half a file, and never a key made of two.
#include "scratch_dir.hpp"
#include "xfrmctl/model/keys.hpp"
#include "xfrmctl/model/loader.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

using namespace xfrmctl;
using test::ScratchDir;

namespace {

std::string tunnel_file(const std::string& name, int spi)
{
    return R"({"version": 1, "tunnels": {")" + name + R"(": {
      "proposal": "aes256gcm16", "local": {"address": "192.0.2.1"}, "remote": {"address": "192.0.2.)" + std::to_string(spi % 200 + 2) + R"("},
      "keying": {"method": "manual", "outbound": {"spi": )" + std::to_string(spi) + R"(, "key_file": ")" + name + R"(.out"},
                 "inbound": {"spi": )" + std::to_string(spi + 1) + R"(, "key_file": ")" + name + R"(.in"}}}}})";
}

// The longest time a file was left half written, in microseconds. The
// readers take a second look 50 ms after a file that fails its checks
// (read_while_written): a writer descheduled for longer than that in the
// middle of a rewrite (a loaded machine) leaves a half file that looks
// finished, and its refusal is then the right answer, not a defect.
std::atomic<long> longest_half_written_us = 0;
constexpr long kSecondLookUs = 50'000;

bool writer_stalled_past_second_look() { return longest_half_written_us >= kSecondLookUs; }

// Rewrites in place, in two writes, as an editor that truncates does.
void rewrite_in_two_writes(const std::filesystem::path& file, const std::string& text)
{
    auto started = std::chrono::steady_clock::now();
    int fd = ::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::size_t half = text.size() / 2;
    CHECK(::write(fd, text.data(), half) == static_cast<ssize_t>(half));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    CHECK(::write(fd, text.data() + half, text.size() - half) == static_cast<ssize_t>(text.size() - half));
    ::close(fd);
    long took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    if (took > longest_half_written_us)
        longest_half_written_us = took;
}

// Refusals that quote a half-written file: none, unless the writer stalled
// in the middle of a rewrite for longer than the readers' second look.
void check_half_file_refusals(const std::set<std::string>& refusals)
{
    if (!refusals.empty() && writer_stalled_past_second_look()) {
        MESSAGE("the writer left a file half written for " << longest_half_written_us / 1000
                << " ms, past the 50 ms second look: its refusals are expected");
        return;
    }
    CHECK(refusals.empty());
    for (const auto& r : refusals)
        MESSAGE("refused with a half file's error: " << r);
}

// One change after another: a file renamed (there and back), another
// rewritten in place between two versions.
void churn(const ScratchDir& dir, const std::atomic<bool>& stop)
{
    auto a = dir.write("a.json", tunnel_file("a", 0x100));
    auto moved = a.parent_path() / "a-moved.json";
    auto b = dir.write("b.json", tunnel_file("b", 0x200));
    for (int round = 0; !stop; ++round) {
        std::filesystem::rename(round % 2 ? moved : a, round % 2 ? a : moved);
        rewrite_in_two_writes(b, tunnel_file("b", round % 2 ? 0x200 : 0x300));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

} // namespace

TEST_CASE("definitions read while they change: all of them, whole, or a clear refusal")
{
    ScratchDir dir;
    dir.write("c.json", tunnel_file("c", 0x400));
    dir.write("a.json", tunnel_file("a", 0x100));
    dir.write("b.json", tunnel_file("b", 0x200));
    std::atomic<bool> stop = false;
    std::thread writer(churn, std::cref(dir), std::cref(stop));
    int whole = 0, refused = 0;
    std::set<std::string> wrong, half_files;
    longest_half_written_us = 0;
    for (int i = 0; i < 400; ++i) {
        auto defs = model::load_definitions(dir.path());
        if (!defs) {
            ++refused;
            if (defs.error().message.find("changing each time") == std::string::npos)
                half_files.insert(defs.error().message);
            continue;
        }
        std::string names;
        for (const auto& t : defs->tunnels)
            names += t.name + " ";
        if (names == "a b c ")
            ++whole;
        else
            wrong.insert("tunnels read: " + names);
    }
    stop = true;
    writer.join();
    MESSAGE(whole << " reads whole, " << refused << " refused");
    check_half_file_refusals(half_files);
    CHECK(wrong.empty());
    for (const auto& w : wrong)
        MESSAGE(w);
    CHECK(whole > 0);
}

namespace {

const std::string kOldKey(72, 'a'), kNewKey(72, 'b'); // aes256gcm16: 36 bytes in hex

// A key file replaced over and over: renamed over (as a careful writer
// does), then rewritten in place in two writes (as a careless one does).
void replace_keys(const ScratchDir& dir, const std::atomic<bool>& stop)
{
    auto key = dir.path() / "a.out";
    for (int round = 0; !stop; ++round) {
        const std::string& text = round % 2 ? kOldKey : kNewKey;
        if (round % 4 < 2) {
            auto temporary = dir.write("a.out.new", text + "\n");
            std::filesystem::rename(temporary, key);
        } else {
            rewrite_in_two_writes(key, text + "\n");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

} // namespace

TEST_CASE("a key file replaced while it is read: the old key, the new, or a clear refusal; never a mix")
{
    ScratchDir dir;
    auto file = dir.write("t.json", tunnel_file("a", 0x100));
    dir.write("a.out", kOldKey + "\n");
    dir.write("a.in", std::string(72, 'c') + "\n");
    auto defs = model::load_definitions(file);
    REQUIRE(defs);
    // One tunnel's keys are read one by one; all the definitions' keys are
    // read ahead in a batch first (read_small_files).
    bool batch = false;
    SUBCASE("one tunnel") {}
    SUBCASE("all the definitions, read ahead") { batch = true; }
    std::atomic<bool> stop = false;
    std::thread writer(replace_keys, std::cref(dir), std::cref(stop));
    int old_keys = 0, new_keys = 0, refused = 0;
    std::set<std::string> wrong, half_files;
    longest_half_written_us = 0;
    for (int i = 0; i < 600; ++i) {
        std::this_thread::sleep_for(std::chrono::microseconds(100)); // reads spread over the writer's rounds
        auto ring = batch ? model::load_keys(*defs) : model::load_keys(defs->tunnels.front());
        const Secret* key = ring ? ring->find("/tunnels/a/keying/outbound") : nullptr;
        if (!key) {
            // A writer faster than every one of five reads (a loaded machine)
            // is refused as such; the error of a half-written file only
            // where the writer stalled past the second look.
            if (ring) {
                wrong.insert("no key for a.out");
                continue;
            }
            ++refused;
            if (ring.error().message.find("changing each time") == std::string::npos)
                half_files.insert(ring.error().message);
            continue;
        }
        bool old_key = key->size() == 36 && key->data()[0] == 0xaa && key->data()[35] == 0xaa;
        bool new_key = key->size() == 36 && key->data()[0] == 0xbb && key->data()[35] == 0xbb;
        old_keys += old_key;
        new_keys += new_key;
        if (!old_key && !new_key)
            wrong.insert("a key that is neither the old nor the new");
    }
    stop = true;
    writer.join();
    MESSAGE(old_keys << " reads gave the old key, " << new_keys << " the new, " << refused << " refused");
    check_half_file_refusals(half_files);
    CHECK(wrong.empty());
    for (const auto& w : wrong)
        MESSAGE(w);
    CHECK(old_keys + new_keys + refused == 600);
    CHECK(old_keys > 0);
    CHECK(new_keys > 0);
}
