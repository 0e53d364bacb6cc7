// What xfrmd says to charon and reads back from it, without a charon: the
// connection and strongswan.conf it writes, the list-sas answer as charon
// 5.9.8 streams it (vici/README.md, list-sa), and error-notify's alerts.
#include "text.hpp"
#include "scratch_dir.hpp"
#include "xfrmctl/ikev2/alerts.hpp"
#include "xfrmctl/ikev2/charon_config.hpp"
#include "xfrmctl/ikev2/sa_list.hpp"
#include "xfrmctl/ikev2/vici.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/plan/desired.hpp"

#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>

using namespace xfrmctl;
using namespace xfrmctl::ikev2;
using test::ScratchDir;

namespace {

using test::contains;

// The tunnel "site" as the loader reads it (no key file is read).
model::Tunnel tunnel(const std::string& keying, const std::string& extra = "")
{
    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", R"({"version": 1, "tunnels": {"site": {)" + extra + R"(
        "local": {"address": "192.0.2.1", "subnets": ["10.1.0.0/24"]},
        "remote": {"address": "192.0.2.2", "subnets": ["10.2.0.0/24", "10.3.0.0/16"]},
        "keying": {"method": "ikev2", )" + keying + "}}}}"));
    REQUIRE(defs);
    REQUIRE(defs->tunnels.size() == 1);
    return defs->tunnels[0];
}

using Strings = std::vector<std::string>;

Strings strings(const ordered_json& list)
{
    return list.get<Strings>();
}

} // namespace

// ---------------------------------------------------------------------------
// the VICI connection of a tunnel

TEST_CASE("charon's policies: one ahead of xfrmd's floor, which carries the floor's selector mark")
{
    const std::string psk = R"("psk_file": "p")";
    auto child_priority = [](const model::Tunnel& t) {
        return connection(t, 7, nullptr)["xfrmctl.site"]["children"]["site"]["priority"].get<std::string>();
    };
    CHECK(child_priority(tunnel(psk, R"("priority": 100,)")) == "99");
    CHECK(child_priority(tunnel(psk, R"("priority": 0,)")) == "0"); // no number is ahead of 0
    model::Tunnel t = tunnel(psk, R"("priority": 100,)");
    plan::DesiredTunnel d = plan::compile_tunnel(t, 7, {});
    REQUIRE(d.policies.size() == 6); // two subnet pairs, out, in and fwd each
    for (const auto& p : d.policies) {
        CHECK(p.entry.id.selector.user == plan::kFloorSelectorUser);
        CHECK(p.entry.priority == 100);
        CHECK(p.entry.id.key().ends_with(" user 0x78666c72")); // another entry than charon's (user 0)
    }
}

TEST_CASE("charon connection: one connection xfrmctl.<tunnel>, with the tunnel's addresses, proposals and times")
{
    model::Tunnel t = tunnel(R"("psk_file": "p")");
    ordered_json conn = connection(t, 7, nullptr);
    REQUIRE(conn.is_object());
    REQUIRE(conn.size() == 1);
    CHECK(conn.begin().key() == "xfrmctl.site");
    const ordered_json& c = conn["xfrmctl.site"];
    CHECK(c["version"] == "2");
    CHECK(strings(c["local_addrs"]) == Strings{"192.0.2.1"});
    CHECK(strings(c["remote_addrs"]) == Strings{"192.0.2.2"});
    CHECK(strings(c["proposals"]) == Strings{"aes256gcm16-prfsha384-x25519"});
    CHECK(c["rekey_time"] == "14400s");
    CHECK(c["over_time"] == "1440s");
    CHECK(c["dpd_delay"] == "30s");
    CHECK_FALSE(c.contains("rand_time")); // charon's own default: a tenth
    CHECK(c["keyingtries"] == "1");
    CHECK(c["encap"] == "no");
    CHECK(c["mobike"] == "no");
    REQUIRE(c["children"].size() == 1);
    const ordered_json& child = c["children"]["site"];
    // charon's own policies, one ahead of xfrmd's first: the /24-/24 pair's
    // automatic 175424 (the /24-/16 pair's is 179520)
    CHECK(child["policies"] == "yes");
    CHECK(child["priority"] == "175423");
    CHECK(child["reqid"] == "7");
    CHECK(child["mode"] == "tunnel");
    CHECK(strings(child["local_ts"]) == Strings{"10.1.0.0/24"});
    CHECK(strings(child["remote_ts"]) == Strings{"10.2.0.0/24", "10.3.0.0/16"});
    CHECK(strings(child["esp_proposals"]) == Strings{"aes256gcm16-x25519"});
    CHECK(child["rekey_time"] == "3600s");
    CHECK(child["life_time"] == "3960s");
    CHECK_FALSE(child.contains("rand_time"));
    CHECK(child["replay_window"] == "128");
    CHECK(child["dpd_action"] == "clear");
    CHECK(child["close_action"] == "none");
    CHECK(child["start_action"] == "none");
    CHECK_FALSE(child.contains("mark_in"));
    CHECK_FALSE(child.contains("mark_out"));
}

