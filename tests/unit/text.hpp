// Text checks the unit tests share.
#pragma once

#include <string_view>

namespace xfrmctl::test {

inline bool contains(std::string_view text, std::string_view part)
{
    return text.find(part) != std::string_view::npos;
}

}
