// Reading definitions: what valid input becomes (every refusal is in the
// corpus, tests/corpus/bad).
#include "scratch_dir.hpp"
#include "xfrmctl/engine/planning.hpp"
#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/model/loader.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>

using namespace xfrmctl;
using test::ScratchDir;

namespace {

const char* kTunnel = R"({
  "version": 1,
  "defaults": { "proposal": "aes256gcm16", "replay_window": 64, "local": { "address": "192.0.2.1" } },
  "tunnels": {
    "b": { "mode": "transport", "remote": { "address": "192.0.2.3" },
           "keying": { "method": "manual", "outbound": { "spi": 4096, "key_file": "k/b.out" },
                       "inbound": { "spi": "0X1001", "key_file": "k/b.in" } } },
    "a": { "local": { "subnets": ["10.1.0.0/24", "2001:db8:1::/48"] },
           "remote": { "address": "192.0.2.2", "subnets": ["10.2.0.0/24"] },
           "replay_window": null, "priority": 7,
           "traffic": { "protocol": "tcp", "remote_port": 179 },
           "keying": { "method": "manual", "outbound": { "spi": "0x100", "key_file": "k/a.out" },
                       "inbound": { "spi": "0xffffffff", "key_file": "/abs/a.in" } } }
  }
})";

} // namespace

TEST_CASE("defaults fill in what a tunnel leaves out, deeply, and null removes one")
{
    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", kTunnel));
    REQUIRE(defs);
    REQUIRE(defs->tunnels.size() == 2);
    const model::Tunnel& a = defs->tunnels[0];
    const model::Tunnel& b = defs->tunnels[1];
    CHECK(a.name == "a"); // name order, not file order
    CHECK(a.local.address.str() == "192.0.2.1"); // from defaults, merged into a's own "local"
    CHECK(a.local.subnets.size() == 2);
    CHECK(a.replay_window == 128); // null removed the default 64: the built-in default
    CHECK(b.replay_window == 64);
    CHECK(a.esp_proposal->keyword == "aes256gcm16");
    CHECK(a.priority == 7);
    CHECK_FALSE(b.priority.has_value());
}

TEST_CASE("defaults: mode tunnel, protocol esp, subnets the addresses themselves")
{
    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", kTunnel));
    REQUIRE(defs);
    const model::Tunnel& a = defs->tunnels[0];
    const model::Tunnel& b = defs->tunnels[1];
    CHECK(a.mode == netlink::Mode::tunnel);
    CHECK(a.protocol == model::Protocol::esp);
    CHECK(b.mode == netlink::Mode::transport);
    REQUIRE(b.local.subnets.size() == 1);
    CHECK(b.local.subnets[0].str() == "192.0.2.1/32");
    CHECK(b.remote.subnets[0].str() == "192.0.2.3/32");
}

TEST_CASE("SPIs as numbers or hex strings; key files relative to the definition")
{
    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", kTunnel));
    REQUIRE(defs);
    const model::Tunnel& a = defs->tunnels[0];
    const model::Tunnel& b = defs->tunnels[1];
    CHECK(b.generations.at(0).outbound.esp->spi == 4096);
    CHECK(b.generations.at(0).inbound.esp->spi == 0x1001);
    CHECK(a.generations.at(0).outbound.esp->spi == 0x100);
    CHECK(a.generations.at(0).inbound.esp->spi == 0xffffffff);
    CHECK(a.generations.at(0).outbound.esp->key_file == dir.path() / "k/a.out");
    CHECK(a.generations.at(0).inbound.esp->key_file == "/abs/a.in");
    CHECK(a.generations.at(0).outbound.esp->path == "/tunnels/a/keying/outbound");
    CHECK(a.traffic->protocol == IPPROTO_TCP);
    CHECK(a.traffic->remote_port == 179);
    CHECK(a.traffic->local_port == 0);
}

