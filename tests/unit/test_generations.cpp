// Key generations: reading them, which one sends, and what a rollover plans.
#include "scratch_dir.hpp"

#include <fmt/format.h>
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/plan/planner.hpp"

#include <doctest/doctest.h>

#include <cstring>

using namespace xfrmctl;
using test::ScratchDir;

namespace {

std::string generation(const char* name, int spi, const char* send)
{
    return fmt::format(R"({{"name": "{}", {} "outbound": {{"spi": {}, "key_file": "o{}"}},
                          "inbound": {{"spi": {}, "key_file": "i{}"}}}})",
                       name, send, spi, spi, spi + 1, spi);
}

std::string definition(const std::string& generations)
{
    return R"({"version": 1, "tunnels": {"t": {"proposal": "aes256gcm16",
        "local": {"address": "192.0.2.1"}, "remote": {"address": "192.0.2.2"},
        "keying": {"method": "manual", "grace": 30, "generations": [)" +
           generations + "]}}}}";
}

model::Tunnel read(const std::string& text)
{
    ScratchDir dir;
    auto defs = model::load_definitions(dir.write("t.json", text));
    REQUIRE(defs);
    return defs->tunnels.at(0);
}

} // namespace

TEST_CASE("generations: the newest that sends is the sender; a timed one from its time")
{
    auto t = read(definition(generation("old", 256, "") + "," + generation("new", 512, R"("send": "2026-11-27T12:00:00Z",)")));
    REQUIRE(t.generations.size() == 2);
    CHECK(t.grace == 30);
    CHECK(t.generations[1].send_from == 1795780800); // 2026-11-27T12:00:00Z
    CHECK(t.sender(1795780799)->name == "old");
    CHECK(t.sender(1795780800)->name == "new");
    CHECK(t.generations[0].outbound.esp->path == "/tunnels/t/keying/generations/0/outbound");
    auto offset = read(definition(generation("x", 256, R"("send": "2026-11-27T13:00:00+01:00",)")));
    CHECK(offset.generations[0].send_from == 1795780800);
}

TEST_CASE("generations: one not yet sending only receives")
{
    auto t = read(definition(generation("old", 256, "") + "," + generation("new", 512, R"("send": false,)")));
    CHECK(t.sender(0)->name == "old");
    auto d = plan::compile_tunnel(t, 9, {});
    int outbound = 0, inbound = 0;
    for (const auto& sa : d.sas)
        (sa.outbound ? outbound : inbound)++;
    CHECK(outbound == 1);
    CHECK(inbound == 2);
    CHECK(d.sas[0].entry.id.spi == 256);
    CHECK(d.sas[0].generation == "old");
}

TEST_CASE("generations: a retired generation's inbound SA is left out")
{
    auto t = read(definition(generation("old", 256, "") + "," + generation("new", 512, "")));
    std::set<std::string> retired{plan::retirement_key("t", t.generations[0])};
    CHECK(*retired.begin() == "t/0x00000101");
    auto d = plan::compile_tunnel(t, 9, {.retired = &retired});
    REQUIRE(d.sas.size() == 2);
    CHECK(d.sas[0].entry.id.spi == 512); // the new outbound
    CHECK(d.sas[1].entry.id.spi == 513); // the new inbound, not the old one
}

TEST_CASE("a rollover, planned: receive first, then switch (make before break), then retire")
{
    auto keyed = [](const model::Tunnel& t) {
        model::KeyRing ring;
        std::uint8_t fill = 1;
        for (const auto& g : t.generations)
            for (const auto* ref : {&*g.outbound.esp, &*g.inbound.esp}) {
                Secret k(36);
                std::memset(k.data(), fill++, 36);
                ring.add(ref->path, std::move(k));
            }
        return ring;
    };
    auto one = read(definition(generation("old", 256, "")));
    auto ring1 = keyed(one);
    auto before = plan::compile_tunnel(one, 9, {.keys = &ring1});
    netlink::Tables kernel;
    state::Ledger ledger;
    for (const auto& sa : before.sas) {
        kernel.sas.push_back(sa.entry.clone());
        ledger.at("t").sas.insert(sa.entry.id.key());
    }
    ledger.reindex();
    auto history = *state::KeyHistory::load("/nonexistent-for-tests");
    plan::LinkSnapshot links;
    auto plan_for = [&](const model::Tunnel& t) {
        auto ring = keyed(t);
        std::vector<plan::DesiredTunnel> desired;
        desired.push_back(plan::compile_tunnel(t, 9, {.keys = &ring}));
        desired[0].policies.clear();
        std::set<std::string> none;
        return plan::make_plan({desired, none, ledger, kernel, history, links});
    };
    auto receiving = plan_for(read(definition(generation("old", 256, "") + "," + generation("new", 512, R"("send": false,)"))));
    REQUIRE(receiving.tunnels[0].changes.size() == 1);
    CHECK(receiving.tunnels[0].changes[0].op == plan::Op::add_sa);
    CHECK(receiving.tunnels[0].changes[0].sa->id.spi == 513); // the new inbound only
    auto sending = plan_for(read(definition(generation("old", 256, "") + "," + generation("new", 512, ""))));
    const auto& changes = sending.tunnels[0].changes;
    REQUIRE(changes.size() == 3);
    CHECK(changes[0].op == plan::Op::add_sa); // new inbound (not yet in this kernel) and new outbound...
    CHECK(changes[1].op == plan::Op::add_sa);
    CHECK(changes[2].op == plan::Op::remove_sa); // ...before the old outbound goes, in phase 2
    CHECK(changes[2].sa->id.spi == 256);
    CHECK(changes[2].phase == 2);
}
