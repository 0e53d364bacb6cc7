// From a tunnel to the kernel entries it needs.
#include "xfrmctl/plan/desired.hpp"

#include <doctest/doctest.h>
#include <linux/udp.h>
#include <netinet/in.h>

#include <cstring>

using namespace xfrmctl;
using netlink::Direction;
using netlink::Mode;

namespace {

model::Tunnel base(model::Protocol protocol, Mode mode)
{
    model::Tunnel t;
    t.generations.emplace_back(); // one generation, sending
    t.name = "t";
    t.mode = mode;
    t.protocol = protocol;
    t.local = {*IpAddress::parse("192.0.2.1"), {*Prefix::parse("10.1.0.0/24"), *Prefix::parse("2001:db8:1::/48")}};
    t.remote = {*IpAddress::parse("192.0.2.2"), {*Prefix::parse("10.2.0.0/24"), *Prefix::parse("2001:db8:2::/48")}};
    if (mode == Mode::transport) {
        t.local.subnets = {Prefix::host(t.local.address)};
        t.remote.subnets = {Prefix::host(t.remote.address)};
    }
    t.esp_proposal = model::find_proposal("aes256-sha512");
    t.ah_proposal = model::find_proposal("sha256");
    auto ref = [&](std::uint32_t spi, std::string path) { return model::KeyRef{spi, "f", "f", t.path() + path}; };
    if (protocol != model::Protocol::ah) {
        t.generations.at(0).outbound.esp = ref(0x101, "/keying/outbound/esp");
        t.generations.at(0).inbound.esp = ref(0x102, "/keying/inbound/esp");
    }
    if (protocol != model::Protocol::esp) {
        t.generations.at(0).outbound.ah = ref(0x201, "/keying/outbound/ah");
        t.generations.at(0).inbound.ah = ref(0x202, "/keying/inbound/ah");
    }
    return t;
}

} // namespace

TEST_CASE("tunnel mode: every same-family subnet pair gets out, in and fwd policies")
{
    auto d = plan::compile_tunnel(base(model::Protocol::esp, Mode::tunnel), 5, {});
    CHECK(d.policies.size() == 6); // IPv4 pair and IPv6 pair, three directions each
    CHECK(d.sas.size() == 2);
    const auto& out = d.policies[0].entry;
    CHECK(out.id.dir == Direction::out);
    CHECK(out.id.selector.src.str() == "10.1.0.0/24");
    CHECK(out.templates[0].saddr.str() == "192.0.2.1");
    CHECK(out.templates[0].daddr.str() == "192.0.2.2");
    CHECK(out.templates[0].reqid == 5);
    const auto& in = d.policies[1].entry;
    CHECK(in.id.dir == Direction::in);
    CHECK(in.id.selector.src.str() == "10.2.0.0/24");
    CHECK(in.templates[0].saddr.str() == "192.0.2.2");
    CHECK(d.policies[2].entry.id.dir == Direction::fwd);
    CHECK(d.policies[3].entry.id.selector.src.str() == "2001:db8:1::/48");
    CHECK(d.policies[3].entry.templates[0].family == AF_INET); // IPv6 inside IPv4
}

TEST_CASE("tunnel SAs take either inner family; only inbound SAs have a replay window")
{
    auto d = plan::compile_tunnel(base(model::Protocol::esp, Mode::tunnel), 5, {});
    const auto& out = d.sas[0].entry;
    const auto& in = d.sas[1].entry;
    CHECK(d.sas[0].outbound);
    CHECK((out.flags & XFRM_STATE_AF_UNSPEC) != 0);
    CHECK(out.replay_window == 0);
    CHECK(in.replay_window == 128);
    CHECK(out.id.daddr.str() == "192.0.2.2");
    CHECK(in.id.daddr.str() == "192.0.2.1");
    CHECK(out.crypt->name == "cbc(aes)");
    CHECK(out.auth->name == "hmac(sha512)");
    CHECK(out.auth->icv_bits == 256);
}

TEST_CASE("transport mode: no fwd policy, templates take the packet's addresses")
{
    auto d = plan::compile_tunnel(base(model::Protocol::esp, Mode::transport), 5, {});
    CHECK(d.policies.size() == 2);
    CHECK(d.policies[0].entry.templates[0].daddr.is_unspecified());
    CHECK(d.sas[0].entry.flags == 0);
}

