#include "xfrmctl/util/file_batch.hpp"

#include "xfrmctl/util/files.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <unordered_set>
#include <vector>

namespace xfrmctl {

namespace {

constexpr unsigned kFilesPerRound = 128;
constexpr unsigned kRingEntries = 4 * kFilesPerRound; // a round prepares at most 3 requests per file
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK; // O_NONBLOCK: a FIFO must not hang us

// One io_uring, set up and torn down with its owner.
class Ring {
public:
    Ring() { ready_ = io_uring_queue_init(kRingEntries, &ring_, 0) == 0; }
    ~Ring()
    {
        if (ready_)
            io_uring_queue_exit(&ring_);
    }
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    explicit operator bool() const { return ready_; }
    // Never null: a round prepares fewer requests than the ring holds, and
    // run() empties it.
    io_uring_sqe* prepare(std::uint64_t tag)
    {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        io_uring_sqe_set_data64(sqe, tag);
        return sqe;
    }

    // Submits what was prepared and hands each of its `count` completions to
    // done(tag, result). False if the ring failed: the caller stops using it.
    template <typename Done>
    bool run(unsigned count, Done&& done)
    {
        int submitted;
        while ((submitted = io_uring_submit(&ring_)) == -EINTR) {
        }
        if (submitted != static_cast<int>(count))
            return false;
        for (unsigned i = 0; i < count; ++i) {
            io_uring_cqe* cqe = nullptr;
            int waited;
            while ((waited = io_uring_wait_cqe(&ring_, &cqe)) == -EINTR) {
            }
            if (waited < 0)
                return false;
            done(io_uring_cqe_get_data64(cqe), cqe->res);
            io_uring_cqe_seen(&ring_, cqe);
        }
        return true;
    }

private:
    io_uring ring_{};
    bool ready_ = false;
};

enum Step : std::uint64_t { kOpen, kStatBefore, kRead, kStatAfter, kClose, kSteps };

std::uint64_t tag(std::size_t file, Step step) { return file * kSteps + step; }

struct FileRead {
    const std::string* path = nullptr;
    UniqueFd fd;
    struct statx before{}, after{};
    int results[kSteps] = {-1, -1, -1, -1, -1};
};

struct stat to_stat(const struct statx& x)
{
    struct stat st{};
    st.st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
    st.st_ino = x.stx_ino;
    st.st_mode = x.stx_mode;
    st.st_nlink = x.stx_nlink;
    st.st_uid = x.stx_uid;
    st.st_gid = x.stx_gid;
    st.st_size = static_cast<off_t>(x.stx_size);
    st.st_mtim = {x.stx_mtime.tv_sec, x.stx_mtime.tv_nsec};
    st.st_ctim = {x.stx_ctime.tv_sec, x.stx_ctime.tv_nsec};
    return st;
}

// Three rounds of one request per file each, bar the middle one: open; stat,
// read, stat (linked, in that order, whatever each gives); close.
bool read_round(Ring& ring, std::vector<FileRead>& files, Secret& buffers, std::size_t slot_bytes)
{
    auto record = [&](std::uint64_t t, int res) { files[t / kSteps].results[t % kSteps] = res; };
    for (std::size_t i = 0; i < files.size(); ++i)
        io_uring_prep_openat(ring.prepare(tag(i, kOpen)), AT_FDCWD, files[i].path->c_str(), kOpenFlags, 0);
    if (!ring.run(static_cast<unsigned>(files.size()), record))
        return false;
    unsigned prepared = 0;
    for (std::size_t i = 0; i < files.size(); ++i) {
        FileRead& f = files[i];
        if (f.results[kOpen] < 0)
            continue;
        f.fd.reset(f.results[kOpen]);
        constexpr unsigned kMask = STATX_BASIC_STATS;
        io_uring_sqe* sqe = ring.prepare(tag(i, kStatBefore));
        io_uring_prep_statx(sqe, f.fd.get(), "", AT_EMPTY_PATH, kMask, &f.before);
        sqe->flags |= IOSQE_IO_HARDLINK; // a hard link: a short read must not cancel the second stat
        sqe = ring.prepare(tag(i, kRead));
        io_uring_prep_read(sqe, f.fd.get(), buffers.data() + i * slot_bytes, static_cast<unsigned>(slot_bytes), 0);
        sqe->flags |= IOSQE_IO_HARDLINK;
        io_uring_prep_statx(ring.prepare(tag(i, kStatAfter)), f.fd.get(), "", AT_EMPTY_PATH, kMask, &f.after);
        prepared += 3;
    }
    if (!ring.run(prepared, record))
        return false;
    prepared = 0;
    for (std::size_t i = 0; i < files.size(); ++i)
        if (files[i].fd) {
            io_uring_prep_close(ring.prepare(tag(i, kClose)), files[i].fd.release());
            ++prepared;
        }
    return ring.run(prepared, record);
}

// Whether the read is of one version of a regular file, whole.
bool read_whole(const FileRead& f, std::size_t max_bytes)
{
    if (f.results[kStatBefore] != 0 || f.results[kStatAfter] != 0 || f.results[kRead] < 0)
        return false;
    struct stat before = to_stat(f.before), after = to_stat(f.after);
    return S_ISREG(before.st_mode) && static_cast<std::size_t>(before.st_size) <= max_bytes &&
           f.results[kRead] == before.st_size && same_version(before, after);
}

void keep_whole_reads(const std::vector<FileRead>& files, const Secret& buffers, std::size_t slot_bytes,
                      std::size_t max_bytes, FileSnapshots& snapshots)
{
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (!read_whole(files[i], max_bytes))
            continue;
        auto bytes = buffers.bytes().subspan(i * slot_bytes, static_cast<std::size_t>(files[i].results[kRead]));
        snapshots.insert_or_assign(*files[i].path, FileSnapshot{to_stat(files[i].before), Secret::copy_of(bytes)});
    }
}

} // namespace

FileSnapshots read_small_files(std::span<const std::string> paths, std::size_t max_bytes)
{
    FileSnapshots snapshots;
    if (paths.empty())
        return snapshots;
    const std::size_t slot_bytes = max_bytes + 1; // one more byte: a file longer than max_bytes shows
    // Contents are keys: wiped when done. Declared before the ring, so that
    // the ring is torn down first should a round be cut short.
    Secret buffers(kFilesPerRound * slot_bytes);
    Ring ring;
    if (!ring)
        return snapshots;
    std::unordered_set<std::string_view> queued;
    std::vector<FileRead> round;
    auto flush = [&] {
        bool ok = read_round(ring, round, buffers, slot_bytes);
        if (ok)
            keep_whole_reads(round, buffers, slot_bytes, max_bytes, snapshots);
        round.clear();
        return ok;
    };
    for (const std::string& path : paths) {
        if (!queued.insert(path).second)
            continue;
        round.emplace_back().path = &path;
        if (round.size() == kFilesPerRound && !flush())
            return snapshots;
    }
    if (!round.empty())
        flush();
    return snapshots;
}

} // namespace xfrmctl
