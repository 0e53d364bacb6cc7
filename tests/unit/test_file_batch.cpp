// read_small_files: many files read through io_uring, each whole and as of
// one moment, or left to the caller.
#include "scratch_dir.hpp"
#include "xfrmctl/util/file_batch.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace xfrmctl;
using test::ScratchDir;

namespace {

std::string text_of(const Secret& s) { return {reinterpret_cast<const char*>(s.data()), s.size()}; }

} // namespace

TEST_CASE("many small files are read whole, with the stat of what was read")
{
    ScratchDir dir;
    std::vector<std::string> paths;
    for (int i = 0; i < 300; ++i) // more than one round of 128
        paths.push_back(dir.write("k" + std::to_string(i), "key " + std::to_string(i) + "\n").string());
    paths.push_back(paths.front()); // named twice: read once
    FileSnapshots read = read_small_files(paths, 4096);
    REQUIRE(read.size() == 300);
    for (int i = 0; i < 300; ++i) {
        const FileSnapshot& snap = read.at(paths[i]);
        struct stat st{};
        REQUIRE(::stat(paths[i].c_str(), &st) == 0);
        CHECK(text_of(snap.contents) == "key " + std::to_string(i) + "\n");
        CHECK(snap.st.st_ino == st.st_ino);
        CHECK(snap.st.st_dev == st.st_dev);
        CHECK(snap.st.st_size == st.st_size);
        CHECK(snap.st.st_mode == st.st_mode);
        CHECK(snap.st.st_uid == st.st_uid);
        CHECK(snap.st.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
    }
}

TEST_CASE("files that cannot be read whole are left to the caller, who gets their error")
{
    ScratchDir dir;
    auto ok = dir.write("ok", "0123").string();
    auto empty = dir.write("empty", "").string();
    auto big = dir.write("big", std::string(4097, 'a')).string();
    auto missing = (dir.path() / "missing").string();
    auto directory = (dir.path() / "sub").string();
    std::filesystem::create_directory(directory);
    auto fifo = (dir.path() / "fifo").string();
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0); // must not hang the batch
    auto unreadable = dir.write("unreadable", "x", 0000).string();
    std::vector<std::string> paths{ok, empty, big, missing, directory, fifo, unreadable};
    FileSnapshots read = read_small_files(paths, 4096);
    CHECK(read.count(ok) == 1);
    CHECK(read.count(empty) == 1); // an empty file is read whole; what it should hold is the caller's check
    CHECK(read.count(big) == 0);
    CHECK(read.count(missing) == 0);
    CHECK(read.count(directory) == 0);
    CHECK(read.count(fifo) == 0);
    if (geteuid() != 0) // root reads mode 0000 files
        CHECK(read.count(unreadable) == 0);
    CHECK(text_of(read.at(ok).contents) == "0123");
    CHECK(read.at(empty).contents.empty());
}

TEST_CASE("nothing to read is an empty answer")
{
    CHECK(read_small_files({}, 4096).empty());
}
