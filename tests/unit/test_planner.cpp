// The planner on its own: desired tunnels, kernel tables, ledger and key
// history in; changes out. No kernel, no files.
#include "xfrmctl/engine/status.hpp"
#include "xfrmctl/plan/planner.hpp"
#include "xfrmctl/report/render.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstring>
#include <functional>
#include <sstream>

using namespace xfrmctl;
using namespace xfrmctl::plan;

namespace {

model::Tunnel tunnel(const std::string& name, std::uint32_t spi_base, const char* proposal = "aes256gcm16")
{
    model::Tunnel t;
    t.generations.emplace_back(); // one generation, sending
    t.name = name;
    t.file = "defs.json";
    t.mode = netlink::Mode::tunnel;
    t.local = {*IpAddress::parse("192.0.2.1"), {*Prefix::parse("10.1." + std::to_string(spi_base % 250) + ".0/24")}};
    t.remote = {*IpAddress::parse("192.0.2.2"), {*Prefix::parse("10.2.0.0/24")}};
    t.esp_proposal = model::find_proposal(proposal);
    t.generations.at(0).outbound.esp = model::KeyRef{spi_base + 1, "out", "out", t.path() + "/keying/outbound"};
    t.generations.at(0).inbound.esp = model::KeyRef{spi_base + 2, "in", "in", t.path() + "/keying/inbound"};
    return t;
}

model::KeyRing keys_for(const model::Tunnel& t, std::uint8_t fill)
{
    model::KeyRing ring;
    std::size_t size = t.esp_proposal->key_file_bytes();
    for (const auto* ref : {&*t.generations.at(0).outbound.esp, &*t.generations.at(0).inbound.esp}) {
        Secret key(size);
        std::memset(key.data(), fill++, size);
        ring.add(ref->path, std::move(key));
    }
    return ring;
}

// The kernel as it would be after a plan went in: every SA and policy desired.
netlink::Tables kernel_with(std::initializer_list<std::reference_wrapper<const DesiredTunnel>> desired)
{
    netlink::Tables k;
    for (const DesiredTunnel& d : desired) {
        for (const auto& sa : d.sas)
            k.sas.push_back(sa.entry.clone());
        for (const auto& p : d.policies)
            k.policies.push_back(p.entry);
    }
    return k;
}

void own(state::Ledger& ledger, const DesiredTunnel& d)
{
    auto& owned = ledger.at(d.name);
    owned.reqid = d.reqid;
    for (const auto& sa : d.sas)
        owned.sas.insert(sa.entry.id.key());
    for (const auto& p : d.policies)
        owned.policies.insert(p.entry.id.key());
    ledger.reindex();
}

struct World {
    std::vector<DesiredTunnel> desired;
    std::set<std::string> absent;
    state::Ledger ledger;
    netlink::Tables kernel;
    state::KeyHistory history = *state::KeyHistory::load("/nonexistent-for-tests");

    LinkSnapshot links;

    Plan plan() const { return make_plan({desired, absent, ledger, kernel, history, links}); }
};

// A world in which the tunnel was applied: the kernel holds it, we own it.
World applied(const model::Tunnel& t, const model::KeyRing& keys)
{
    World w;
    w.desired.push_back(compile_tunnel(t, 77, {.keys = &keys}));
    w.kernel = kernel_with({w.desired[0]});
    own(w.ledger, w.desired[0]);
    return w;
}

int count(const TunnelPlan& t, Op op)
{
    return static_cast<int>(std::count_if(t.changes.begin(), t.changes.end(), [&](const Change& c) { return c.op == op; }));
}

// The tunnel applied, then its kernel entries to be changed behind our back.
World drifted()
{
    auto t = tunnel("a", 0x1000);
    return applied(t, keys_for(t, 1));
}

std::string printed(const Plan& p, bool diff)
{
    std::ostringstream out;
    report::print_plan(out, p, nullptr, diff);
    return out.str();
}

} // namespace

