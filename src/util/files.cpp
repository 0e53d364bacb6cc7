#include "xfrmctl/util/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>

namespace xfrmctl {

bool same_version(const struct stat& a, const struct stat& b)
{
    auto same_time = [](const timespec& x, const timespec& y) { return x.tv_sec == y.tv_sec && x.tv_nsec == y.tv_nsec; };
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size && same_time(a.st_mtim, b.st_mtim) &&
           same_time(a.st_ctim, b.st_ctim);
}

bool modified_lately(const struct stat& st)
{
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return st.st_mtim.tv_sec >= now.tv_sec - 1;
}

Error changing_each_time(Error error, int tries)
{
    error.message += " (read " + std::to_string(tries) + " times, changing each time: try again once the writer is done)";
    return error;
}

Result<std::string> read_to_end(int fd, std::size_t max_bytes, std::size_t size_hint)
{
    // Read in place, sized by the hint: a growing string would touch twice
    // the pages, and a page first touched costs dearly in a trapping VM.
    std::string text(std::max<std::size_t>(16384, std::min(size_hint, max_bytes) + 1), '\0');
    std::size_t got = 0;
    for (;;) {
        if (got == text.size())
            text.resize(2 * text.size());
        ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(Error::from_errno("cannot read", errno));
        if (n == 0) {
            text.resize(got);
            return text;
        }
        got += static_cast<std::size_t>(n);
        if (got > max_bytes)
            return fail(Error{"too large", EFBIG});
    }
}

Result<std::string> read_unchanged(int fd, std::size_t max_bytes)
{
    struct stat before{}, after{};
    if (fstat(fd, &before) != 0)
        return fail(Error::from_errno("cannot read", errno));
    auto text = read_to_end(fd, max_bytes, static_cast<std::size_t>(before.st_size));
    if (!text)
        return text;
    if (fstat(fd, &after) != 0)
        return fail(Error::from_errno("cannot read", errno));
    if (!same_version(before, after) || text->size() != static_cast<std::size_t>(after.st_size))
        return fail(Error{"changed while it was read", EAGAIN});
    return text;
}

Result<std::optional<std::string>> read_optional_file(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        if (errno == ENOENT)
            return std::optional<std::string>();
        return fail(Error::from_errno("cannot read " + file.string(), errno));
    }
    std::stringstream text;
    text << in.rdbuf();
    return std::optional(text.str());
}

namespace {

Status write_all(int fd, const std::string& contents)
{
    std::size_t done = 0;
    while (done < contents.size()) {
        ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(Error::from_errno("write", errno));
        done += static_cast<std::size_t>(n);
    }
    return {};
}

} // namespace

Status write_file_atomically(const std::filesystem::path& file, const std::string& contents, mode_t mode)
{
    std::filesystem::path temporary = file;
    temporary += ".tmp";
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
    if (!fd)
        return fail(Error::from_errno("cannot write " + temporary.string(), errno));
    auto failed = [&](Error error) {
        ::unlink(temporary.c_str()); // a full disk leaves no empty or partial copy behind
        return fail(std::move(error));
    };
    if (auto ok = write_all(fd.get(), contents); !ok)
        return failed({"cannot write " + temporary.string() + ": " + ok.error().message, ok.error().errnum});
    if (::fsync(fd.get()) != 0)
        return failed(Error::from_errno("cannot sync " + temporary.string(), errno));
    fd.reset();
    if (::rename(temporary.c_str(), file.c_str()) != 0)
        return failed(Error::from_errno("cannot replace " + file.string(), errno));
    UniqueFd dir(::open(file.parent_path().empty() ? "." : file.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir)
        ::fsync(dir.get());
    return {};
}

Result<UniqueFd> lock_directory(const std::filesystem::path& dir, int wait_seconds)
{
    auto path = dir / "lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd)
        return fail(Error::from_errno("cannot open " + path.string(), errno));
    for (int tries = wait_seconds * 10;; --tries) {
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0)
            return fd;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return fail(Error::from_errno("cannot lock " + path.string(), errno));
        if (tries <= 0)
            return fail(path.string() + " is locked: xfrmd, or another xfrmctl, is changing the kernel (if xfrmd "
                        "runs, give xfrmctl its --socket)", EWOULDBLOCK);
        ::usleep(100000);
    }
}

} // namespace xfrmctl
