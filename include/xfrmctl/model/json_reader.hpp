// Reads a JSON document strictly: a duplicate key is an error (a silent
// "last one wins" would hide a typo), and a syntax error names the line,
// the column and the JSON path where it happened.
#pragma once

#include "xfrmctl/model/diagnostic.hpp"

#include <nlohmann/json.hpp>

#include <expected>
#include <string>

namespace xfrmctl::model {

std::expected<nlohmann::json, Diagnostic> parse_json(const std::string& text, const std::string& file);

} // namespace xfrmctl::model
