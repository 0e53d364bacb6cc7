// The programs' version: CMake's project version (CMakeLists.txt), the one
// place it is written; packaging/debian/changelog must agree (scripts/build-deb
// and tests/host/version.sh check it).
#pragma once

namespace xfrmctl {

const char* version(); // "0.1.0"

} // namespace xfrmctl