TEST_CASE("charon connection: what the definition gives goes through, in charon's syntax")
{
    model::Tunnel t = tunnel(R"("psk_file": "p", "local_id": "west.example", "remote_id": "@east",
        "ike_proposals": ["aes256-sha256-ecp256", "aes256gcm16-prfsha384-x25519"],
        "esp_proposals": ["aes256-sha512-ecp256", "aes256gcm16"],
        "rekey": {"ike": 28800, "child": 1200, "jitter": 100}, "dpd": {"interval": 0, "action": "clear"})",
                             R"("replay_window": 2048, "esn": true,)");
    ordered_json conn = connection(t, 4294967295u, nullptr);
    const ordered_json& c = conn["xfrmctl.site"];
    CHECK(strings(c["proposals"]) == Strings{"aes256-sha256-ecp256", "aes256gcm16-prfsha384-x25519"});
    CHECK(c["rekey_time"] == "28800s");
    CHECK(c["over_time"] == "2880s");
    CHECK(c["rand_time"] == "100s");
    CHECK(c["dpd_delay"] == "0s");
    const ordered_json& child = c["children"]["site"];
    CHECK(child["reqid"] == "4294967295");
    CHECK(strings(child["esp_proposals"]) == Strings{"aes256-sha512-ecp256-esn", "aes256gcm16-esn"});
    CHECK(child["rekey_time"] == "1200s");
    CHECK(child["life_time"] == "1320s");
    CHECK(child["rand_time"] == "100s");
    CHECK(child["replay_window"] == "2048");
    CHECK(child["dpd_action"] == "clear"); // always: xfrmd decides what follows a dead peer
    CHECK(c["local"]["id"] == "west.example");
    CHECK(c["remote"]["id"] == "@east");
}

TEST_CASE("charon connection: traffic narrowing in selectors, transport mode, and a mark both ways")
{
    model::Tunnel t = tunnel(R"("psk_file": "p")", R"("mark": {"value": 42, "mask": "0xff"},
        "traffic": {"protocol": "udp", "local_port": 5000},)");
    const ordered_json child = connection(t, 1, nullptr)["xfrmctl.site"]["children"]["site"];
    CHECK(strings(child["local_ts"]) == Strings{"10.1.0.0/24[17/5000]"});
    CHECK(strings(child["remote_ts"]) == Strings{"10.2.0.0/24[17]", "10.3.0.0/16[17]"});
    CHECK(child["mark_in"] == "0x2a/0xff");
    CHECK(child["mark_out"] == "0x2a/0xff");
    CHECK(traffic_selectors(t, true) == Strings{"10.1.0.0/24[17/5000]"});

    model::Tunnel both = tunnel(R"("psk_file": "p")", R"("traffic": {"protocol": "tcp", "local_port": 80, "remote_port": 443},)");
    CHECK(traffic_selectors(both, true) == Strings{"10.1.0.0/24[6/80]"});
    CHECK(traffic_selectors(both, false) == Strings{"10.2.0.0/24[6/443]", "10.3.0.0/16[6/443]"});

    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", R"({"version": 1, "tunnels": {"host": {
        "mode": "transport", "local": {"address": "2001:db8::1"}, "remote": {"address": "2001:db8::2"},
        "mark": 7, "keying": {"method": "ikev2", "psk_file": "p"}}}})"));
    REQUIRE(defs);
    ordered_json conn = connection(defs->tunnels.at(0), 9, nullptr);
    REQUIRE(conn.contains("xfrmctl.host"));
    const ordered_json& c = conn["xfrmctl.host"];
    CHECK(strings(c["local_addrs"]) == Strings{"2001:db8::1"});
    const ordered_json& host = c["children"]["host"];
    CHECK(host["mode"] == "transport");
    CHECK(strings(host["local_ts"]) == Strings{"2001:db8::1/128"});
    CHECK(strings(host["remote_ts"]) == Strings{"2001:db8::2/128"});
    CHECK(host["mark_in"] == "0x7/0xffffffff");
    CHECK(c["local"]["id"] == "2001:db8::1");
}