TEST_CASE("an empty kernel gets every SA, then every policy")
{
    auto t = tunnel("a", 0x1000);
    auto keys = keys_for(t, 1);
    World w;
    w.desired.push_back(compile_tunnel(t, 77, {.keys = &keys}));
    Plan p = w.plan();
    REQUIRE(p.tunnels.size() == 1);
    const auto& tp = p.tunnels[0];
    CHECK(count(tp, Op::add_sa) == 2);
    CHECK(count(tp, Op::add_policy) == 3); // out, in, fwd
    CHECK(tp.changes[0].op == Op::add_sa);
    CHECK(tp.changes[1].op == Op::add_sa);
    CHECK(tp.changes[2].op == Op::add_policy);
    CHECK(tp.changes[0].aead);
    CHECK_FALSE(tp.changes[0].key_fingerprint.empty());
    CHECK(p.has_changes());
    CHECK_FALSE(p.has_refusals());
}

TEST_CASE("a kernel that already matches gets nothing")
{
    auto t = tunnel("a", 0x1000);
    auto keys = keys_for(t, 1);
    World w = applied(t, keys);
    Plan p = w.plan();
    CHECK_FALSE(p.has_changes());
    CHECK(p.tunnels[0].changes.empty());
}

TEST_CASE("a changed key replaces only that SA: the old one goes first, in the same phase")
{
    auto t = tunnel("a", 0x1000);
    auto keys = keys_for(t, 1);
    World w = applied(t, keys);
    auto new_keys = keys_for(t, 1);
    Secret other(36);
    std::memset(other.data(), 9, 36);
    new_keys.add(t.generations.at(0).outbound.esp->path, std::move(other));
    w.desired[0] = compile_tunnel(t, 77, {.keys = &new_keys});
    Plan p = w.plan();
    const auto& tp = p.tunnels[0];
    REQUIRE(tp.changes.size() == 2);
    CHECK(tp.changes[0].op == Op::remove_sa);
    CHECK(tp.changes[0].phase == 1);
    CHECK(tp.changes[1].op == Op::add_sa);
    CHECK(tp.changes[1].sa->id.spi == 0x1001);
}

TEST_CASE("offload asked for, changed or dropped: that tunnel's SAs are replaced, its policies and other tunnels untouched")
{
    auto a = tunnel("a", 0x1000);
    auto b = tunnel("b", 0x2000);
    auto keys_a = keys_for(a, 1);
    auto keys_b = keys_for(b, 7);
    World w;
    w.desired.push_back(compile_tunnel(a, 77, {.keys = &keys_a}));
    w.desired.push_back(compile_tunnel(b, 78, {.keys = &keys_b}));
    w.kernel = kernel_with({w.desired[0], w.desired[1]});
    own(w.ledger, w.desired[0]);
    own(w.ledger, w.desired[1]);
    KernelTraits traits;
    traits.offload_devices = {{"eth0", 4}, {"eth1", 6}};
    auto plan_with = [&](std::optional<model::Offload> offload) {
        a.offload = offload;
        w.desired[0] = compile_tunnel(a, 77, {.keys = &keys_a, .traits = traits});
        return w.plan();
    };
    for (auto offload : {std::optional(model::Offload{"eth0", false}), std::optional(model::Offload{"eth1", false}),
                         std::optional(model::Offload{"eth0", true})}) {
        Plan p = plan_with(offload);
        REQUIRE(p.tunnels.size() == 2);
        CHECK(p.tunnels[1].changes.empty()); // b
        const auto& tp = p.tunnels[0];
        REQUIRE(tp.changes.size() == 4);
        CHECK(count(tp, Op::remove_sa) == 2);
        CHECK(count(tp, Op::add_sa) == 2);
        CHECK(tp.changes[0].reason == "replaced: its offload changed");
        // Applied: the kernel reports it (without the IPv6 flag); nothing more to do.
        w.kernel = kernel_with({w.desired[0], w.desired[1]});
        CHECK_FALSE(w.plan().has_changes());
    }
    Plan back = plan_with(std::nullopt);
    CHECK(count(back.tunnels[0], Op::add_sa) == 2);
    CHECK(back.tunnels[1].changes.empty());
}

TEST_CASE("a new SPI adds the new SA before the old one is removed (make before break)")
{
    auto t = tunnel("a", 0x1000);
    auto keys = keys_for(t, 1);
    World w = applied(t, keys);
    t.generations.at(0).outbound.esp->spi = 0x1005; // same key material, new SPI
    w.desired[0] = compile_tunnel(t, 77, {.keys = &keys});
    Plan p = w.plan();
    const auto& tp = p.tunnels[0];
    REQUIRE(tp.changes.size() == 2);
    CHECK(tp.changes.front().op == Op::add_sa);
    CHECK(tp.changes.front().sa->id.spi == 0x1005);
    CHECK(tp.changes.front().phase == 1);
    CHECK(tp.changes.back().op == Op::remove_sa);
    CHECK(tp.changes.back().phase == 2);
    CHECK(tp.changes.back().sa->id.spi == 0x1001);
}