TEST_CASE("an ah+esp bundle: ESP first (innermost), AH outside it in transport mode")
{
    auto d = plan::compile_tunnel(base(model::Protocol::ah_esp, Mode::tunnel), 5, {});
    const auto& tmpls = d.policies[0].entry.templates;
    REQUIRE(tmpls.size() == 2);
    CHECK(tmpls[0].proto == IPPROTO_ESP);
    CHECK(tmpls[0].mode == Mode::tunnel);
    CHECK(tmpls[1].proto == IPPROTO_AH);
    CHECK(tmpls[1].mode == Mode::transport);
    REQUIRE(d.sas.size() == 4);
    for (const auto& sa : d.sas)
        CHECK(sa.entry.mode == (sa.entry.id.proto == IPPROTO_AH ? Mode::transport : Mode::tunnel));
}

TEST_CASE("a key file's material is split as the proposal lays it out")
{
    auto t = base(model::Protocol::esp, Mode::transport);
    model::KeyRing keys;
    for (const char* path : {"/tunnels/t/keying/outbound/esp", "/tunnels/t/keying/inbound/esp"}) {
        Secret k(96);
        for (std::size_t i = 0; i < 96; ++i)
            k.data()[i] = static_cast<std::uint8_t>(i);
        keys.add(path, std::move(k));
    }
    auto d = plan::compile_tunnel(t, 5, {.keys = &keys});
    const auto& sa = d.sas[0].entry;
    REQUIRE(sa.crypt->key.size() == 32);
    REQUIRE(sa.auth->key.size() == 64);
    CHECK(sa.crypt->key.data()[0] == 0);
    CHECK(sa.auth->key.data()[0] == 32);
    CHECK(sa.crypt->fingerprint == netlink::fingerprint_of(sa.crypt->key.bytes()));
}

TEST_CASE("a traffic selector narrows each direction with its own ports")
{
    auto t = base(model::Protocol::esp, Mode::transport);
    t.traffic = model::Traffic{IPPROTO_TCP, 0, 179};
    auto d = plan::compile_tunnel(t, 5, {});
    const auto& out = d.policies[0].entry.id.selector;
    const auto& in = d.policies[1].entry.id.selector;
    CHECK(out.proto == IPPROTO_TCP);
    CHECK(out.dport == 179);
    CHECK(out.dport_mask == 0xffff);
    CHECK(out.sport_mask == 0);
    CHECK(in.sport == 179);
    CHECK(in.dport_mask == 0);
}

TEST_CASE("an explicit priority wins over the automatic one")
{
    auto t = base(model::Protocol::esp, Mode::transport);
    t.priority = 10;
    auto d = plan::compile_tunnel(t, 5, {});
    CHECK(d.policies[0].entry.priority == 10);
}

TEST_CASE("ESN: before XFRMA_SA_DIR both SAs need a window; with it the outbound one must have none")
{
    auto t = base(model::Protocol::esp, Mode::tunnel);
    t.esn = true;
    t.replay_window = 256;
    auto old_kernel = plan::compile_tunnel(t, 5, {});
    CHECK((old_kernel.sas[0].entry.flags & XFRM_STATE_ESN) != 0);
    CHECK(old_kernel.sas[0].entry.replay_window == 256);
    CHECK(old_kernel.sas[0].entry.dir == 0);
    plan::KernelTraits traits;
    traits.sa_dir = true;
    auto new_kernel = plan::compile_tunnel(t, 5, {.traits = traits});
    CHECK(new_kernel.sas[0].entry.replay_window == 0);
    CHECK(new_kernel.sas[0].entry.dir == 2);
    CHECK(new_kernel.sas[1].entry.replay_window == 256);
    CHECK(new_kernel.sas[1].entry.dir == 1);
}

TEST_CASE("ESP in UDP: each SA carries the ports as its packets do")
{
    auto t = base(model::Protocol::esp, Mode::tunnel);
    t.encapsulation = model::Encapsulation{4500, 4501};
    auto d = plan::compile_tunnel(t, 5, {});
    const auto& out = *d.sas[0].entry.encap;
    const auto& in = *d.sas[1].entry.encap;
    CHECK(out.type == UDP_ENCAP_ESPINUDP);
    CHECK(out.sport == 4500);
    CHECK(out.dport == 4501);
    CHECK(in.sport == 4501);
    CHECK(in.dport == 4500);
}

