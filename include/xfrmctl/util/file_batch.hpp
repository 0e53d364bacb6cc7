// Reading many small files with few system calls. A system call is cheap on
// real hardware but costs tens to hundreds of microseconds under User-Mode
// Linux and other trapping hypervisors, and a hub's definitions name tens of
// thousands of key files: io_uring reads a batch of them per call.
#pragma once

#include "xfrmctl/util/secret.hpp"

#include <sys/stat.h>

#include <span>
#include <string>
#include <unordered_map>

namespace xfrmctl {

// A regular file as it was at one moment: its stat and its whole contents
// (the stats taken just before and just after the read agreed).
struct FileSnapshot {
    struct stat st{};
    Secret contents;
};

using FileSnapshots = std::unordered_map<std::string, FileSnapshot>;

// Snapshots of those of the files that are regular, at most max_bytes long
// and did not change while they were read. A file missing from the answer
// (unreadable, too big, changing, or io_uring unavailable: then none) is
// the caller's to read one by one, which also gives its error.
FileSnapshots read_small_files(std::span<const std::string> paths, std::size_t max_bytes);

} // namespace xfrmctl
