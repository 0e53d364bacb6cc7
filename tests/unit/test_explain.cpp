// explain() on tables built by hand: the kernel's choice, step by step.
#include "xfrmctl/engine/explain.hpp"
#include "xfrmctl/plan/desired.hpp"
#include "xfrmctl/plan/host.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>

using namespace xfrmctl;
using namespace xfrmctl::engine;

namespace {

model::Tunnel tunnel(const char* name, const char* remote_subnet, std::uint32_t spi)
{
    model::Tunnel t;
    t.generations.emplace_back(); // one generation, sending
    t.name = name;
    t.local = {*IpAddress::parse("192.0.2.1"), {*Prefix::parse("10.1.0.0/24")}};
    t.remote = {*IpAddress::parse("192.0.2.2"), {*Prefix::parse(remote_subnet)}};
    t.esp_proposal = model::find_proposal("aes256gcm16");
    t.generations.at(0).outbound.esp = model::KeyRef{spi, "k", "k", t.path() + "/keying/outbound"};
    t.generations.at(0).inbound.esp = model::KeyRef{spi + 1, "k", "k", t.path() + "/keying/inbound"};
    return t;
}

struct Host {
    netlink::Tables kernel;
    state::Ledger ledger;

    void install(const plan::DesiredTunnel& d, bool with_sas = true)
    {
        auto& owned = ledger.at(d.name);
        if (with_sas)
            for (const auto& sa : d.sas) {
                kernel.sas.push_back(sa.entry.clone());
                owned.sas.insert(sa.entry.id.key());
            }
        for (const auto& p : d.policies) {
            kernel.policies.push_back(p.entry);
            kernel.policies.back().index = static_cast<std::uint32_t>(kernel.policies.size());
            owned.policies.insert(p.entry.id.key());
        }
        ledger.reindex();
    }
};

Flow out(const char* src, const char* dst, std::uint8_t proto = IPPROTO_ICMP, std::uint16_t dport = 0)
{
    Flow f;
    f.src = *IpAddress::parse(src);
    f.dst = *IpAddress::parse(dst);
    f.proto = proto;
    f.dport = dport;
    return f;
}

} // namespace

TEST_CASE("the narrower policy wins, and the SA it names is found")
{
    Host h;
    h.install(plan::compile_tunnel(tunnel("wide", "10.2.0.0/16", 0x100), 1, {}));
    h.install(plan::compile_tunnel(tunnel("narrow", "10.2.0.0/24", 0x200), 2, {}));
    auto e = explain(out("10.1.0.1", "10.2.0.9"), h.kernel, h.ledger);
    CHECK(e.verdict == Verdict::protected_);
    CHECK(e.policy_owner == "narrow");
    REQUIRE(e.also_matched.size() == 1);
    CHECK(e.also_matched[0].id.selector.dst.str() == "10.2.0.0/16");
    CHECK(e.why == "priority 175424 = 200000 - (24 + 24) prefix bits x 512 - 0 (protocol) - 0 port bits x 4");
    REQUIRE(e.steps.size() == 1);
    REQUIRE(e.steps[0].sa);
    CHECK(e.steps[0].sa->id.spi == 0x200);
    CHECK(e.steps[0].owner == "narrow");
    CHECK(e.summary == "protected by tunnel narrow: esp spi 0x00000200 (tunnel mode)");
    auto wide = explain(out("10.1.0.1", "10.2.5.9"), h.kernel, h.ledger);
    CHECK(wide.policy_owner == "wide");
}

TEST_CASE("no policy: in clear, or dropped when the default policy blocks")
{
    Host h;
    auto e = explain(out("10.1.0.1", "10.9.0.1"), h.kernel, h.ledger);
    CHECK(e.verdict == Verdict::clear_no_policy);
    h.kernel.defaults = netlink::DefaultPolicy{XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_BLOCK};
    CHECK(explain(out("10.1.0.1", "10.9.0.1"), h.kernel, h.ledger).verdict == Verdict::dropped_default);
}

TEST_CASE("a policy whose SA is missing drops the packet")
{
    Host h;
    h.install(plan::compile_tunnel(tunnel("down", "10.2.0.0/24", 0x300), 3, {}), false);
    auto e = explain(out("10.1.0.1", "10.2.0.1"), h.kernel, h.ledger);
    CHECK(e.verdict == Verdict::dropped_no_sa);
    REQUIRE(e.steps.size() == 1);
    CHECK_FALSE(e.steps[0].sa);
}

