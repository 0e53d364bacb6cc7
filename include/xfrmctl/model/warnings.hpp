// What a definition may say but an operator most likely did not mean:
// warned about by validate, plan and apply, never refused (what can only be
// a mistake is refused by the loader). The model reads no system state: the
// host's addresses are passed in.
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/model/diagnostic.hpp"

#include <vector>

namespace xfrmctl::model {

struct Warning {
    std::string tunnel; // its name
    Diagnostic what;
};

// `host_addresses`: the addresses on this host's links, or null when they
// are not known (then a local address is not checked against them).
std::vector<Warning> definition_warnings(const Definitions& defs, const std::vector<Prefix>* host_addresses);

} // namespace xfrmctl::model