TEST_CASE("charon connection: PSK rounds name each side, by default by its address")
{
    model::Tunnel t = tunnel(R"("psk_file": "p")");
    const ordered_json c = connection(t, 1, nullptr)["xfrmctl.site"];
    CHECK(c["local"] == ordered_json{{"auth", "psk"}, {"id", "192.0.2.1"}});
    CHECK(c["remote"] == ordered_json{{"auth", "psk"}, {"id", "192.0.2.2"}});
    CHECK_FALSE(c.dump().contains("\"p\"")); // the PSK file is xfrmd's business, not charon's
}

TEST_CASE("charon connection: pubkey rounds carry our certificate and the CA as PEM text")
{
    model::Tunnel t = tunnel(R"("certificate": "w.crt", "private_key": "w.key", "ca": "ca.crt", "remote_id": "CN=east")");
    Certificates certs{"-----BEGIN CERTIFICATE-----\nOWN\n-----END CERTIFICATE-----\n",
                       "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"};
    const ordered_json c = connection(t, 3, &certs)["xfrmctl.site"];
    CHECK(c["local"]["auth"] == "pubkey");
    CHECK(strings(c["local"]["certs"]) == Strings{certs.own});
    CHECK_FALSE(c["local"].contains("id")); // the certificate's subject
    CHECK_FALSE(c["local"].contains("cacerts"));
    CHECK(c["remote"]["auth"] == "pubkey");
    CHECK(strings(c["remote"]["cacerts"]) == Strings{certs.ca});
    CHECK(c["remote"]["id"] == "CN=east");
    CHECK_FALSE(c["remote"].contains("certs"));

    // without the certificates (as for a digest): no PEM at all
    const ordered_json bare = connection(t, 3, nullptr)["xfrmctl.site"];
    CHECK_FALSE(bare["local"].contains("certs"));
    CHECK_FALSE(bare["remote"].contains("cacerts"));
    CHECK(bare["remote"]["id"] == "CN=east");

    model::Tunnel with_id = tunnel(
        R"("certificate": "w.crt", "private_key": "w.key", "ca": "ca.crt", "remote_id": "CN=east", "local_id": "CN=west")");
    CHECK(connection(with_id, 3, &certs)["xfrmctl.site"]["local"]["id"] == "CN=west");
}

TEST_CASE("charon connection: every value has a VICI form, and the message round trips")
{
    model::Tunnel t = tunnel(R"("certificate": "w.crt", "private_key": "w.key", "ca": "ca.crt", "remote_id": "CN=east",
        "rekey": {"jitter": 60})", R"("mark": 5, "traffic": {"protocol": "icmp"},)");
    Certificates certs{"own", "ca"};
    ordered_json conn = connection(t, 11, &certs);
    auto encoded = encode(conn);
    REQUIRE(encoded);
    auto decoded = decode(encoded->bytes());
    REQUIRE(decoded);
    CHECK(*decoded == conn);
}

TEST_CASE("charon connection names: xfrmctl.<tunnel> and back; other names are not ours")
{
    CHECK(connection_name("site") == "xfrmctl.site");
    CHECK(tunnel_of(connection_name("site")) == "site");
    CHECK(tunnel_of(connection_name("a.b-c_d")) == "a.b-c_d");
    CHECK(tunnel_of("xfrmctl.") == ""); // ours, but names no tunnel
    CHECK_FALSE(tunnel_of("other").has_value());
    CHECK_FALSE(tunnel_of("xfrmctl").has_value());
    CHECK_FALSE(tunnel_of("Xfrmctl.site").has_value());
    CHECK_FALSE(tunnel_of("other.xfrmctl.site").has_value());
}

