// read_while_written: when a failed read is read again, and when it is the
// source's own failure. Pure logic: the tries are scripted.
#include "xfrmctl/util/files.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace xfrmctl;

namespace {

Result<int> failure(const char* what) { return fail(Error{what, EAGAIN}); }

} // namespace

TEST_CASE("read_while_written: a success or a failure of a settled source is the answer of the first try")
{
    int tries = 0;
    auto ok = read_while_written<int>(5, [&](FailedRead&) -> Result<int> { return ++tries; });
    REQUIRE(ok);
    CHECK(*ok == 1);
    auto own = read_while_written<int>(5, [&](FailedRead&) { ++tries; return failure("not hex"); });
    REQUIRE_FALSE(own);
    CHECK(own.error().message == "not hex");
    CHECK(tries == 2);
}

TEST_CASE("read_while_written: a failure just after a write is read again only if the source moved since")
{
    int tries = 0;
    bool moves = false;
    auto read = [&](FailedRead& after) -> Result<int> {
        if (++tries == 3)
            return 42;
        after.written_lately = true;
        after.still_as_read = [&] { return !moves; };
        return failure("half written");
    };
    SUBCASE("the writer was done: its error stands")
    {
        auto r = read_while_written<int>(5, read);
        REQUIRE_FALSE(r);
        CHECK(tries == 1);
    }
    SUBCASE("the writer was at work: read again until whole")
    {
        moves = true;
        auto r = read_while_written<int>(5, read);
        REQUIRE(r);
        CHECK(*r == 42);
        CHECK(tries == 3);
    }
}

TEST_CASE("read_while_written: a source changing at every try is refused as such after the last try")
{
    int tries = 0;
    auto r = read_while_written<int>(4, [&](FailedRead& after) {
        ++tries;
        after.as_read = false;
        return failure("changed while it was read");
    });
    REQUIRE_FALSE(r);
    CHECK(tries == 4);
    CHECK(r.error().errnum == EAGAIN);
    CHECK(r.error().message ==
          "changed while it was read (read 4 times, changing each time: try again once the writer is done)");
}
