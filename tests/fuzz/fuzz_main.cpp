// One libFuzzer program per target: XFRMCTL_FUZZ_TARGET names it.
#include "targets.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const xfrmctl::fuzz::Target target = xfrmctl::fuzz::target_named(XFRMCTL_FUZZ_TARGET);
    target(xfrmctl::fuzz::Input(data, size));
    return 0;
}
