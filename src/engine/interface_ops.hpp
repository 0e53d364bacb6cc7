// Link, address and route changes, one at a time through libnl (private
// to the executor).
#pragma once

#include "xfrmctl/netlink/links.hpp"
#include "xfrmctl/plan/planner.hpp"

namespace xfrmctl::engine {

// A removal of something already gone counts as done.
Status apply_interface_change(netlink::Links& links, const plan::Change& c);

// The change that undoes `c`, when there is one.
std::optional<plan::Change> undo_interface_change(const plan::Change& c);

} // namespace xfrmctl::engine
