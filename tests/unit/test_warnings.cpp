// Definitions that load but are most likely not meant: warned about, not
// refused (those that can only be a mistake are in tests/corpus/bad).
#include "scratch_dir.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/model/warnings.hpp"

#include <doctest/doctest.h>

using namespace xfrmctl;
using test::ScratchDir;

namespace {

std::string tunnel_text(const std::string& local, const std::string& remote, const std::string& extra = "")
{
    return R"({"version": 1, "tunnels": {"t": {"proposal": "aes256gcm16", )" + extra + R"(
        "local": )" + local + R"(, "remote": )" + remote + R"(,
        "keying": {"method": "manual", "outbound": {"spi": "0x1001", "key_file": "k/out"},
                   "inbound": {"spi": "0x1002", "key_file": "k/in"}}}}})";
}

std::vector<std::string> warnings_of(const std::string& text, const std::vector<Prefix>* host = nullptr)
{
    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", text));
    REQUIRE_MESSAGE(defs.has_value(), (defs ? "" : defs.error().message));
    std::vector<std::string> out;
    for (const auto& w : model::definition_warnings(*defs, host)) {
        CHECK(w.tunnel == "t");
        out.push_back(w.what.path + ": " + w.what.message);
    }
    return out;
}

} // namespace

TEST_CASE("a subnet that holds the tunnel's own address is warned about, on either side")
{
    auto w = warnings_of(tunnel_text(R"({"address": "10.1.0.1", "subnets": ["10.1.0.0/16"]})",
                                R"({"address": "192.0.2.2", "subnets": ["10.2.0.0/24", "192.0.2.0/24"]})"));
    REQUIRE(w.size() == 2);
    CHECK(w[0] == "/tunnels/t/local/subnets/0: 10.1.0.0/16 holds the tunnel's own local address 10.1.0.1: traffic "
                  "from that address (other than this tunnel's ESP) goes through the tunnel, and flows only while it "
                  "is up");
    CHECK(w[1].starts_with("/tunnels/t/remote/subnets/1: 192.0.2.0/24 holds the tunnel's own remote address "
                           "192.0.2.2: traffic to that address"));
}

TEST_CASE("no warning for the usual shapes: separate subnets, host-to-host, transport, route-based")
{
    CHECK(warnings_of(tunnel_text(R"({"address": "192.0.2.1", "subnets": ["10.1.0.0/24"]})",
                             R"({"address": "192.0.2.2", "subnets": ["10.2.0.0/24"]})"))
              .empty());
    CHECK(warnings_of(tunnel_text(R"({"address": "192.0.2.1"})", R"({"address": "192.0.2.2"})")).empty());
    CHECK(warnings_of(tunnel_text(R"({"address": "192.0.2.1"})", R"({"address": "192.0.2.2"})", R"("mode": "transport",)"))
              .empty());
    CHECK(warnings_of(tunnel_text(R"({"address": "192.0.2.1"})", R"({"address": "192.0.2.2"})",
                             R"("interface": {"name": "ipsec9", "kind": "vti"},)"))
              .empty());
}

TEST_CASE("a local address that is not on this host is warned about, when the host's addresses are known")
{
    const std::string text = tunnel_text(R"({"address": "192.0.2.1"})", R"({"address": "192.0.2.2"})");
    std::vector<Prefix> elsewhere = {*Prefix::parse("192.0.2.9/24"), *Prefix::parse("2001:db8::1/64")};
    auto w = warnings_of(text, &elsewhere);
    REQUIRE(w.size() == 1);
    CHECK(w[0] == "/tunnels/t/local/address: 192.0.2.1 is not an address of this host: its SAs and policies are "
                  "installed, but no packet is sent from it until the address is added");
    std::vector<Prefix> here = {*Prefix::parse("192.0.2.1/24")};
    CHECK(warnings_of(text, &here).empty());
    CHECK(warnings_of(text, nullptr).empty()); // not known: not checked
}

TEST_CASE("everything on both sides: refused without bypass, warned about with one, fine route-based")
{
    const std::string local = R"({"address": "192.0.2.1", "subnets": ["0.0.0.0/0"]})";
    const std::string remote = R"({"address": "192.0.2.2", "subnets": ["0.0.0.0/0"]})";
    ScratchDir dir;
    auto refused = model::load_definitions(dir.write("t.json", tunnel_text(local, remote)));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message.find("/tunnels/t/local/subnets/0: 0.0.0.0/0 on both sides takes all of this "
                                       "host's traffic") != std::string::npos);
    std::string bypassed = tunnel_text(local, remote);
    bypassed.insert(1, R"("host": {"bypass": [{"local": "192.0.2.0/24", "remote": "192.0.2.0/24"}]}, )");
    auto w = warnings_of(bypassed);
    CHECK(w.size() == 2); // both subnets hold their side's address
    CHECK(warnings_of(R"({"version": 1, "tunnels": {"t": {"proposal": "aes256gcm16",
        "local": {"address": "2001:db8::1", "subnets": ["::/0"]}, "remote": {"address": "2001:db8::2", "subnets": ["::/0"]},
        "interface": {"name": "ipsec9"},
        "keying": {"method": "manual", "outbound": {"spi": "0x1001", "key_file": "k/out"},
                   "inbound": {"spi": "0x1002", "key_file": "k/in"}}}}})")
              .empty());
}

TEST_CASE("an end that is multicast, broadcast or loopback is refused, IPv6 too")
{
    ScratchDir dir;
    for (const char* address : {"ff02::1", "::1"}) {
        auto defs = model::load_definitions(dir.write(
            "t.json", tunnel_text(R"({"address": "2001:db8::1"})", std::string(R"({"address": ")") + address + "\"}")));
        REQUIRE_FALSE(defs);
        CHECK(defs.error().message.find("/tunnels/t/remote/address: \"" + std::string(address) + "\" is a ") !=
              std::string::npos);
    }
    auto local = model::load_definitions(dir.write("t.json", tunnel_text(R"({"address": "239.1.1.1"})", R"({"address": "192.0.2.2"})")));
    REQUIRE_FALSE(local);
    CHECK(local.error().message.find("/tunnels/t/local/address: \"239.1.1.1\" is a multicast address") != std::string::npos);
}
