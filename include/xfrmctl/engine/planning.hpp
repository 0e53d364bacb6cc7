// The steps from definitions to a plan, shared by xfrmctl and xfrmd.
#pragma once

#include "xfrmctl/model/keys.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/plan/planner.hpp"

namespace xfrmctl::engine {

struct Definitions {
    model::Definitions tunnels;
    model::KeyRing keys;
};

// Reads and checks the definitions and every key file they name.
Result<Definitions> load(const std::filesystem::path& path);

// The links the definitions name or we own, their addresses, and our routes.
Result<plan::LinkSnapshot> read_links(netlink::Links& links, const model::Definitions& defs, const state::Ledger& ledger);

// What apply would do, from the definitions, the kernel and what we own.
// `now` decides which key generation sends; tunnels in `held_down` (taken
// down through xfrmd) are planned as if marked absent.
plan::Plan plan_apply(const Definitions& defs, const netlink::Tables& kernel, const plan::LinkSnapshot& links,
                      const state::Ledger& ledger, const state::KeyHistory& history, const plan::KernelTraits& traits,
                      std::int64_t now, const std::set<std::string>& held_down = {});

} // namespace xfrmctl::engine
