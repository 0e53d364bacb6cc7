// Kernel notifications, built the way the kernel lays them out, parsed back.
#include "xfrmctl/netlink/events.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstring>

using namespace xfrmctl;
using namespace xfrmctl::netlink;

namespace {

SaEntry sample_sa()
{
    SaEntry sa;
    sa.id = SaId{*IpAddress::parse("192.0.2.2"), 0xabc, IPPROTO_ESP, {}};
    sa.saddr = *IpAddress::parse("192.0.2.1");
    sa.mode = Mode::tunnel;
    sa.reqid = 5;
    return sa;
}

xfrm_usersa_info info_of(const SaEntry& sa)
{
    Request r = build_sa(XFRM_MSG_NEWSA, sa);
    xfrm_usersa_info info;
    std::memcpy(&info, mnl_nlmsg_get_payload(r.header()), sizeof info);
    info.curlft.bytes = 1234;
    return info;
}

} // namespace

TEST_CASE("a new SA is an sa-added event")
{
    Request r = build_sa(XFRM_MSG_NEWSA, sample_sa());
    auto e = parse_event(r.header());
    REQUIRE(e);
    REQUIRE(e->has_value());
    CHECK((*e)->kind == EventKind::sa_added);
    CHECK((*e)->sa->id.spi == 0xabc);
}

TEST_CASE("an expiry says hard or soft and carries the SA's counters")
{
    RequestBuilder b(XFRM_MSG_EXPIRE, 0);
    auto* ue = b.put_header<xfrm_user_expire>();
    ue->state = info_of(sample_sa());
    ue->hard = 1;
    Request r = b.finish();
    auto e = parse_event(r.header());
    REQUIRE(e);
    REQUIRE(e->has_value());
    CHECK((*e)->kind == EventKind::sa_expired);
    CHECK((*e)->hard);
    CHECK((*e)->sa->counters.bytes == 1234);
    CHECK((*e)->describe().find("sa-expired hard sa 192.0.2.1 -> 192.0.2.2 esp spi 0x00000abc") == 0);
}

TEST_CASE("a deleted SA comes as its id, with the whole SA in XFRMA_SA")
{
    RequestBuilder b(XFRM_MSG_DELSA, 0);
    auto* id = b.put_header<xfrm_usersa_id>();
    id->spi = htonl(0xabc);
    xfrm_usersa_info info = info_of(sample_sa());
    b.put(XFRMA_SA, info);
    Request r = b.finish();
    auto e = parse_event(r.header());
    REQUIRE(e);
    REQUIRE(e->has_value());
    CHECK((*e)->kind == EventKind::sa_deleted);
    CHECK((*e)->sa->id.key() == sample_sa().id.key());
}

TEST_CASE("a deletion without the deleted entry is an error, not a crash")
{
    RequestBuilder b(XFRM_MSG_DELSA, 0);
    b.put_header<xfrm_usersa_id>();
    Request r = b.finish();
    CHECK_FALSE(parse_event(r.header()));
}

TEST_CASE("an acquire names the flow and the policy it hit")
{
    RequestBuilder b(XFRM_MSG_ACQUIRE, 0);
    auto* a = b.put_header<xfrm_user_acquire>();
    Selector flow;
    flow.src = *Prefix::parse("10.1.0.1/32");
    flow.dst = *Prefix::parse("10.2.0.1/32");
    a->sel = to_kernel(flow);
    a->policy.dir = XFRM_POLICY_OUT;
    a->policy.sel = to_kernel(Selector{*Prefix::parse("10.1.0.0/24"), *Prefix::parse("10.2.0.0/24")});
    Request r = b.finish();
    auto e = parse_event(r.header());
    REQUIRE(e);
    REQUIRE(e->has_value());
    CHECK((*e)->kind == EventKind::acquire);
    CHECK((*e)->flow->str() == "10.1.0.1/32 -> 10.2.0.1/32");
    CHECK((*e)->policy->id.selector.dst.str() == "10.2.0.0/24");
}

TEST_CASE("a flush of all SAs, and messages that are not events")
{
    RequestBuilder b(XFRM_MSG_FLUSHSA, 0);
    b.put_header<xfrm_usersa_flush>()->proto = 0;
    Request r = b.finish();
    auto e = parse_event(r.header());
    REQUIRE(e);
    CHECK((*e)->kind == EventKind::sas_flushed);
    RequestBuilder other(XFRM_MSG_GETSPDINFO, 0);
    other.put_header<std::uint32_t>();
    auto none = parse_event(other.finish().header());
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
}