TEST_CASE("an entry someone else made blocks the tunnel that wants its place, and only that tunnel")
{
    auto a = tunnel("a", 0x1000), b = tunnel("b", 0x2000);
    auto ka = keys_for(a, 1), kb = keys_for(b, 3);
    World w;
    w.desired.push_back(compile_tunnel(a, 77, {.keys = &ka}));
    w.desired.push_back(compile_tunnel(b, 78, {.keys = &kb}));
    w.kernel.sas.push_back(w.desired[0].sas[1].entry.clone()); // a foreign SA in a's place
    Plan p = w.plan();
    CHECK(p.tunnels[0].blocked());
    CHECK(p.tunnels[0].refusals[0].find("did not install") != std::string::npos);
    CHECK_FALSE(p.tunnels[1].blocked());
    CHECK(count(p.tunnels[1], Op::add_sa) == 2);
    CHECK(p.has_refusals());
}

TEST_CASE("a negotiated tunnel: charon's policies beside its own are expected; anyone else's in their place blocks it")
{
    auto t = tunnel("n", 0x4000);
    t.ikev2.emplace();
    t.generations.clear();
    World w = applied(t, {});
    auto charons_place = [&](std::uint32_t reqid) { // the out policy without the floor's mark
        netlink::PolicyEntry p = w.desired[0].policies.at(0).entry;
        p.id.selector.user = 0;
        p.priority -= 1;
        p.templates.at(0).reqid = reqid;
        p.templates.at(0).spi = 0x4444;
        return p;
    };
    w.kernel.policies.push_back(charons_place(77)); // charon's, for this tunnel
    Plan as_it_should_be = w.plan();
    REQUIRE(as_it_should_be.tunnels.size() == 1);
    CHECK_FALSE(as_it_should_be.tunnels[0].blocked());
    CHECK(as_it_should_be.tunnels[0].changes.empty());
    w.kernel.policies.back() = charons_place(5); // another tunnel's, or a hand-made one
    Plan taken = w.plan();
    REQUIRE(taken.tunnels.size() == 1);
    REQUIRE(taken.tunnels[0].blocked());
    CHECK(taken.tunnels[0].refusals[0].find("neither xfrmctl nor charon installed") != std::string::npos);
}

TEST_CASE("foreign entries that nobody wants are never removed")
{
    World w;
    auto t = tunnel("x", 0x3000);
    auto keys = keys_for(t, 1);
    auto foreign = compile_tunnel(t, 99, {.keys = &keys});
    w.kernel = kernel_with({foreign}); // not in the ledger
    Plan p = w.plan();
    CHECK(p.tunnels.empty());
}

TEST_CASE("a tunnel no longer defined has what it owns removed, SAs before policies")
{
    auto t = tunnel("gone", 0x4000);
    auto keys = keys_for(t, 1);
    World w;
    auto d = compile_tunnel(t, 80, {.keys = &keys});
    w.kernel = kernel_with({d});
    own(w.ledger, d);
    Plan p = w.plan();
    REQUIRE(p.tunnels.size() == 1);
    const auto& tp = p.tunnels[0];
    CHECK(tp.removal);
    CHECK(count(tp, Op::remove_sa) == 2);
    CHECK(count(tp, Op::remove_policy) == 3);
    CHECK(tp.changes[0].op == Op::remove_sa);
    CHECK(tp.changes.back().op == Op::remove_policy);
    for (const auto& c : tp.changes)
        CHECK(c.phase == 2);
}

TEST_CASE("an owned entry already gone from the kernel is only forgotten")
{
    auto t = tunnel("gone", 0x4000);
    auto keys = keys_for(t, 1);
    World w;
    own(w.ledger, compile_tunnel(t, 80, {.keys = &keys}));
    w.absent.insert("gone");
    Plan p = w.plan();
    REQUIRE(p.tunnels.size() == 1);
    CHECK(p.tunnels[0].changes.empty());
    CHECK(p.tunnels[0].stale.size() == 5);
}

