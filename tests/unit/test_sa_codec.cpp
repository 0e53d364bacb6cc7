// Build an SA message, parse it back, compare: no kernel needed.
#include "xfrmctl/netlink/fields.hpp"
#include "xfrmctl/netlink/sa.hpp"

#include <doctest/doctest.h>
#include <linux/xfrm.h>
#include <netinet/in.h>

#include <linux/udp.h>

#include <cstring>
#include <functional>
#include <vector>

using namespace xfrmctl;
using namespace xfrmctl::netlink;

namespace {

SaAlgorithm algorithm(const char* name, std::size_t key_bytes, std::uint32_t icv_bits, std::uint8_t fill)
{
    Secret key(key_bytes);
    std::memset(key.data(), fill, key_bytes);
    SaAlgorithm a{name, static_cast<std::uint32_t>(key_bytes * 8), icv_bits, std::move(key), {}};
    a.fingerprint = fingerprint_of(a.key.bytes());
    return a;
}

SaEntry tunnel_sa()
{
    SaEntry sa;
    sa.id = SaId{*IpAddress::parse("198.51.100.7"), 0x10000a01, IPPROTO_ESP, {}};
    sa.saddr = *IpAddress::parse("192.0.2.1");
    sa.mode = Mode::tunnel;
    sa.reqid = 0x4abc1234;
    sa.flags = XFRM_STATE_AF_UNSPEC;
    sa.aead = algorithm("rfc4106(gcm(aes))", 36, 128, 0x5a);
    return sa;
}

// One configuration field changed (src/netlink/fields.cpp): its name as a
// difference names it, and the change.
template <typename Entry>
using FieldChange = std::pair<const char*, std::function<void(Entry&)>>;

const std::vector<FieldChange<SaEntry>> kSaChanges = {
    {"if_id", [](SaEntry& s) { s.if_id = 9; }},
    {"output mark", [](SaEntry& s) { s.output_mark = Mark{0x10, 0xff}; }},
    {"encapsulation", [](SaEntry& s) { s.encap = Encapsulation{UDP_ENCAP_ESPINUDP, 4500, 4500}; }},
    {"lifetime", [](SaEntry& s) { s.limits.hard_add_seconds = 3600; }},
    {"lifetime", [](SaEntry& s) { s.limits.soft_bytes = 1000000; }},
    {"direction", [](SaEntry& s) { s.dir = 2; }},
    {"mode", [](SaEntry& s) { s.mode = Mode::transport; }},
    {"reqid", [](SaEntry& s) { s.reqid = 8; }},
    {"flags", [](SaEntry& s) { s.flags = XFRM_STATE_ESN; }},
    {"replay window", [](SaEntry& s) { s.replay_window = 128; }},
    {"mark", [](SaEntry& s) { s.id.mark = Mark{1, 0xffffffff}; }},
    {"aead algorithm", [](SaEntry& s) { s.aead->icv_bits = 96; }},
    {"addresses", [](SaEntry& s) { s.saddr = *IpAddress::parse("192.0.2.9"); }},
    {"offload", [](SaEntry& s) { s.offload = Offload{3, 0}; }},
};

const nlattr* find(const Request& r, std::uint16_t type)
{
    const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(r.header()));
    const auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(r.header(), sizeof(xfrm_usersa_info)));
    for (; mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a))); a = mnl_attr_next(a))
        if (mnl_attr_get_type(a) == type)
            return a;
    return nullptr;
}

} // namespace

TEST_CASE("an AEAD tunnel SA survives build and parse")
{
    SaEntry sa = tunnel_sa();
    Request r = build_sa(XFRM_MSG_NEWSA, sa);
    CHECK(r.type() == XFRM_MSG_NEWSA);
    CHECK((r.header()->nlmsg_flags & NLM_F_ACK));
    auto parsed = parse_sa(r.header());
    REQUIRE(parsed);
    CHECK(parsed->same_config(sa));
    CHECK(parsed->aead->key.empty()); // parsing keeps the fingerprint, not the key
    CHECK(parsed->aead->fingerprint == sa.aead->fingerprint);
}

TEST_CASE("the AEAD attribute has the kernel's layout")
{
    Request r = build_sa(XFRM_MSG_NEWSA, tunnel_sa());
    const nlattr* a = find(r, XFRMA_ALG_AEAD);
    REQUIRE(a);
    CHECK(mnl_attr_get_payload_len(a) == sizeof(xfrm_algo_aead) + 36);
    const auto* k = static_cast<const xfrm_algo_aead*>(mnl_attr_get_payload(a));
    CHECK(std::string(k->alg_name) == "rfc4106(gcm(aes))");
    CHECK(k->alg_key_len == 288);
    CHECK(k->alg_icv_len == 128);
    const auto* info = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(r.header()));
    CHECK(info->id.spi == htonl(0x10000a01));
    CHECK(info->family == AF_INET);
}