TEST_CASE("a directory is read in name order, each file with its own defaults")
{
    ScratchDir dir;
    dir.write("d/20-east.json", R"({"version": 1, "defaults": {"state": "absent"}, "tunnels": {"z": {}}})");
    dir.write("d/10-west.json", R"({"version": 1, "tunnels": {}})");
    dir.write("d/.hidden.json", "not json at all");
    dir.write("d/notes.txt", "not json either");
    auto defs = model::load_definitions(dir.path() / "d");
    REQUIRE(defs);
    REQUIRE(defs->tunnels.size() == 1);
    CHECK_FALSE(defs->tunnels[0].present); // absent needs no other field
}

TEST_CASE("an empty directory defines no tunnel")
{
    ScratchDir dir;
    std::filesystem::create_directories(dir.path() / "empty");
    auto defs = model::load_definitions(dir.path() / "empty");
    REQUIRE(defs);
    CHECK(defs->tunnels.empty());
}

TEST_CASE("an ah+esp bundle reads one key per protocol and direction")
{
    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", R"({"version": 1, "tunnels": {"x": {
        "protocol": "ah+esp", "proposal": {"ah": "sha384", "esp": "aes128-sha256"},
        "local": {"address": "2001:db8::1"}, "remote": {"address": "2001:db8::2"},
        "keying": {"method": "manual",
          "outbound": {"ah": {"spi": "0x200", "key_file": "a1"}, "esp": {"spi": "0x201", "key_file": "e1"}},
          "inbound":  {"ah": {"spi": "0x300", "key_file": "a2"}, "esp": {"spi": "0x301", "key_file": "e2"}}}}}})"));
    REQUIRE(defs);
    const model::Tunnel& x = defs->tunnels[0];
    CHECK(x.ah_proposal->keyword == "sha384");
    CHECK(x.esp_proposal->key_file_bytes() == 48);
    CHECK(x.generations.at(0).outbound.ah->spi == 0x200);
    CHECK(x.generations.at(0).inbound.esp->path == "/tunnels/x/keying/inbound/esp");
    CHECK(x.family() == AF_INET6);
}

TEST_CASE("key files: 0x prefix and a CRLF line end are accepted, and keys load into the ring")
{
    ScratchDir dir;
    std::string with_prefix = "0x";
    with_prefix.append(test::gcm_key_hex(1)).append("\r\n");
    dir.write("k/out", with_prefix);
    dir.write("k/in", test::gcm_key_hex(2));
    auto defs = engine::load(dir.write("t.json", R"({"version": 1, "tunnels": {"x": {
        "proposal": "aes256gcm16", "local": {"address": "192.0.2.1"}, "remote": {"address": "192.0.2.2"},
        "keying": {"method": "manual", "outbound": {"spi": "0x200", "key_file": "k/out"},
                   "inbound": {"spi": "0x201", "key_file": "k/in"}}}}})"));
    REQUIRE(defs);
    CHECK(defs->keys.size() == 2);
    const Secret* out = defs->keys.find("/tunnels/x/keying/outbound");
    REQUIRE(out);
    CHECK(out->size() == 36);
    CHECK(out->data()[0] == 38); // see gcm_key_hex
}

TEST_CASE("the JSON reader names the innermost place of a syntax error")
{
    auto r = model::parse_json("{\"a\": [1, {\"b\": tru}]}", "f.json");
    REQUIRE_FALSE(r);
    CHECK(r.error().path == "/a/1/b");
    CHECK(r.error().message.find("line 1, column") != std::string::npos);
    auto d = model::parse_json("{\"a\": {\"x\": 1, \"x\": 2}}", "f.json");
    REQUIRE_FALSE(d);
    CHECK(d.error().path == "/a/x");
    auto escaped = model::parse_json("{\"a/b\": {\"c~d\": [}}", "f.json");
    REQUIRE_FALSE(escaped);
    CHECK(escaped.error().path == "/a~1b/c~0d/0");
}