TEST_CASE("a bypass lets the flow through in clear; protocol and ports must match")
{
    Host h;
    h.install(plan::compile_tunnel(tunnel("site", "10.2.0.0/24", 0x400), 4, {}));
    model::HostSettings host;
    model::Bypass ssh;
    ssh.local = {*Prefix::parse("10.1.0.0/24")};
    ssh.remote = {*Prefix::parse("10.2.0.0/24")};
    ssh.traffic = model::Traffic{IPPROTO_TCP, 0, 22};
    ssh.priority = 10;
    host.bypass.push_back(ssh);
    h.install(plan::compile_host(host));
    CHECK(explain(out("10.1.0.1", "10.2.0.1", IPPROTO_TCP, 22), h.kernel, h.ledger).verdict == Verdict::bypassed);
    CHECK(explain(out("10.1.0.1", "10.2.0.1", IPPROTO_TCP, 80), h.kernel, h.ledger).verdict == Verdict::protected_);
    CHECK(explain(out("10.1.0.1", "10.2.0.1", IPPROTO_UDP, 22), h.kernel, h.ledger).verdict == Verdict::protected_);
    auto e = explain(out("10.1.0.1", "10.2.0.1", IPPROTO_TCP, 22), h.kernel, h.ledger);
    CHECK(e.why.find("set explicitly") != std::string::npos);
}

TEST_CASE("inbound: the peer's SA, towards us")
{
    Host h;
    h.install(plan::compile_tunnel(tunnel("site", "10.2.0.0/24", 0x500), 5, {}));
    Flow f = out("10.2.0.1", "10.1.0.1");
    f.dir = netlink::Direction::in;
    auto e = explain(f, h.kernel, h.ledger);
    REQUIRE(e.steps.size() == 1);
    REQUIRE(e.steps[0].sa);
    CHECK(e.steps[0].sa->id.spi == 0x501);
}

TEST_CASE("a negotiated tunnel: charon's policy ahead of the tunnel's own, and the SA its template pins")
{
    model::Tunnel t = tunnel("site", "10.2.0.0/24", 0x100);
    t.ikev2.emplace();
    t.generations.clear(); // charon's keys
    Host h;
    h.install(plan::compile_tunnel(t, 7, {}));
    netlink::PolicyEntry charons = h.kernel.policies.at(0); // out
    REQUIRE(charons.id.selector.user == plan::kFloorSelectorUser);
    charons.id.selector.user = 0;
    charons.priority -= 1;
    charons.templates.at(0).spi = 0x300;
    charons.index = 99;
    h.kernel.policies.push_back(charons);
    for (auto [spi, added] : {std::pair{0x300u, 10u}, std::pair{0x400u, 20u}}) { // the old SA and the rekeyed one
        netlink::SaEntry sa;
        sa.id.daddr = *IpAddress::parse("192.0.2.2");
        sa.id.spi = spi;
        sa.id.proto = IPPROTO_ESP;
        sa.saddr = *IpAddress::parse("192.0.2.1");
        sa.mode = netlink::Mode::tunnel;
        sa.reqid = 7;
        sa.counters.add_time = added;
        h.kernel.sas.push_back(std::move(sa));
    }
    auto e = explain(out("10.1.0.1", "10.2.0.9"), h.kernel, h.ledger);
    CHECK(e.verdict == Verdict::protected_);
    CHECK(e.charon_policy);
    CHECK(e.policy_owner == "site");
    CHECK(e.why == "priority 175423: charon's, one ahead of the tunnel's own policy");
    REQUIRE(e.also_matched.size() == 1); // the tunnel's own, behind
    CHECK(e.also_matched[0].id.selector.user == plan::kFloorSelectorUser);
    REQUIRE(e.steps.size() == 1);
    REQUIRE(e.steps[0].sa);
    CHECK(e.steps[0].sa->id.spi == 0x300); // pinned, though 0x400 is newer
    CHECK(e.steps[0].negotiated);
    CHECK(e.summary == "protected by tunnel site (charon's policy, ahead of the tunnel's own): esp spi 0x00000300 (tunnel mode)");
}