TEST_CASE("a different key is a different configuration")
{
    SaEntry a = tunnel_sa();
    SaEntry b = tunnel_sa();
    b.aead = algorithm("rfc4106(gcm(aes))", 36, 128, 0x5b);
    CHECK_FALSE(a.same_config(b));
}

TEST_CASE("a replay window over 32 goes in the bitmap attribute")
{
    SaEntry sa = tunnel_sa();
    sa.replay_window = 128;
    Request r = build_sa(XFRM_MSG_NEWSA, sa);
    const auto* info = static_cast<const xfrm_usersa_info*>(mnl_nlmsg_get_payload(r.header()));
    CHECK(info->replay_window == 0); // verify_replay() insists
    const nlattr* a = find(r, XFRMA_REPLAY_ESN_VAL);
    REQUIRE(a);
    const auto* rs = static_cast<const xfrm_replay_state_esn*>(mnl_attr_get_payload(a));
    CHECK(rs->bmp_len == 4);
    CHECK(rs->replay_window == 128);
    CHECK(mnl_attr_get_payload_len(a) == sizeof(xfrm_replay_state_esn) + 16);
    auto parsed = parse_sa(r.header());
    REQUIRE(parsed);
    CHECK(parsed->replay_window == 128);
}

TEST_CASE("cipher plus integrity over IPv6 with mark, encapsulation and if_id")
{
    SaEntry sa;
    sa.id = SaId{*IpAddress::parse("2001:db8::2"), 0x2000, IPPROTO_ESP, Mark{0x42, 0xff}};
    sa.saddr = *IpAddress::parse("2001:db8::1");
    sa.mode = Mode::transport;
    sa.reqid = 7;
    sa.crypt = algorithm("cbc(aes)", 32, 0, 1);
    sa.auth = algorithm("hmac(sha256)", 32, 128, 2);
    sa.encap = Encapsulation{UDP_ENCAP_ESPINUDP, 4500, 4501};
    sa.if_id = 9;
    sa.output_mark = Mark{0x10, 0xf0};
    sa.limits.hard_bytes = 1 << 20;
    auto parsed = parse_sa(build_sa(XFRM_MSG_NEWSA, sa).header());
    REQUIRE(parsed);
    CHECK(parsed->same_config(sa));
    CHECK(parsed->id.daddr.str() == "2001:db8::2");
    CHECK(parsed->auth->icv_bits == 128);
    CHECK(parsed->limits.hard_bytes == 1 << 20);
}

TEST_CASE("an SA id survives build and parse of a delete")
{
    SaId id{*IpAddress::parse("10.0.0.2"), 0x1234, IPPROTO_AH, Mark{1, 0xffffffff}};
    Request r = build_sa_delete(id);
    CHECK(r.type() == XFRM_MSG_DELSA);
    auto parsed = parse_sa_id(r.header());
    REQUIRE(parsed);
    CHECK(*parsed == id);
}

TEST_CASE("a truncated SA message is an error, not a crash")
{
    Request r = build_sa(XFRM_MSG_NEWSA, tunnel_sa());
    std::vector<std::uint8_t> copy(r.bytes().begin(), r.bytes().end());
    auto* nlh = reinterpret_cast<nlmsghdr*>(copy.data());
    nlh->nlmsg_len = sizeof(nlmsghdr) + 16;
    CHECK_FALSE(parse_sa(nlh));
}

TEST_CASE("an attribute running past nlmsg_len into the padding is refused")
{
    // mnl_attr_parse() ends a message at nlmsg_len rounded up to 4; the
    // fuzz target found that a read past the end of the buffer.
    Request r = build_sa(XFRM_MSG_NEWSA, tunnel_sa());
    REQUIRE(r.bytes().size() % 4 == 0);
    std::vector<std::uint8_t> copy(r.bytes().begin(), r.bytes().end() - 3);
    auto* nlh = reinterpret_cast<nlmsghdr*>(copy.data());
    nlh->nlmsg_len = static_cast<std::uint32_t>(copy.size());
    auto parsed = parse_sa(nlh);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.find("malformed attributes") != std::string::npos);
}

TEST_CASE("describing an SA never shows its key")
{
    SaEntry sa = tunnel_sa();
    std::string text = sa.describe();
    CHECK(text.find("spi 0x10000a01") != std::string::npos);
    CHECK(text.find("5a5a") == std::string::npos);
    CHECK(text.find("ZZZZ") == std::string::npos);
}