// ---------------------------------------------------------------------------
// strongswan.conf

TEST_CASE("strongswan.conf: our sockets and log, no modular plugin loading, the retransmission schedule")
{
    std::string conf = strongswan_conf({"/run/xfrmd/charon.vici", "/run/xfrmd/charon.enfy", "/var/log/xfrmd/charon.log"});
    CHECK(contains(conf, "socket = unix:///run/xfrmd/charon.vici"));
    CHECK(contains(conf, "socket = unix:///run/xfrmd/charon.enfy"));
    CHECK(contains(conf, "path = /var/log/xfrmd/charon.log"));
    CHECK(contains(conf, "load_modular = no"));
    CHECK(contains(conf, "retransmit_timeout = 1\n"));
    CHECK(contains(conf, "retransmit_base = 1.5\n"));
    CHECK(contains(conf, "retransmit_tries = 3\n"));
    CHECK(contains(conf, "retransmit_jitter = 0"));
    CHECK(contains(conf, "install_routes = no"));
    for (const char* plugin : {" vici", " error-notify", " kernel-netlink", " socket-default", " curve25519", " gcm",
                               " chapoly", " x509", " pem"}) {
        CAPTURE(plugin);
        CHECK(contains(conf, plugin));
    }
    // both the section charon-systemd reads and the one it falls back to
    CHECK(contains(conf, "\ncharon-systemd {"));
    CHECK(contains(conf, "\ncharon {"));
    // braces balance
    CHECK(std::count(conf.begin(), conf.end(), '{') == std::count(conf.begin(), conf.end(), '}'));
}

TEST_CASE("charon gives up on an unanswered message after 1 + 1.5 + 2.25 + 3.375 seconds")
{
    CHECK(retransmit_give_up_seconds() == doctest::Approx(1 + 1.5 + 2.25 + 3.375));
    CHECK(retransmit_give_up_seconds() == doctest::Approx(8.125));
}

// ---------------------------------------------------------------------------
// list-sas, as charon 5.9.8 streams it: one list-sa event per IKE SA

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

// An IKE SA of "xfrmctl.site" as vici_query.c's list_ike() writes it:
// "established" and "rekey-time" only while ESTABLISHED.
ordered_json ike_sa(const std::string& state, const std::string& dh = "CURVE_25519")
{
    ordered_json sa = ordered_json::parse(R"({
        "uniqueid": "3", "version": "2", "state": "", "local-host": "192.0.2.1", "local-port": "500",
        "local-id": "192.0.2.1", "remote-host": "192.0.2.2", "remote-port": "500", "remote-id": "192.0.2.2",
        "initiator": "yes", "initiator-spi": "a1b2c3d4e5f60718", "responder-spi": "0123456789abcdef",
        "encr-alg": "AES_GCM_16", "encr-keysize": "256", "prf-alg": "PRF_HMAC_SHA2_384", "dh-group": ""})");
    sa["state"] = state;
    sa["dh-group"] = dh;
    if (state == "ESTABLISHED") {
        sa["established"] = "120";
        sa["rekey-time"] = "13000";
        sa["reauth-time"] = "0";
    }
    sa["child-sas"] = ordered_json::object();
    return sa;
}

// A CHILD_SA as list_child() writes it; the IPsec part only once installed.
ordered_json child_sa(const std::string& state, const std::string& spi_in, const std::string& spi_out,
                      const std::string& installed = "100", const std::string& rekey = "3000")
{
    ordered_json c = ordered_json::parse(R"({"name": "site", "uniqueid": "4", "reqid": "7", "state": "",
        "mode": "TUNNEL"})");
    c["state"] = state;
    if (state == "INSTALLED" || state == "REKEYING" || state == "REKEYED" || state == "DELETING") {
        c["protocol"] = "ESP";
        c["spi-in"] = spi_in;
        c["spi-out"] = spi_out;
        c["encr-alg"] = "AES_GCM_16";
        c["encr-keysize"] = "256";
        c["dh-group"] = "CURVE_25519";
        c["bytes-in"] = "8400";
        c["packets-in"] = "100";
        c["bytes-out"] = "8400";
        c["packets-out"] = "100";
        c["rekey-time"] = rekey;
        c["life-time"] = "3500";
        c["install-time"] = installed;
    }
    c["local-ts"] = {"10.1.0.0/24"};
    c["remote-ts"] = {"10.2.0.0/24"};
    return c;
}