TEST_CASE("a used AEAD key is left out with an error, and the tunnel's policies still go in")
{
    auto t = tunnel("a", 0x1000);
    auto keys = keys_for(t, 1);
    World w;
    w.desired.push_back(compile_tunnel(t, 77, {.keys = &keys}));
    Plan first = w.plan();
    w.history.record_pending(first.tunnels[0].changes[0].key_fingerprint, "a", "sa");
    w.history.confirm(first.tunnels[0].changes[0].key_fingerprint);
    Plan p = w.plan();
    const auto& tp = p.tunnels[0];
    CHECK_FALSE(tp.blocked());
    REQUIRE(tp.errors.size() == 1);
    CHECK(tp.errors[0].find("roll the key") != std::string::npos);
    CHECK(count(tp, Op::add_sa) == 1); // the inbound one, whose key is new
    CHECK(count(tp, Op::add_policy) == 3);
    CHECK(p.has_refusals());
}

TEST_CASE("a used non-AEAD key is installed with a warning")
{
    auto t = tunnel("a", 0x1000, "aes256-sha256");
    auto keys = keys_for(t, 1);
    World w;
    w.desired.push_back(compile_tunnel(t, 77, {.keys = &keys}));
    Plan first = w.plan();
    w.history.record_pending(first.tunnels[0].changes[0].key_fingerprint, "a", "sa");
    w.history.confirm(first.tunnels[0].changes[0].key_fingerprint);
    Plan p = w.plan();
    CHECK(p.tunnels[0].errors.empty());
    CHECK(p.tunnels[0].warnings.size() == 1);
    CHECK(count(p.tunnels[0], Op::add_sa) == 2);
}

TEST_CASE("an SA whose hard lifetime ran out is never installed again, whatever its algorithm")
{
    auto t = tunnel("a", 0x1000, "aes256-sha256");
    auto keys = keys_for(t, 1);
    World w;
    w.desired.push_back(compile_tunnel(t, 77, {.keys = &keys}));
    std::string expired = w.desired[0].sas[0].entry.id.key();
    w.ledger.expire(expired);
    Plan p = w.plan();
    const auto& tp = p.tunnels[0];
    REQUIRE(tp.errors.size() == 1);
    CHECK(tp.errors[0].find("hard lifetime ran out") != std::string::npos);
    CHECK(count(tp, Op::add_sa) == 1); // only the other one
    CHECK(tp.changes[0].sa->id.key() != expired);
    CHECK(count(tp, Op::add_policy) == 3); // the traffic is dropped, not sent in clear
}

TEST_CASE("a changed priority updates the policy in place and keeps what to undo")
{
    auto t = tunnel("a", 0x1000);
    auto keys = keys_for(t, 1);
    World w = applied(t, keys);
    t.priority = 42;
    w.desired[0] = compile_tunnel(t, 77, {.keys = &keys});
    Plan p = w.plan();
    const auto& tp = p.tunnels[0];
    CHECK(count(tp, Op::update_policy) == 3);
    CHECK(tp.changes.size() == 3);
    CHECK(tp.changes[0].before->priority != 42);
    CHECK(tp.changes[0].policy->priority == 42);
}

TEST_CASE("entries owned under an old name are adopted, not reinstalled")
{
    auto t = tunnel("old", 0x1000);
    auto keys = keys_for(t, 1);
    World w;
    auto d = compile_tunnel(t, 77, {.keys = &keys});
    w.kernel = kernel_with({d});
    own(w.ledger, d);
    t.name = "new";
    w.desired.push_back(compile_tunnel(t, 77, {.keys = &keys}));
    Plan p = w.plan();
    REQUIRE(p.tunnels.size() == 2);
    CHECK(p.tunnels[0].name == "new");
    CHECK(p.tunnels[0].changes.empty());
    CHECK(p.tunnels[0].adopted_sas.size() == 2);
    CHECK(p.tunnels[0].adopted_policies.size() == 3);
    CHECK(p.tunnels[1].name == "old");
    CHECK(p.tunnels[1].changes.empty()); // nothing of it is removed: "new" wants it all
}

TEST_CASE("down removes only the named tunnel's entries")
{
    auto a = tunnel("a", 0x1000), b = tunnel("b", 0x2000);
    auto ka = keys_for(a, 1), kb = keys_for(b, 3);
    auto da = compile_tunnel(a, 77, {.keys = &ka}), db = compile_tunnel(b, 78, {.keys = &kb});
    state::Ledger ledger;
    own(ledger, da);
    own(ledger, db);
    Plan p = plan_removal({"b"}, ledger, kernel_with({da, db}), LinkSnapshot{});
    REQUIRE(p.tunnels.size() == 1);
    CHECK(p.tunnels[0].changes.size() == 5);
    for (const auto& c : p.tunnels[0].changes)
        CHECK((c.is_sa() ? c.sa->id.spi == 0x2001 || c.sa->id.spi == 0x2002 : c.policy->templates[0].reqid == 78));
}

