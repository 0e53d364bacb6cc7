// A number read back from a state file: nlohmann converts a float or an
// out-of-range value to an integer type without a check (undefined for a
// float beyond it), so the type and range are checked first.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace xfrmctl::state {

// Throws std::out_of_range unless j is a whole number from 0 to max. The
// message names the value's type, not the value: a state file may hold a
// key pasted or copied there by mistake.
inline std::uint64_t whole_number(const nlohmann::json& j, std::uint64_t max)
{
    if (!j.is_number_unsigned() || j.get<std::uint64_t>() > max)
        throw std::out_of_range(std::string("a ") + j.type_name() + " where a whole number from 0 to " +
                                std::to_string(max) + " belongs");
    return j.get<std::uint64_t>();
}

} // namespace xfrmctl::state
