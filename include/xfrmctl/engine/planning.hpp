// The steps from definitions to a plan, shared by xfrmctl and xfrmd.
#pragma once

#include "xfrmctl/model/keys.hpp"
#include "xfrmctl/model/loader.hpp"
#include "xfrmctl/model/warnings.hpp"
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

// What the definitions may say but most likely do not mean
// (model/warnings.hpp), with the host's addresses when `links` can read them.
std::vector<model::Warning> definition_warnings(const model::Definitions& defs, netlink::Links* links);
// Each with its tunnel's plan, so that it is printed, and put in --json, as
// the planner's own warnings are.
void add_definition_warnings(plan::Plan& plan, const std::vector<model::Warning>& warnings);

} // namespace xfrmctl::engine
