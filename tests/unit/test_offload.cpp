// The "offload" setting: what the reader makes of it (refusals are in the
// corpus, tests/corpus/bad/12x-offload-*), what the kernel must offer, and
// how status tells what was asked from what the kernel did.
#include "scratch_dir.hpp"
#include "xfrmctl/engine/capabilities.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/report/render.hpp"

#include <doctest/doctest.h>

#include <sstream>

using namespace xfrmctl;
using test::ScratchDir;

namespace {

// One tunnel with that "offload"; `extra` replaces its proposal.
std::string definition(const std::string& offload, const std::string& extra = "")
{
    return R"({ "version": 1, "tunnels": { "t": {
        "local": { "address": "192.0.2.1" }, "remote": { "address": "192.0.2.2" },)" +
           (extra.empty() ? R"( "proposal": "aes128gcm16",)" : extra) + R"( "offload": )" + offload + R"(,
        "keying": { "method": "manual", "outbound": { "spi": 4096, "key_file": "o" },
                    "inbound": { "spi": 4097, "key_file": "i" } } } } })";
}

Result<model::Definitions> read(const std::string& text, ScratchDir& dir)
{
    return model::load_definitions(dir.write("t.json", text));
}

std::string refusal(const std::string& text)
{
    ScratchDir dir;
    auto defs = read(text, dir);
    return defs ? "" : defs.error().message;
}

} // namespace

TEST_CASE("offload: a device, crypto by default, packet when asked")
{
    ScratchDir dir;
    auto crypto = read(definition(R"({"device": "eth0"})"), dir);
    REQUIRE(crypto);
    REQUIRE(crypto->tunnels[0].offload);
    CHECK(crypto->tunnels[0].offload->device == "eth0");
    CHECK_FALSE(crypto->tunnels[0].offload->packet);
    auto packet = read(definition(R"({"device": "enp3s0f1np1", "mode": "packet"})"), dir);
    REQUIRE(packet);
    CHECK(packet->tunnels[0].offload->packet);
    auto none = read(definition("null"), dir); // null removes a default, as for any field
    REQUIRE(none);
    CHECK_FALSE(none->tunnels[0].offload);
}

TEST_CASE("offload: bad values are refused naming the file and the JSON path")
{
    CHECK(refusal(definition(R"("eth0")")).ends_with(
        "t.json: /tunnels/t/offload: expected an object (like {\"device\": \"eth0\"}), got a string (\"eth0\")"));
    CHECK(refusal(definition(R"({"device": "eth0", "mode": "full"})"))
              .ends_with("t.json: /tunnels/t/offload/mode: \"full\" is not one of: crypto, packet"));
    CHECK(refusal(definition(R"({"device": ""})")).find("t.json: /tunnels/t/offload/device: \"\" is not a network device name") !=
          std::string::npos);
    CHECK(refusal(definition(R"({"device": "sixteen-chars-xx"})")).find("/tunnels/t/offload/device") != std::string::npos);
    CHECK(refusal(definition(R"({"device": "eth0", "queue": 1})")).find("/tunnels/t/offload") != std::string::npos);
    CHECK(refusal(definition(R"({"device": "eth0"})", R"("protocol": "ah", "proposal": "sha256",)"))
              .ends_with("t.json: /tunnels/t/offload: only ESP can be offloaded to a device: the kernel has no AH offload"));
}

namespace {

model::Definitions offloading(bool packet)
{
    model::Tunnel t;
    t.name = "t";
    t.file = "/defs/t.json";
    t.offload = model::Offload{"eth0", packet};
    model::Definitions defs;
    defs.tunnels.push_back(t);
    return defs;
}

std::string unsupported(const model::Definitions& defs, const engine::Capabilities& caps)
{
    auto s = engine::check_support(defs, caps);
    return s ? "" : s.error().message;
}

} // namespace

TEST_CASE("offload: refused where the kernel's probe found no ESP offload, packet mode where it lacks packet offload")
{
    engine::Capabilities none, crypto, packet;
    crypto.traits.crypto_offload = packet.traits.crypto_offload = packet.traits.packet_offload = true;
    CHECK(unsupported(offloading(false), none).starts_with("/defs/t.json: /tunnels/t/offload: this kernel cannot offload ESP"));
    CHECK(unsupported(offloading(false), crypto).empty());
    CHECK(unsupported(offloading(true), crypto).starts_with("/defs/t.json: /tunnels/t/offload/mode: this kernel lacks packet offload"));
    CHECK(unsupported(offloading(true), packet).empty());
}

TEST_CASE("offload: a device that does not exist is refused before anything is written, or left out for status")
{
    auto defs = offloading(false);
    defs.tunnels[0].offload->device = "xfrmctl-none0"; // no such device in this namespace
    plan::KernelTraits traits;
    auto strict = engine::find_offload_devices(defs, traits, true);
    REQUIRE_FALSE(strict);
    CHECK(strict.error().message ==
          "/defs/t.json: /tunnels/t/offload/device: there is no network device \"xfrmctl-none0\" on this host");
    CHECK(engine::find_offload_devices(defs, traits, false));
    CHECK(traits.offload_devices.empty());
    defs.tunnels[0].offload->device = "lo"; // exists, but offloads nothing
    auto lo = engine::find_offload_devices(defs, traits, true);
    REQUIRE_FALSE(lo);
    CHECK(lo.error().message.starts_with("/defs/t.json: /tunnels/t/offload/device: lo does not offload ESP (its "
                                         "esp-hw-offload feature is off"));
}

TEST_CASE("status shows offload asked for beside what the kernel did, in text and JSON")
{
    auto defs = offloading(false);
    std::vector<engine::TunnelStatus> tunnels(1);
    auto& s = tunnels[0];
    s.name = "t";
    s.definition = &defs.tunnels[0];
    s.sas = {{"", true, 50, 0x1000, true, {}, netlink::Offload{4, 0}, "eth0"},
             {"", false, 50, 0x1001, true, {}, std::nullopt, ""}};
    std::ostringstream text;
    report::print_status(text, tunnels, {});
    CHECK(text.str().find("t: offload crypto to eth0: 1 of 2 SAs on the device; spi 0x00001001 in software\n") !=
          std::string::npos);
    auto json = report::status_json(tunnels, {});
    const auto& t = json["tunnels"][0];
    CHECK(t["offload"] == nlohmann::json{{"device", "eth0"}, {"mode", "crypto"}, {"sas_offloaded", 1}, {"sas", 2}});
    CHECK(t["sas"][0]["offload"] ==
          nlohmann::json{{"device", "eth0"}, {"ifindex", 4}, {"mode", "crypto"}, {"direction", "out"}});
    CHECK(t["sas"][1]["offload"].is_null());
}