ordered_json event(const std::string& connection, const ordered_json& sa)
{
    return ordered_json{{connection, sa}};
}

} // namespace

TEST_CASE("list-sas: an established IKE SA with an installed CHILD SA")
{
    ordered_json sa = ike_sa("ESTABLISHED");
    sa["child-sas"]["site-4"] = child_sa("INSTALLED", "c1a2b3c4", "0000ff01");
    auto seen = read_sa_list({event("xfrmctl.site", sa)}, kNow);
    REQUIRE(seen.size() == 1);
    REQUIRE(seen.contains("site"));
    const NegotiatedTunnel& n = seen["site"];
    CHECK(n.ike_up);
    CHECK(n.child_up);
    CHECK_FALSE(n.connecting);
    CHECK(n.ike.state == "ESTABLISHED");
    CHECK(n.ike.child_state == "INSTALLED");
    CHECK(n.ike.ike_algorithms == "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519");
    CHECK(n.ike.child_algorithms == "AES_GCM_16-256/CURVE_25519");
    CHECK(n.ike.remote_id == "192.0.2.2");
    CHECK(n.ike.established == kNow - 120);
    CHECK(n.ike.ike_rekey == kNow + 13000);
    CHECK(n.ike.child_installed == kNow - 100);
    CHECK(n.ike.child_rekey == kNow + 3000);
    CHECK(n.spis == std::vector<std::uint32_t>{0xc1a2b3c4, 0x0000ff01});
}

TEST_CASE("list-sas: a cipher with integrity names both; without DH the child's algorithms stop there")
{
    ordered_json sa = ike_sa("ESTABLISHED", "ECP_256");
    sa["encr-alg"] = "AES_CBC";
    sa["integ-alg"] = "HMAC_SHA2_256_128";
    sa["prf-alg"] = "PRF_HMAC_SHA2_256";
    ordered_json child = child_sa("INSTALLED", "c0000001", "c0000002");
    child["encr-alg"] = "AES_CBC";
    child["integ-alg"] = "HMAC_SHA2_512_256";
    child.erase("dh-group");
    sa["child-sas"]["site-1"] = child;
    auto seen = read_sa_list({event("xfrmctl.site", sa)}, kNow);
    CHECK(seen["site"].ike.ike_algorithms == "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256");
    CHECK(seen["site"].ike.child_algorithms == "AES_CBC-256/HMAC_SHA2_512_256");
}

TEST_CASE("list-sas: an IKE SA on its way up is connecting, not up")
{
    ordered_json sa = ike_sa("CONNECTING");
    sa.erase("prf-alg");
    sa.erase("encr-alg");
    sa.erase("encr-keysize");
    sa.erase("dh-group");
    sa["remote-id"] = "%any";
    sa["child-sas"]["site-9"] = child_sa("CREATED", "", "");
    auto seen = read_sa_list({event("xfrmctl.site", sa)}, kNow);
    const NegotiatedTunnel& n = seen["site"];
    CHECK(n.connecting);
    CHECK_FALSE(n.ike_up);
    CHECK_FALSE(n.child_up);
    CHECK(n.ike.state == "CONNECTING");
    CHECK(n.ike.child_state == "none");
    CHECK_FALSE(n.ike.established.has_value());
    CHECK_FALSE(n.ike.child_installed.has_value());
    CHECK(n.spis.empty());
}

