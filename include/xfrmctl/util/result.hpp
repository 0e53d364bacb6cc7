// Errors as values: every fallible function returns Result<T>; the error is
// turned into a message once, at the program's edge.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace xfrmctl {

struct Error {
    std::string message;
    int errnum = 0; // the errno behind it, when there is one

    static Error from_errno(std::string what, int err);
};

template <typename T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(std::string message, int errnum = 0)
{
    return std::unexpected(Error{std::move(message), errnum});
}

inline std::unexpected<Error> fail(Error error)
{
    return std::unexpected(std::move(error));
}

} // namespace xfrmctl
