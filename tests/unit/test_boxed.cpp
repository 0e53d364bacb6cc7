// Boxed<T>: std::optional's meaning, with the value on the heap.
#include "xfrmctl/util/boxed.hpp"

#include <doctest/doctest.h>

#include <concepts>
#include <memory>
#include <string>

using namespace xfrmctl;

TEST_CASE("Boxed: empty, set, reset, as an optional would be")
{
    Boxed<std::string> b;
    CHECK_FALSE(b);
    b = std::string("tunnel-a");
    REQUIRE(b.has_value());
    CHECK(*b == "tunnel-a");
    CHECK(b->size() == 8);
    b = std::nullopt;
    CHECK_FALSE(b);
    CHECK(b.emplace(3, 'x') == "xxx");
    b.reset();
    CHECK_FALSE(b.has_value());
}

TEST_CASE("Boxed: a copy is a copy of the value, not of the pointer")
{
    Boxed<std::string> a(std::string("old"));
    Boxed<std::string> b = a;
    *b = "new";
    CHECK(*a == "old");
    a = b;
    *b = "newer";
    CHECK(*a == "new");
    Boxed<std::string> empty;
    a = empty;
    CHECK_FALSE(a);
    Boxed<std::string> moved = std::move(b);
    CHECK(*moved == "newer");
}

TEST_CASE("Boxed: a move-only value makes a move-only box")
{
    static_assert(!std::copy_constructible<Boxed<std::unique_ptr<int>>>);
    static_assert(std::move_constructible<Boxed<std::unique_ptr<int>>>);
    // No conversion from std::optional: a conditional mixing the two would
    // otherwise assign to a temporary.
    static_assert(!std::convertible_to<std::optional<std::string>, Boxed<std::string>>);
    Boxed<std::unique_ptr<int>> b(std::make_unique<int>(7));
    auto c = std::move(b);
    CHECK(**c == 7);
}
