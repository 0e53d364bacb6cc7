// The directories named on the command line (--state-dir, the directory of
// --socket) and the socket path itself: what is missing is created with
// safe modes; what exists is checked, never changed (see xfrmctl(8),
// SECURITY).
#pragma once

#include "xfrmctl/util/result.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>

namespace xfrmctl {

// ssh's rule for a private key, which key files and the capability cache
// follow: a regular file, owned by root or the running user, that neither
// group nor others can reach. The rule it breaks, if any; each caller
// words the message for its file.
enum class PrivateFileFault { not_regular, foreign_owner, open_mode };
std::optional<PrivateFileFault> private_file_fault(const struct stat& st);

// Refuses the directory unless it and every directory above it (after
// symbolic links are resolved, as ssh's StrictModes does) is owned by root
// or the running user and writable by nobody else; a directory above may be
// writable by others if its sticky bit is set (/tmp), as nobody else can
// then rename what is in it. `what` names it in the message ("the state
// directory").
Status check_safe_directory(const std::filesystem::path& dir, const std::string& what);

// Checks the directory, or creates it (mode 0700; missing parents 0755,
// after checking the deepest one that exists).
Status ensure_private_directory(const std::filesystem::path& dir, const std::string& what);

// Makes `socket` free for a listening socket of ours: its directory is
// ensured (as above); nothing may be at the path but a stale socket of the
// running user that nobody listens on (connect() is refused), which is
// removed. A live socket, a regular file, a directory or anything else is
// refused and left as it is.
Status claim_socket_path(const std::filesystem::path& socket);

} // namespace xfrmctl
