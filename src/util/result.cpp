#include "xfrmctl/util/result.hpp"

#include <cstring>

namespace xfrmctl {

Error Error::from_errno(std::string what, int err)
{
    return Error{std::move(what) + ": " + std::strerror(err), err};
}

} // namespace xfrmctl