TEST_CASE("list-sas: a CHILD SA being rekeyed still carries traffic; the newer of two is shown")
{
    ordered_json sa = ike_sa("ESTABLISHED");
    sa["child-sas"]["site-4"] = child_sa("REKEYING", "c0000001", "c0000002");
    auto rekeying = read_sa_list({event("xfrmctl.site", sa)}, kNow);
    CHECK(rekeying["site"].child_up);
    CHECK(rekeying["site"].ike.child_state == "REKEYING");

    // old and new CHILD SA side by side, in either order
    ordered_json old_child = child_sa("REKEYED", "c0000001", "c0000002", "3400", "0");
    ordered_json new_child = child_sa("INSTALLED", "c0000003", "c0000004", "5", "3300");
    for (bool old_first : {true, false}) {
        CAPTURE(old_first);
        ordered_json both = ike_sa("ESTABLISHED");
        both["child-sas"][old_first ? "site-4" : "site-5"] = old_first ? old_child : new_child;
        both["child-sas"][old_first ? "site-5" : "site-4"] = old_first ? new_child : old_child;
        auto seen = read_sa_list({event("xfrmctl.site", both)}, kNow);
        const NegotiatedTunnel& n = seen["site"];
        CHECK(n.child_up);
        CHECK(n.ike.child_state == "INSTALLED");
        CHECK(n.ike.child_installed == kNow - 5);
        CHECK(n.ike.child_rekey == kNow + 3300);
        CHECK(n.spis.size() == 4); // both SAs' SPIs are charon's
    }
}

TEST_CASE("list-sas: a rekeyed IKE SA and its successor: the established one speaks, in either order")
{
    ordered_json old_sa = ike_sa("REKEYED", "ECP_256");
    old_sa["remote-id"] = "old";
    ordered_json new_sa = ike_sa("ESTABLISHED");
    new_sa["remote-id"] = "new";
    new_sa["child-sas"]["site-4"] = child_sa("INSTALLED", "c1a2b3c4", "c5d6e7f8");
    for (bool old_first : {true, false}) {
        CAPTURE(old_first);
        std::vector<ordered_json> events{event("xfrmctl.site", old_sa), event("xfrmctl.site", new_sa)};
        if (!old_first)
            std::swap(events[0], events[1]);
        auto seen = read_sa_list(events, kNow);
        REQUIRE(seen.size() == 1);
        const NegotiatedTunnel& n = seen["site"];
        CHECK(n.ike_up);
        CHECK(n.child_up);
        CHECK_FALSE(n.connecting);
        CHECK(n.ike.state == "ESTABLISHED");
        CHECK(n.ike.remote_id == "new");
        CHECK(n.ike.ike_algorithms == "AES_GCM_16-256/PRF_HMAC_SHA2_384/CURVE_25519");
        CHECK(n.ike.established == kNow - 120);
        CHECK(n.spis == std::vector<std::uint32_t>{0xc1a2b3c4, 0xc5d6e7f8});
    }
}

TEST_CASE("list-sas: an installed CHILD SA under an IKE SA that is not up is not up")
{
    ordered_json sa = ike_sa("DELETING");
    sa["child-sas"]["site-4"] = child_sa("INSTALLED", "c0000001", "c0000002");
    auto seen = read_sa_list({event("xfrmctl.site", sa)}, kNow);
    CHECK_FALSE(seen["site"].ike_up);
    CHECK_FALSE(seen["site"].child_up);
    CHECK(seen["site"].ike.state == "DELETING");
}

TEST_CASE("list-sas: other connections, and what is not an IKE SA, are passed over")
{
    ordered_json sa = ike_sa("ESTABLISHED");
    sa["child-sas"]["site-4"] = child_sa("INSTALLED", "c0000001", "c0000002");
    ordered_json two = ordered_json::object();
    two["road-warrior"] = sa;
    two["xfrmctl.b"] = ike_sa("CONNECTING");
    auto seen = read_sa_list({event("site", sa), event("other.xfrmctl.site", sa), two, ordered_json::array(),
                              ordered_json("list-sa"), event("xfrmctl.c", ordered_json("not an SA"))},
                             kNow);
    REQUIRE(seen.size() == 1);
    CHECK(seen.contains("b"));
    CHECK(seen["b"].connecting);
    CHECK(read_sa_list({}, kNow).empty());
}

// ---------------------------------------------------------------------------
// error-notify alerts

