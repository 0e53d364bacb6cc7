// Small file helpers for the state directory: private directories, atomic
// replacement, and an exclusive lock.
#pragma once

#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

namespace xfrmctl {

// Whether two stats of one file show the same version of it: a write, a
// truncation or a rename in or out of a directory between them moves its
// size, mtime or ctime.
bool same_version(const struct stat& a, const struct stat& b);

// Whether the file was written within the last second: one that fails to
// parse may be caught half written, and is worth a second look.
bool modified_lately(const struct stat& st);

// What a failed read learnt of its source afterwards.
struct FailedRead {
    bool as_read = true;         // the source is still what was read
    bool written_lately = false; // modified within the last second
    // Asked once more after a short wait when written lately; null or true:
    // the failure is the source's own.
    std::function<bool()> still_as_read;
};

// Appends to a read's error that the source changed at every try.
Error changing_each_time(Error error, int tries);

// Reads something a writer may be replacing under us (a key file, the
// definitions): a failure caught while the source changed, or just after a
// write, is read again after 20, 40, 60... ms; a failure of a source that
// stays as it was read is its own. try_once(FailedRead&) reads once and, on
// a failure, says what it found after.
template <typename T, typename TryOnce>
Result<T> read_while_written(int tries, TryOnce try_once)
{
    using std::chrono::milliseconds;
    for (int attempt = 1;; ++attempt) {
        FailedRead after;
        Result<T> result = try_once(after);
        if (result || (after.as_read && !after.written_lately))
            return result;
        if (after.as_read) {
            std::this_thread::sleep_for(milliseconds(50)); // such a writer is done by then
            if (!after.still_as_read || after.still_as_read())
                return result;
        }
        if (attempt == tries)
            return fail(changing_each_time(std::move(result.error()), tries));
        std::this_thread::sleep_for(milliseconds(20 * attempt));
    }
}

// Reads a descriptor (a file, a pipe) to its end: at most max_bytes, else
// EFBIG. size_hint: the size expected (a regular file's), if known.
Result<std::string> read_to_end(int fd, std::size_t max_bytes, std::size_t size_hint = 0);

// Reads an open regular file to its end (at most max_bytes, else EFBIG).
// Fails with errnum EAGAIN when the file changed while it was read: the
// caller reads it again rather than use a mix of two versions.
Result<std::string> read_unchanged(int fd, std::size_t max_bytes);

// nullopt when the file does not exist.
Result<std::optional<std::string>> read_optional_file(const std::filesystem::path& file);

// Writes a temporary file, fsyncs it, renames it over `file` and fsyncs the
// directory: a reader sees the old contents or the new, never a mix.
Status write_file_atomically(const std::filesystem::path& file, const std::string& contents, mode_t mode = 0600);

// Takes an exclusive lock on dir/lock, waiting up to wait_seconds for
// another holder to let go.
Result<UniqueFd> lock_directory(const std::filesystem::path& dir, int wait_seconds);

} // namespace xfrmctl
