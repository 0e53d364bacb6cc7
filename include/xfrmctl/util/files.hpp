// Small file helpers for the state directory: private directories, atomic
// replacement, and an exclusive lock.
#pragma once

#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>

namespace xfrmctl {

// Whether two stats of one file show the same version of it: a write, a
// truncation or a rename in or out of a directory between them moves its
// size, mtime or ctime.
bool same_version(const struct stat& a, const struct stat& b);

// Whether the file was written within the last second: one that fails to
// parse may be caught half written, and is worth a second look.
bool modified_lately(const struct stat& st);

// Reads a descriptor (a file, a pipe) to its end: at most max_bytes, else
// EFBIG. size_hint: the size expected (a regular file's), if known.
Result<std::string> read_to_end(int fd, std::size_t max_bytes, std::size_t size_hint = 0);

// Reads an open regular file to its end (at most max_bytes, else EFBIG).
// Fails with errnum EAGAIN when the file changed while it was read: the
// caller reads it again rather than use a mix of two versions.
Result<std::string> read_unchanged(int fd, std::size_t max_bytes);

// Creates the directory (and parents) if needed, mode 0700.
Status ensure_private_directory(const std::filesystem::path& dir);

// nullopt when the file does not exist.
Result<std::optional<std::string>> read_optional_file(const std::filesystem::path& file);

// Writes a temporary file, fsyncs it, renames it over `file` and fsyncs the
// directory: a reader sees the old contents or the new, never a mix.
Status write_file_atomically(const std::filesystem::path& file, const std::string& contents, mode_t mode = 0600);

// Takes an exclusive lock on dir/lock, waiting up to wait_seconds for
// another holder to let go.
Result<UniqueFd> lock_directory(const std::filesystem::path& dir, int wait_seconds);

} // namespace xfrmctl