TEST_CASE("alerts: a record is 768 bytes and decodes to what was encoded")
{
    CHECK(kAlertSize == 768);
    Alert a{2, "local authentication failed", "xfrmctl.site", "CN=east", "192.0.2.2[500]"};
    auto bytes = encode_alert(a);
    REQUIRE(bytes.size() == kAlertSize);
    CHECK(bytes[3] == std::byte{2}); // network order
    CHECK(bytes[0] == std::byte{0});
    auto back = decode_alert(bytes);
    REQUIRE(back);
    CHECK(back->type == 2);
    CHECK(back->text == a.text);
    CHECK(back->connection == "xfrmctl.site");
    CHECK(back->peer_id == "CN=east");
    CHECK(back->peer_address == "192.0.2.2[500]");

    // fields are cut to their size, keeping the terminating NUL
    Alert big{28, std::string(500, 't'), std::string(100, 'n'), std::string(300, 'i'), std::string(80, 'a')};
    auto cut = decode_alert(encode_alert(big));
    REQUIRE(cut);
    CHECK(cut->type == 28);
    CHECK(cut->text == std::string(383, 't'));
    CHECK(cut->connection == std::string(63, 'n'));
    CHECK(cut->peer_id == std::string(255, 'i'));
    CHECK(cut->peer_address == std::string(59, 'a'));

    // a field filled to the last byte, as a sloppy sender could: no read past it
    std::vector<std::byte> full(kAlertSize, std::byte{'x'});
    auto unterminated = decode_alert(full);
    REQUIRE(unterminated);
    CHECK(unterminated->text.size() == 384);
    CHECK(unterminated->connection.size() == 64);
    CHECK(unterminated->peer_address.size() == 60);
}

TEST_CASE("alerts: a record of the wrong size is refused")
{
    auto bytes = encode_alert({6, "retransmit send timeout", "xfrmctl.site", "", ""});
    auto shorter = decode_alert(std::span(bytes).first(kAlertSize - 1));
    REQUIRE_FALSE(shorter);
    CHECK(contains(shorter.error().message, "768 bytes, got 767"));
    bytes.push_back(std::byte{0});
    CHECK_FALSE(decode_alert(bytes));
    CHECK_FALSE(decode_alert({}));
}

TEST_CASE("alerts: failures are what keeps a tunnel down; news is not")
{
    auto failure = [](int type) { return Alert{type, "", "", "", ""}.is_failure(); };
    CHECK(failure(2));  // local authentication failed
    CHECK(failure(3));  // peer authentication failed
    CHECK(failure(6));  // retransmit send timeout
    CHECK(failure(8));  // IKE proposal mismatch
    CHECK(failure(9));  // CHILD proposal mismatch
    CHECK(failure(10)); // traffic selector mismatch
    CHECK(failure(32)); // certificate policy violation
    CHECK_FALSE(failure(20)); // retransmitting
    CHECK_FALSE(failure(21)); // retransmit cleared
    CHECK_FALSE(failure(13)); // unique: replaced
    CHECK_FALSE(failure(26)); // traffic selectors narrowed
    CHECK_FALSE(failure(0));
    CHECK_FALSE(failure(33));
}

namespace {

// A listening socket where error-notify would have its own.
UniqueFd listen_at(const std::filesystem::path& path)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd.get(), 1) != 0)
        return UniqueFd();
    return fd;
}

void send_all(int fd, std::span<const std::byte> data)
{
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        REQUIRE(n > 0);
        data = data.subspan(static_cast<std::size_t>(n));
    }
}

// Waits (up to a second) for the stream to have something to read.
bool readable(const AlertStream& s)
{
    pollfd p{s.fd(), POLLIN, 0};
    return ::poll(&p, 1, 1000) == 1;
}

// A stream connected to a stand-in for charon's error-notify socket.
struct AlertLink {
    ScratchDir dir;
    UniqueFd listener, charon;
    std::optional<AlertStream> stream;
};

