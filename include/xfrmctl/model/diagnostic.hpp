// What is wrong with a definition, and where: the file and the JSON path
// (RFC 6901 pointer) of the offending value.
#pragma once

#include "xfrmctl/util/result.hpp"

#include <string>

namespace xfrmctl::model {

struct Diagnostic {
    std::string file;
    std::string path; // "/tunnels/branch-a/remote/address"
    std::string message;

    std::string str() const { return file + ": " + where(); }
    // The path and what is wrong there, without the file.
    std::string where() const { return (path.empty() ? "/" : path) + ": " + message; }
    Error error() const { return Error{str()}; }
    operator std::unexpected<Error>() const { return std::unexpected(error()); }
};

// Appends one reference token to a JSON pointer, escaped as RFC 6901 says.
std::string pointer_append(const std::string& pointer, const std::string& token);

} // namespace xfrmctl::model
