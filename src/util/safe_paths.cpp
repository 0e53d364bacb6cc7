#include "xfrmctl/util/safe_paths.hpp"

#include "xfrmctl/util/unique_fd.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xfrmctl {

std::optional<PrivateFileFault> private_file_fault(const struct stat& st)
{
    if (!S_ISREG(st.st_mode))
        return PrivateFileFault::not_regular;
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return PrivateFileFault::foreign_owner;
    if (st.st_mode & 077)
        return PrivateFileFault::open_mode;
    return std::nullopt;
}

namespace fs = std::filesystem;

namespace {

const char* kind_of(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    return "a device";
}

std::string refusal(const std::string& what, const fs::path& dir, const fs::path& culprit, const std::string& why)
{
    std::string where = culprit == dir ? dir.string() : dir.string() + ": " + culprit.string();
    return "refusing " + what + " " + where + ": " + why;
}

// One directory of the chain: `leaf` is the one named, the others are above.
Status check_one(const fs::path& path, bool leaf, const std::string& what, const fs::path& dir)
{
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
        return fail(Error::from_errno("cannot check " + path.string(), errno));
    if (!S_ISDIR(st.st_mode))
        return fail(refusal(what, dir, path, std::string("it is ") + kind_of(st.st_mode) + ", not a directory"));
    if (st.st_uid != 0 && st.st_uid != ::geteuid())
        return fail(refusal(what, dir, path, fmt::format("owned by uid {}, not by root or the running user (as ssh's "
                                                         "StrictModes); chown it or choose another", st.st_uid)));
    bool others_write = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (others_write && (leaf || !(st.st_mode & S_ISVTX)))
        return fail(refusal(what, dir, path, fmt::format("writable by group or others (mode {:04o}), as ssh's "
                                                         "StrictModes refuses; chmod go-w it or choose another",
                                                         st.st_mode & 07777)));
    return {};
}

fs::path absolute_of(const fs::path& dir)
{
    std::error_code ec;
    fs::path path = fs::absolute(dir.empty() ? fs::path(".") : dir, ec);
    return ec ? dir : path;
}

// The deepest existing directory at or above `dir`.
fs::path deepest_existing(const fs::path& dir)
{
    fs::path path = dir;
    struct stat st{};
    while (::lstat(path.c_str(), &st) != 0 && errno == ENOENT && path != path.parent_path())
        path = path.parent_path();
    return path;
}

Status check_chain(const fs::path& dir, bool leaf, const std::string& what)
{
    std::error_code ec;
    fs::path real = fs::canonical(dir, ec);
    if (ec)
        return fail("cannot check " + what + " " + dir.string() + ": " + ec.message());
    for (fs::path p = real;; p = p.parent_path()) {
        if (auto ok = check_one(p, leaf && p == real, what, dir); !ok)
            return ok;
        if (p == p.parent_path())
            return {};
    }
}

Status create_below(const fs::path& existing, const fs::path& dir)
{
    fs::path path = existing;
    for (const auto& part : dir.lexically_relative(existing)) {
        path /= part;
        bool leaf = path == dir;
        if (::mkdir(path.c_str(), leaf ? 0700 : 0755) != 0 && errno != EEXIST)
            return fail(Error::from_errno("cannot create " + path.string(), errno));
        if (leaf && ::chmod(path.c_str(), 0700) != 0) // ours, just made: the umask may have taken more
            return fail(Error::from_errno("cannot set the mode of " + path.string(), errno));
    }
    return {};
}

} // namespace

Status check_safe_directory(const fs::path& dir, const std::string& what)
{
    return check_chain(absolute_of(dir), true, what);
}

Status ensure_private_directory(const fs::path& named, const std::string& what)
{
    fs::path dir = absolute_of(named).lexically_normal();
    if (dir.has_relative_path() && !dir.has_filename()) // "/var/lib/xfrmctl/"
        dir = dir.parent_path();
    fs::path existing = deepest_existing(dir);
    if (existing == dir)
        return check_chain(dir, true, what);
    if (auto ok = check_chain(existing, false, what); !ok)
        return ok;
    if (auto ok = create_below(existing, dir); !ok)
        return ok;
    return check_chain(dir, true, what);
}

namespace {

// Whether a listener answers on the socket: connect() refused means none.
Result<bool> someone_listens(const fs::path& socket)
{
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd)
        return fail(Error::from_errno("cannot open a socket", errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno == EAGAIN)
        return true; // EAGAIN: alive, its backlog full
    if (errno == ECONNREFUSED)
        return false;
    return fail(Error::from_errno("cannot tell whether something listens on " + socket.string(), errno));
}

} // namespace

Status claim_socket_path(const fs::path& socket)
{
    if (socket.string().size() >= sizeof(sockaddr_un::sun_path))
        return fail("the control socket path is too long: " + socket.string());
    if (auto ok = ensure_private_directory(socket.parent_path(), "the control socket's directory"); !ok)
        return ok;
    struct stat st{};
    if (::lstat(socket.c_str(), &st) != 0)
        return errno == ENOENT ? Status{} : fail(Error::from_errno("cannot check " + socket.string(), errno));
    if (!S_ISSOCK(st.st_mode))
        return fail(socket.string() + " is " + kind_of(st.st_mode) + ", not a socket: refusing to remove it (remove it "
                    "yourself, or give --socket another path)");
    if (st.st_uid != ::geteuid())
        return fail(fmt::format("{} is a socket of uid {}, not ours: refusing to remove it", socket.string(), st.st_uid));
    auto live = someone_listens(socket);
    if (!live)
        return fail(live.error());
    if (*live)
        return fail("something already listens on " + socket.string() + " (another xfrmd?): refusing to replace it");
    if (::unlink(socket.c_str()) != 0 && errno != ENOENT) // a stale socket of a daemon that died
        return fail(Error::from_errno("cannot remove the stale socket " + socket.string(), errno));
    return {};
}

} // namespace xfrmctl
