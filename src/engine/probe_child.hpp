// The forked side of probe_kernel(): runs in its own network namespace and
// reports as JSON on a pipe (a private part of capabilities.cpp).
#pragma once

#include "xfrmctl/engine/capabilities.hpp"

namespace xfrmctl::engine {

// Returns the child's exit status.
int run_probe_child(const std::vector<TransformProbe>& transforms, int out_fd);
Result<Capabilities> parse_probe_report(const std::string& text, const std::vector<TransformProbe>& transforms);

} // namespace xfrmctl::engine
