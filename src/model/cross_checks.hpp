// Checks that span tunnels: what the kernel holds once per host must be
// defined once.
#pragma once

#include "fields.hpp"
#include "xfrmctl/model/definition.hpp"

namespace xfrmctl::model {

Parsed<void> check_across_tunnels(const Definitions& defs);

// Calls `visit(ref, proto, outbound)` for each manual key of a tunnel, in
// every generation.
template <typename Visit>
void for_each_key(const Tunnel& t, Visit&& visit)
{
    for (const auto& g : t.generations)
        for (bool outbound : {true, false}) {
            const DirectionKeys& keys = outbound ? g.outbound : g.inbound;
            if (keys.ah)
                visit(*keys.ah, Protocol::ah, outbound);
            if (keys.esp)
                visit(*keys.esp, Protocol::esp, outbound);
        }
}

} // namespace xfrmctl::model