TEST_CASE("lifetimes go on both SAs; an output mark on the outbound one; a mark on everything")
{
    auto t = base(model::Protocol::esp, Mode::tunnel);
    t.limits.soft_bytes = 1000;
    t.limits.hard_bytes = 2000;
    t.mark = netlink::Mark{7, 0xff};
    t.output_mark = netlink::Mark{9, 0xffffffff};
    auto d = plan::compile_tunnel(t, 5, {});
    for (const auto& sa : d.sas) {
        CHECK(sa.entry.limits.hard_bytes == 2000);
        CHECK(sa.entry.id.mark == netlink::Mark{7, 0xff});
        CHECK(sa.entry.output_mark.is_set() == sa.outbound);
    }
    for (const auto& p : d.policies)
        CHECK(p.entry.id.mark == netlink::Mark{7, 0xff});
}

TEST_CASE("an XFRM interface binds SAs and policies by if_id; a VTI by its key as mark")
{
    auto t = base(model::Protocol::esp, Mode::tunnel);
    t.interface = model::Interface{"ipsec0", std::nullopt, 42, {*Prefix::parse("169.254.0.1/30")}, {}, 1400};
    plan::KernelTraits xfrmi;
    xfrmi.xfrm_interfaces = true;
    auto x = plan::compile_tunnel(t, 5, {.traits = xfrmi});
    REQUIRE(x.interface);
    CHECK(x.interface->link.kind == netlink::LinkKind::xfrm);
    CHECK(x.interface->link.id == 42);
    CHECK(x.interface->link.local.family == 0); // an XFRM interface has no endpoints of its own
    for (const auto& sa : x.sas) {
        CHECK(sa.entry.if_id == 42);
        CHECK_FALSE(sa.entry.id.mark.is_set());
    }
    CHECK(x.policies[0].entry.id.if_id == 42);
    CHECK(x.interface->routes.size() == 2); // the remote subnets the definition names

    plan::KernelTraits vti;
    vti.vti = true;
    t.interface->id.reset();
    auto v = plan::compile_tunnel(t, 5, {.traits = vti});
    CHECK(v.interface->link.kind == netlink::LinkKind::vti);
    CHECK(v.interface->link.id == 5); // the reqid when no id is given
    CHECK(v.interface->link.remote.str() == "192.0.2.2");
    for (const auto& sa : v.sas) {
        CHECK(sa.entry.if_id == 0);
        CHECK(sa.entry.id.mark == netlink::Mark{5, 0xffffffff});
    }
    CHECK(v.policies[0].entry.id.mark == netlink::Mark{5, 0xffffffff});
}

TEST_CASE("offload: both SAs go to the device by its ifindex, the inbound one marked inbound")
{
    auto t = base(model::Protocol::esp, Mode::tunnel);
    t.offload = model::Offload{"eth0", false};
    plan::KernelTraits traits;
    traits.offload_devices = {{"eth0", 5}};
    auto d = plan::compile_tunnel(t, 1, {.traits = traits});
    REQUIRE(d.sas.size() == 2);
    for (const auto& sa : d.sas) {
        REQUIRE(sa.entry.offload);
        CHECK(sa.entry.offload->ifindex == 5);
        CHECK(sa.entry.offload->inbound() == !sa.outbound);
        CHECK_FALSE(sa.entry.offload->packet());
        CHECK_FALSE((sa.entry.offload->flags & XFRM_OFFLOAD_IPV6)); // ignored by the kernel: never sent
    }
    t.offload->packet = true;
    CHECK(plan::compile_tunnel(t, 1, {.traits = traits}).sas[0].entry.offload->packet());
    CHECK(plan::compile_tunnel(t, 1, {}).sas[0].entry.offload->ifindex == 0); // device not found: matches nothing
    t.offload.reset();
    CHECK_FALSE(plan::compile_tunnel(t, 1, {.traits = traits}).sas[0].entry.offload);
}