TEST_CASE("the SA's direction (XFRMA_SA_DIR) survives build and parse")
{
    SaEntry sa = tunnel_sa();
    sa.dir = 2;
    Request r = build_sa(XFRM_MSG_NEWSA, sa);
    auto parsed = parse_sa(r.header());
    REQUIRE(parsed);
    CHECK(parsed->dir == 2);
    CHECK(parsed->same_config(sa));
    sa.dir = 0;
    CHECK_FALSE(parsed->same_config(sa));
}

TEST_CASE("an IPComp SA's algorithm survives build and parse")
{
    SaEntry sa;
    sa.id = SaId{*IpAddress::parse("192.0.2.2"), 0x9000, IPPROTO_COMP, {}};
    sa.saddr = *IpAddress::parse("192.0.2.1");
    sa.comp = SaAlgorithm{"deflate", 0, 0, {}, fingerprint_of({})};
    auto parsed = parse_sa(build_sa(XFRM_MSG_NEWSA, sa).header());
    REQUIRE(parsed);
    REQUIRE(parsed->comp);
    CHECK(parsed->comp->name == "deflate");
    CHECK(parsed->same_config(sa));
}

TEST_CASE("two SAs that differ in one field print differently, and the difference names the field")
{
    const SaEntry a = tunnel_sa();
    CHECK(a.describe() == "sa 192.0.2.1 -> 198.51.100.7 esp spi 0x10000a01 tunnel reqid 1253839412 rfc4106(gcm(aes)) "
                          "key-bits 288 icv-bits 128 flag af-unspec");
    for (const auto& [field, change] : kSaChanges) {
        INFO("field: " << field);
        SaEntry b = a.clone();
        change(b);
        CHECK(a.describe() != b.describe());
        CHECK_FALSE(a.same_config(b));
        CHECK(a.differences(b) == std::vector<std::string>{field});
    }
}

TEST_CASE("an SA's key is compared but never printed: the difference says 'key'")
{
    const SaEntry a = tunnel_sa();
    SaEntry b = a.clone();
    std::memset(b.aead->key.data(), 0x6b, b.aead->key.size());
    b.aead->fingerprint = fingerprint_of(b.aead->key.bytes());
    CHECK(a.describe() == b.describe());
    CHECK(a.differences(b) == std::vector<std::string>{"key"});
    CHECK(a.differences(b, false).empty());
    CHECK(a.same_config(b, false));
}

TEST_CASE("an offloaded SA (XFRMA_OFFLOAD_DEV) survives build and parse, in the kernel's layout")
{
    SaEntry sa = tunnel_sa();
    sa.offload = Offload{7, XFRM_OFFLOAD_INBOUND};
    Request r = build_sa(XFRM_MSG_NEWSA, sa);
    const nlattr* a = find(r, XFRMA_OFFLOAD_DEV);
    REQUIRE(a != nullptr);
    REQUIRE(mnl_attr_get_payload_len(a) == sizeof(xfrm_user_offload));
    xfrm_user_offload k{};
    std::memcpy(&k, mnl_attr_get_payload(a), sizeof k);
    CHECK(k.ifindex == 7);
    CHECK(k.flags == XFRM_OFFLOAD_INBOUND);
    auto parsed = parse_sa(r.header());
    REQUIRE(parsed);
    REQUIRE(parsed->offload);
    CHECK(*parsed->offload == Offload{7, XFRM_OFFLOAD_INBOUND});
    CHECK(parsed->same_config(sa));
    CHECK(sa.describe().find(" offload crypto ifindex 7 in") != std::string::npos);
    CHECK(find(build_sa(XFRM_MSG_NEWSA, tunnel_sa()), XFRMA_OFFLOAD_DEV) == nullptr); // none asked, none sent
}

TEST_CASE("offload: the device, the direction and packet mode count; the IPv6 flag the kernel never reports does not")
{
    SaEntry want = tunnel_sa();
    want.offload = Offload{7, XFRM_OFFLOAD_PACKET};
    SaEntry kernel = want.clone();
    kernel.offload->flags |= XFRM_OFFLOAD_IPV6;
    CHECK(kernel.same_config(want));
    kernel.offload = Offload{7, 0}; // crypto, not packet
    CHECK(kernel.differences(want, false) == std::vector<std::string>{"offload"});
    kernel.offload = Offload{8, XFRM_OFFLOAD_PACKET};
    CHECK(kernel.differences(want, false) == std::vector<std::string>{"offload"});
    kernel.offload.reset(); // the kernel kept it in software
    CHECK(kernel.differences(want, false) == std::vector<std::string>{"offload"});
    CHECK(want.describe().find(" offload packet ifindex 7 out") != std::string::npos);
}
