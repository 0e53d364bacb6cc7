// What a definition needs of the kernel against what the probe found: a
// route-based tunnel on a link kind the kernel lacks is refused. (The UML
// test kernel has every kind, so only here can one be taken away.)
#include "xfrmctl/engine/capabilities.hpp"

#include <doctest/doctest.h>

using namespace xfrmctl;

namespace {

model::Definitions route_based(std::optional<netlink::LinkKind> kind)
{
    model::Tunnel t;
    t.name = "route";
    t.file = "/defs/route.json";
    t.mode = netlink::Mode::tunnel;
    t.local = {*IpAddress::parse("192.0.2.1"), {*Prefix::parse("10.1.0.0/24")}};
    t.remote = {*IpAddress::parse("192.0.2.2"), {*Prefix::parse("10.2.0.0/24")}};
    t.interface = model::Interface{"ipsec0", kind, 42, {}, {}, 0};
    model::Definitions defs;
    defs.tunnels.push_back(t);
    return defs;
}

std::string refusal(const model::Definitions& defs, const engine::Capabilities& caps)
{
    auto s = engine::check_support(defs, caps);
    return s ? "" : s.error().message;
}

} // namespace

TEST_CASE("a route-based tunnel is refused when the kernel lacks its link kind, accepted when it has it")
{
    engine::Capabilities vti_only;
    vti_only.traits.vti = true;
    auto xfrm = route_based(netlink::LinkKind::xfrm);
    std::string message = refusal(xfrm, vti_only);
    CHECK(message.starts_with("/defs/route.json: /tunnels/route/interface: \"kind\": \"xfrm\" needs the kernel's xfrm links, "
                              "which this kernel does not have"));
    CHECK(refusal(route_based(std::nullopt), vti_only).empty()); // no kind asked for: VTI serves

    engine::Capabilities none;
    CHECK(refusal(route_based(std::nullopt), none).find("this kernel has neither XFRM interfaces (CONFIG_XFRM_INTERFACE) nor VTI") !=
          std::string::npos);

    engine::Capabilities xfrmi;
    xfrmi.traits.xfrm_interfaces = true;
    CHECK(refusal(xfrm, xfrmi).empty());
}
