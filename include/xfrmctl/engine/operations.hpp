// The operations that change the kernel, shared by xfrmctl (alone) and
// xfrmd (which holds the state and the kernel handles for its lifetime).
#pragma once

#include "xfrmctl/engine/executor.hpp"
#include "xfrmctl/engine/planning.hpp"
#include "xfrmctl/netlink/links.hpp"
#include "xfrmctl/state/store.hpp"

#include <optional>
#include <vector>

namespace xfrmctl::engine {

// What a writer of the kernel holds; whoever has one holds the state lock.
struct Writer {
    state::Store& store;
    netlink::Kernel& kernel;
    netlink::Links& links;
};

struct Outcome {
    plan::Plan plan;
    std::optional<ApplyReport> report; // nullopt when nothing was carried out
};

// Nothing for the kernel and nothing to note: then nothing is written at all.
bool idle(const plan::Plan& plan);

// Reads the kernel as it is now, plans against the definitions at `now`,
// and (unless check) carries the plan out.
Result<Outcome> apply(const Definitions& defs, Writer& w, const plan::KernelTraits& traits, std::int64_t now, bool check,
                      const std::set<std::string>& held_down = {});

// Removes every owned entry of the named tunnels.
Result<Outcome> take_down(const std::vector<std::string>& names, Writer& w);

} // namespace xfrmctl::engine
