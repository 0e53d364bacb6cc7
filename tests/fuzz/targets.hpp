// What each fuzz target does with one input, shared by the libFuzzer
// programs (fuzz_main.cpp, built with clang by scripts/fuzz) and by the unit
// tests, which run the seed corpus and every crash ever found through the
// same functions (tests/unit/test_fuzz_regressions.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace xfrmctl::fuzz {

using Input = std::span<const std::uint8_t>;

void definitions(Input data); // the definition parser and validator, then the compiler
void netlink(Input data);     // kernel answers and events: a dump's buffer of messages
void control(Input data);     // the control-socket protocol, both directions
void vici(Input data);        // charon's VICI packets and alert records

// The target of this name, or nullptr.
using Target = void (*)(Input);
Target target_named(std::string_view name);

} // namespace xfrmctl::fuzz
