// Reads the definitions: one JSON file, or a directory whose *.json files
// are read in name order and merged.
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/util/result.hpp"

#include <filesystem>

namespace xfrmctl::model {

// Every failure is one message naming the file, the JSON path and what is
// wrong. Key files are not read here (see keys.hpp).
Result<Definitions> load_definitions(const std::filesystem::path& path);

} // namespace xfrmctl::model