std::unique_ptr<AlertLink> alert_link()
{
    auto link = std::make_unique<AlertLink>();
    auto path = link->dir.path() / "charon.enfy";
    link->listener = listen_at(path);
    REQUIRE(link->listener);
    auto stream = AlertStream::connect(path);
    REQUIRE(stream);
    link->stream = std::move(*stream);
    link->charon = UniqueFd(::accept4(link->listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(link->charon);
    return link;
}

} // namespace

TEST_CASE("alert stream: records arrive whole, whether in pieces or several at once")
{
    auto link = alert_link();
    auto& stream = link->stream;
    UniqueFd& charon = link->charon;

    auto one = encode_alert({3, "peer authentication failed", "xfrmctl.site", "CN=east", "192.0.2.2[500]"});
    send_all(charon.get(), std::span(one).first(100));
    REQUIRE(readable(*stream));
    auto first = stream->read_available();
    REQUIRE(first);
    CHECK(first->empty()); // 100 bytes: no record yet
    send_all(charon.get(), std::span(one).subspan(100));
    REQUIRE(readable(*stream));
    auto second = stream->read_available();
    REQUIRE(second);
    REQUIRE(second->size() == 1);
    CHECK((*second)[0].type == 3);
    CHECK((*second)[0].text == "peer authentication failed");
    CHECK((*second)[0].connection == "xfrmctl.site");

    // two records and a half in one write, then the rest of the third
    auto two = encode_alert({20, "retransmitting", "xfrmctl.site", "", "192.0.2.2[500]"});
    auto three = encode_alert({6, "giving up", "xfrmctl.site", "", ""});
    std::vector<std::byte> burst(one);
    burst.insert(burst.end(), two.begin(), two.end());
    burst.insert(burst.end(), three.begin(), three.begin() + 10);
    send_all(charon.get(), burst);
    REQUIRE(readable(*stream));
    auto batch = stream->read_available();
    REQUIRE(batch);
    REQUIRE(batch->size() == 2);
    CHECK((*batch)[0].type == 3);
    CHECK((*batch)[1].type == 20);
    CHECK((*batch)[1].text == "retransmitting");
    send_all(charon.get(), std::span(three).subspan(10));
    REQUIRE(readable(*stream));
    auto last = stream->read_available();
    REQUIRE(last);
    REQUIRE(last->size() == 1);
    CHECK((*last)[0].type == 6);
    CHECK((*last)[0].text == "giving up");

    // nothing more there: no alert, no error
    auto idle = stream->read_available();
    REQUIRE(idle);
    CHECK(idle->empty());

    // charon going away is an error
    charon.reset();
    REQUIRE(readable(*stream));
    auto gone = stream->read_available();
    REQUIRE_FALSE(gone);
    CHECK(contains(gone.error().message, "closed"));
}

TEST_CASE("alert stream: connecting needs charon's socket to be there")
{
    ScratchDir dir;
    auto absent = AlertStream::connect(dir.path() / "charon.enfy");
    REQUIRE_FALSE(absent);
    CHECK(absent.error().errnum == ENOENT);
    CHECK_FALSE(AlertStream::connect(dir.path() / std::string(120, 'x')));
}

// Found by this test once: records read in the same call as charon's hang-up
// were dropped with the "closed" error; an alert sent just before charon
// goes away must still be delivered.
TEST_CASE("alert stream: records sent just before charon hangs up are still delivered")
{
    auto link = alert_link();
    auto& stream = link->stream;
    UniqueFd& charon = link->charon;
    send_all(charon.get(), encode_alert({3, "peer authentication failed", "xfrmctl.site", "CN=east", ""}));
    charon.reset();
    REQUIRE(readable(*stream));
    std::vector<Alert> got;
    bool closed = false;
    for (int i = 0; i < 3 && !closed; ++i) {
        auto r = stream->read_available();
        if (!r)
            closed = true;
        else
            got.insert(got.end(), r->begin(), r->end());
    }
    CHECK(closed); // the hang-up is reported, after the alert
    REQUIRE(got.size() == 1); // fails: the alert is dropped with the error
    CHECK(got[0].text == "peer authentication failed");
}

TEST_CASE("alerts: the operator's reason says which end refused authentication, charon's words after it")
{
    Alert local{2, "local authentication failed", "xfrmctl.site", "", "192.0.2.2[500]"};
    CHECK(operator_reason(local, true) ==
          "the peer refused our authentication: the two ends do not hold the same PSK (or file it under other "
          "identities) (charon: local authentication failed)");
    CHECK(operator_reason(local, false) ==
          "the peer refused our authentication: it does not trust our certificate or expects another identity "
          "(charon: local authentication failed)");
    Alert peer{3, "peer authentication failed", "xfrmctl.site", "", ""};
    CHECK(operator_reason(peer, true).starts_with("the peer's authentication failed here: it does not hold the same PSK"));
    CHECK(contains(operator_reason(peer, false), "its certificate is not trusted"));
    // other alerts read right as charon words them
    Alert timeout{6, "IKE message retransmission timed out", "xfrmctl.site", "", ""};
    CHECK(operator_reason(timeout, true) == "IKE message retransmission timed out");
}