TEST_CASE("reqids are kept, scattered, and never one that the kernel already uses")
{
    state::Ledger ledger;
    ledger.at("kept").reqid = 1234;
    ledger.reindex();
    netlink::Tables kernel;
    auto first = assign_reqids({"kept", "fresh"}, ledger, kernel);
    CHECK(first["kept"] == 1234);
    CHECK(first["fresh"] >= 0x10000000u);
    netlink::SaEntry taken;
    taken.reqid = first["fresh"];
    kernel.sas.push_back(std::move(taken));
    auto second = assign_reqids({"fresh"}, ledger, kernel);
    CHECK(second["fresh"] != first["fresh"]);
    auto again = assign_reqids({"fresh"}, ledger, netlink::Tables{});
    CHECK(again["fresh"] == first["fresh"]); // derived from the name: stable
}

TEST_CASE("automatic priorities put narrower selectors first")
{
    netlink::Selector wide, narrow, with_port;
    wide.src = *Prefix::parse("10.0.0.0/8");
    wide.dst = *Prefix::parse("10.2.0.0/16");
    narrow.src = *Prefix::parse("10.1.0.0/24");
    narrow.dst = *Prefix::parse("10.2.0.0/24");
    with_port = narrow;
    with_port.proto = IPPROTO_TCP;
    with_port.dport = 179;
    with_port.dport_mask = 0xffff;
    CHECK(automatic_priority(narrow) < automatic_priority(wide));
    CHECK(automatic_priority(with_port) < automatic_priority(narrow));
    netlink::Selector host6;
    host6.src = *Prefix::parse("2001:db8::1/128");
    host6.dst = *Prefix::parse("2001:db8::2/128");
    host6.proto = IPPROTO_TCP;
    host6.sport_mask = host6.dport_mask = 0xffff;
    CHECK(automatic_priority(host6) > 0);
    CHECK(automatic_priority(host6) < automatic_priority(with_port));
}

// The host's plan for these tunnels, against a kernel whose SPD is `spd`.
HostPlan host_plan_for(const std::vector<model::Tunnel>& tunnels, const netlink::SpdInfo& spd = {})
{
    std::vector<DesiredTunnel> desired;
    for (std::size_t i = 0; i < tunnels.size(); ++i) {
        auto keys = keys_for(tunnels[i], static_cast<std::uint8_t>(2 * i + 1));
        desired.push_back(compile_tunnel(tunnels[i], static_cast<std::uint32_t>(77 + i), {.keys = &keys}));
    }
    netlink::Tables kernel;
    kernel.defaults = netlink::DefaultPolicy{};
    kernel.spd = spd;
    return plan_host(std::nullopt, desired, kernel, state::Ledger{});
}

TEST_CASE("host: thresholds are lowered to the narrowest wanted prefixes, never raised")
{
    auto t = tunnel("a", 0x1000); // 10.1.x.0/24 <-> 10.2.0.0/24
    HostPlan h = host_plan_for({t});
    REQUIRE(h.thresholds.size() == 1);
    CHECK(h.thresholds[0].family == AF_INET);
    CHECK(h.thresholds[0].after == netlink::HashThresholds{24, 24});
    netlink::SpdInfo lower;
    lower.ipv4 = {16, 8};
    CHECK(host_plan_for({t}, lower).thresholds.empty());
}

TEST_CASE("host: the thresholds follow the tunnels that need them, and only those")
{
    auto narrow = tunnel("narrow", 0x1000); // 10.1.x.0/24 <-> 10.2.0.0/24
    auto wide = tunnel("wide", 0x2000);
    wide.local.subnets = {*Prefix::parse("10.3.0.0/16")};
    wide.remote.subnets = {*Prefix::parse("10.4.0.0/20")};
    HostPlan h = host_plan_for({narrow, wide});
    REQUIRE(h.thresholds.size() == 1);
    const ThresholdChange& v4 = h.thresholds[0];
    CHECK(v4.after == netlink::HashThresholds{16, 20});
    REQUIRE(v4.needs.size() == 2);
    CHECK(v4.needed_by([](const std::string&) { return true; }) == v4.after);
    CHECK(v4.needed_by([](const std::string& name) { return name == "narrow"; }) == netlink::HashThresholds{24, 24});
    CHECK(v4.needed_by([](const std::string&) { return false; }) == v4.before);
}

