// Build a policy message, parse it back, compare: no kernel needed.
#include "xfrmctl/netlink/fields.hpp"
#include "xfrmctl/netlink/policy.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <functional>

using namespace xfrmctl;
using namespace xfrmctl::netlink;

namespace {

PolicyEntry tunnel_policy()
{
    PolicyEntry p;
    p.id.dir = Direction::out;
    p.id.selector.src = *Prefix::parse("10.1.0.0/24");
    p.id.selector.dst = *Prefix::parse("10.2.0.0/24");
    p.priority = 1000;
    Template esp;
    esp.family = AF_INET;
    esp.saddr = *IpAddress::parse("192.0.2.1");
    esp.daddr = *IpAddress::parse("198.51.100.7");
    esp.proto = IPPROTO_ESP;
    esp.mode = Mode::tunnel;
    esp.reqid = 99;
    p.templates.push_back(esp);
    return p;
}

template <typename Entry>
using FieldChange = std::pair<const char*, std::function<void(Entry&)>>;

const std::vector<FieldChange<PolicyEntry>> kPolicyChanges = {
    {"if_id", [](PolicyEntry& p) { p.id.if_id = 9; }},
    {"mark", [](PolicyEntry& p) { p.id.mark = Mark{1, 0xffffffff}; }},
    {"lifetime", [](PolicyEntry& p) { p.limits.hard_add_seconds = 3600; }},
    {"direction", [](PolicyEntry& p) { p.id.dir = Direction::fwd; }},
    {"priority", [](PolicyEntry& p) { p.priority = 42; }},
    {"action", [](PolicyEntry& p) { p.action = XFRM_POLICY_BLOCK; }},
    {"flags", [](PolicyEntry& p) { p.flags = XFRM_POLICY_ICMP; }},
    {"share", [](PolicyEntry& p) { p.share = XFRM_SHARE_UNIQUE; }},
    {"type", [](PolicyEntry& p) { p.id.type = XFRM_POLICY_TYPE_SUB; }},
    {"templates", [](PolicyEntry& p) { p.templates[0].reqid = 8; }},
    {"templates", [](PolicyEntry& p) { p.templates[0].spi = 0x1234; }},
    {"templates", [](PolicyEntry& p) { p.templates[0].optional = true; }},
    {"templates", [](PolicyEntry& p) { p.templates[0].ealgos = 0; }},
};

} // namespace

TEST_CASE("a tunnel policy survives build and parse")
{
    PolicyEntry p = tunnel_policy();
    auto parsed = parse_policy(build_policy(XFRM_MSG_NEWPOLICY, p).header());
    REQUIRE(parsed);
    CHECK(parsed->same_config(p));
    REQUIRE(parsed->templates.size() == 1);
    CHECK(parsed->templates[0].daddr.str() == "198.51.100.7");
}

TEST_CASE("a bundle keeps its templates in order, with ports, mark and if_id")
{
    PolicyEntry p = tunnel_policy();
    p.id.dir = Direction::fwd;
    p.id.selector.proto = IPPROTO_TCP;
    p.id.selector.dport = 179;
    p.id.selector.dport_mask = 0xffff;
    p.id.mark = Mark{5, 0xff};
    p.id.if_id = 12;
    Template ah = p.templates[0];
    ah.proto = IPPROTO_AH;
    ah.mode = Mode::transport;
    p.templates.push_back(ah);
    Request r = build_policy(XFRM_MSG_UPDPOLICY, p);
    CHECK(r.type() == XFRM_MSG_UPDPOLICY);
    auto parsed = parse_policy(r.header());
    REQUIRE(parsed);
    CHECK(parsed->same_config(p));
    CHECK(parsed->templates[1].proto == IPPROTO_AH);
    CHECK(parsed->id.selector.dport == 179);
}

TEST_CASE("an IPv6 policy id survives build and parse of a delete")
{
    PolicyId id;
    id.dir = Direction::in;
    id.selector.src = *Prefix::parse("2001:db8:2::/48");
    id.selector.dst = *Prefix::parse("2001:db8:1::/48");
    id.mark = Mark{0, 0xffffffff};
    Request r = build_policy_delete(id);
    CHECK(r.type() == XFRM_MSG_DELPOLICY);
    auto parsed = parse_policy_id(r.header());
    REQUIRE(parsed);
    CHECK(*parsed == id);
    CHECK(parsed->key() == id.key());
}

TEST_CASE("priority is configuration, not identity")
{
    PolicyEntry a = tunnel_policy();
    PolicyEntry b = tunnel_policy();
    b.priority = 2000;
    CHECK(a.id == b.id);
    CHECK_FALSE(a.same_config(b));
}

TEST_CASE("two policies that differ in one field print differently, and the difference names the field")
{
    const PolicyEntry a = tunnel_policy();
    for (const auto& [field, change] : kPolicyChanges) {
        INFO("field: " << field);
        PolicyEntry b = a;
        change(b);
        CHECK(a.describe() != b.describe());
        CHECK_FALSE(a.same_config(b));
        CHECK(a.differences(b) == std::vector<std::string>{field});
    }
    PolicyEntry b = a;
    b.index = 99; // the kernel's, not configuration
    CHECK(a.same_config(b));
    CHECK(a.describe() == b.describe());
}

TEST_CASE("the names of several differing fields read as a list")
{
    CHECK(join_names({"if_id"}) == "if_id");
    CHECK(join_names({"if_id", "lifetime"}) == "if_id and lifetime");
    CHECK(join_names({"mode", "if_id", "lifetime"}) == "mode, if_id and lifetime");
}
