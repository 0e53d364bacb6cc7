// Every bad definition of tests/corpus/bad gives one message naming the
// file, the JSON path and what is wrong (tests/uml/scenarios/bad-corpus.sh
// runs the same corpus through xfrmctl against a real kernel).
#include "corpus.hpp"
#include "xfrmctl/engine/planning.hpp"

#include <doctest/doctest.h>

#include <regex>

using namespace xfrmctl;

namespace {

// A run of hex digits as long as the shortest key (16 bytes, 32 digits):
// a key pasted into a definition, repeated by a message.
bool quotes_a_key(const std::string& message)
{
    static const std::regex key("[0-9a-fA-F]{32}");
    return std::regex_search(message, key);
}

} // namespace

TEST_CASE("each bad definition is refused with its file, JSON path and reason")
{
    auto cases = test::corpus_cases(std::string(XFRMCTL_TEST_DATA) + "/corpus/bad");
    REQUIRE(cases.size() >= 30);
    for (const auto& c : cases) {
        CAPTURE(c.name);
        test::Staged staged(c);
        auto loaded = engine::load(staged.config());
        REQUIRE_FALSE(loaded.has_value());
        const std::string& message = loaded.error().message;
        CAPTURE(message);
        std::string prefix = (staged.dir() / c.file).string() + ": " + c.path + ": ";
        CHECK(message.rfind(prefix, 0) == 0);
        CHECK(message.find(c.message) != std::string::npos);
        CHECK(message.find('\n') == std::string::npos);
        CHECK_FALSE(quotes_a_key(message));
    }
}