TEST_CASE("host: a default policy is set, its predecessor kept, and put back when no longer asked")
{
    model::HostSettings host;
    host.file = "h.json";
    host.default_policy = netlink::DefaultPolicy{XFRM_USERPOLICY_BLOCK, XFRM_USERPOLICY_BLOCK, XFRM_USERPOLICY_BLOCK};
    netlink::Tables kernel;
    kernel.defaults = netlink::DefaultPolicy{XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_ACCEPT};
    state::Ledger ledger;
    HostPlan set = plan_host(host, {}, kernel, ledger);
    CHECK(set.default_after == host.default_policy);
    CHECK(set.save_default);
    CHECK(set.default_before == kernel.defaults);
    ledger.save_default(kernel.defaults);
    kernel.defaults = host.default_policy;
    CHECK_FALSE(plan_host(host, {}, kernel, ledger).changes());
    HostPlan restore = plan_host(std::nullopt, {}, kernel, ledger);
    CHECK(restore.default_after == netlink::DefaultPolicy{XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_ACCEPT, XFRM_USERPOLICY_ACCEPT});
    CHECK(restore.forget_default);
    kernel.defaults.reset(); // before Linux 5.16
    CHECK(plan_host(host, {}, kernel, ledger).errors.size() == 1);
}

TEST_CASE("host: a bypass is an allow policy without templates, in every direction")
{
    model::HostSettings host;
    host.file = "h.json";
    model::Bypass b;
    b.local = {*Prefix::parse("0.0.0.0/0")};
    b.remote = {*Prefix::parse("192.0.2.2/32"), *Prefix::parse("2001:db8::/32")};
    b.traffic = model::Traffic{IPPROTO_TCP, 22, 0};
    b.path = "/host/bypass/0";
    host.bypass.push_back(b);
    DesiredTunnel d = compile_host(host);
    CHECK(d.name == kHostTunnel);
    REQUIRE(d.policies.size() == 3); // the IPv6 remote has no IPv4 local to pair with
    for (const auto& p : d.policies) {
        CHECK(p.entry.templates.empty());
        CHECK(p.entry.action == XFRM_POLICY_ALLOW);
    }
    CHECK(d.policies[0].entry.id.selector.sport == 22); // out: our port is the source
    CHECK(d.policies[1].entry.id.selector.dport == 22); // in: our port is the destination
}

TEST_CASE("plan names what differs in a replaced SA and an updated policy")
{
    World w = drifted();
    w.kernel.sas[0].if_id = 5;
    w.kernel.policies[0].priority += 1;
    plan::Plan p = w.plan();
    std::string text = printed(p, true);
    CAPTURE(text);
    CHECK(text.find("if_id 5  (replaced: its if_id changed)") != std::string::npos);
    CHECK(text.find("(its priority changed)") != std::string::npos);
    CHECK(report::plan_json(p, nullptr)["changes"][0]["reason"] == "replaced: its if_id changed");
}

TEST_CASE("status names the fields in which an SA or a policy differs from the definition")
{
    World w = drifted();
    w.kernel.sas[1].limits.hard_add_seconds = 60;
    w.kernel.sas[1].output_mark = netlink::Mark{1, 0xff};
    model::Definitions defs;
    defs.tunnels.push_back(tunnel("a", 0x1000));
    plan::LinkSnapshot links;
    std::set<std::uint16_t> ports;
    state::Observations seen;
    auto status = engine::tunnel_status({defs, w.ledger, w.kernel, links, {}, ports}, seen, 1000);
    REQUIRE(status.size() == 1);
    CHECK(status[0].health == engine::Health::degraded);
    CHECK(status[0].reason == "SA spi 0x00001002 differs from the definition in its lifetime and output mark (run apply)");

    World v = drifted();
    v.kernel.policies[0].priority += 1;
    status = engine::tunnel_status({defs, v.ledger, v.kernel, links, {}, ports}, seen, 1000);
    CHECK(status[0].reason.find("differs from the definition in its priority (run apply)") != std::string::npos);
}
