// Reads the "host" object of a definition file (private to src/model).
#pragma once

#include "fields.hpp"
#include "xfrmctl/model/definition.hpp"

namespace xfrmctl::model {

Parsed<HostSettings> read_host(const json& host, const std::string& file);

} // namespace xfrmctl::model
