// What a definition file may not be: nested past the bound (the readers
// and the merge of defaults recurse once per level: 50,000 levels crashed
// them), anything after the document (a NUL byte ended it silently), and
// what messages must not repeat (a key pasted where a file name goes, the
// first bytes of a key or PSK file given as the definitions). The corpus
// (tests/corpus/bad) has one small case of each; these are the big ones.
// xfrmd's control requests and the answers xfrmctl reads from it go through
// the same reader, with the same bounds.
#include "text.hpp"
#include "scratch_dir.hpp"
#include "xfrmctl/engine/control.hpp"
#include "xfrmctl/engine/planning.hpp"
#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/model/loader.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace xfrmctl;
using test::ScratchDir;

namespace {

constexpr int kDeep = 50'000; // what crashed validate, plan, apply and xfrmd (exit 139)

std::string nested(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

// {"a": {"a": ... 1 ...}}: 6 bytes a level, as in the report (300 KB).
std::string nested_objects(int levels)
{
    std::string text;
    for (int i = 0; i < levels; ++i)
        text += R"({"a":)";
    return text + "1" + std::string(levels, '}');
}

const std::string kGoodTunnel = R"({"mode": "tunnel", "protocol": "esp", "proposal": "aes256gcm16",
    "local": {"address": "192.0.2.1", "subnets": ["10.1.0.0/24"]},
    "remote": {"address": "192.0.2.2", "subnets": ["10.2.0.0/24"]},
    "keying": {"method": "manual", "outbound": {"spi": "0x10000a01", "key_file": "k/out"},
               "inbound": {"spi": "0x10000a02", "key_file": "k/in"}}})";

using test::contains;

} // namespace

TEST_CASE("50,000 nested objects under a tunnel, defaults or host: one message at the bound, no crash")
{
    ScratchDir dir;
    const std::string deep = nested_objects(kDeep);
    struct Place {
        std::string document, path;
    };
    const std::string depth_keys = [] {
        std::string zeros;
        for (std::size_t i = 0; i < model::kMaxJsonDepth - 3; ++i)
            zeros += "/a";
        return zeros;
    }();
    for (const Place& p : {
             Place{R"({"version": 1, "tunnels": {"t": {"mode": )" + deep + "}}}", "/tunnels/t/mode" + depth_keys},
             Place{R"({"version": 1, "defaults": {"mode": )" + deep + R"(}, "tunnels": {"t": )" + kGoodTunnel + "}}",
                   "/defaults/mode/a" + depth_keys},
             Place{R"({"version": 1, "tunnels": {}, "host": {"bypass": )" + deep + "}}", "/host/bypass/a" + depth_keys},
         }) {
        auto file = dir.write("t.json", p.document);
        auto defs = engine::load(file);
        REQUIRE_FALSE(defs);
        CAPTURE(defs.error().message.substr(0, 300));
        CHECK(defs.error().message ==
              file.string() + ": " + p.path + ": nested more than 32 levels deep (objects and arrays)");
    }
}

TEST_CASE("the deepest definition the format has is well inside the bound")
{
    // /tunnels/NAME/keying/generations/N/outbound/esp: 8 objects and arrays.
    ScratchDir dir;
    auto file = dir.write("t.json", R"({"version": 1, "tunnels": {"t": {"mode": "tunnel", "protocol": "ah+esp",
        "proposal": {"ah": "sha256", "esp": "aes256gcm16"},
        "local": {"address": "192.0.2.1"}, "remote": {"address": "192.0.2.2"},
        "keying": {"method": "manual", "generations": [{"name": "g1",
            "outbound": {"ah": {"spi": "0x1001", "key_file": "k/1"}, "esp": {"spi": "0x1002", "key_file": "k/2"}},
            "inbound": {"ah": {"spi": "0x1003", "key_file": "k/3"}, "esp": {"spi": "0x1004", "key_file": "k/4"}}}]}}}})");
    auto defs = model::load_definitions(file);
    CAPTURE((defs ? std::string() : defs.error().message));
    CHECK(defs.has_value());
    CHECK(model::parse_json(std::string(model::kMaxJsonDepth, '[') + std::string(model::kMaxJsonDepth, ']'), "f"));
    CHECK_FALSE(model::parse_json(nested(model::kMaxJsonDepth + 1), "f"));
}

TEST_CASE("a NUL byte after the document is refused, not taken for the end of the file")
{
    using namespace std::string_literals;
    ScratchDir dir;
    auto file = dir.write("t.json", R"({"version": 1, "tunnels": {}})"s + '\0' +
                                        R"({"version": 1, "tunnels": {"t": )" + kGoodTunnel + "}}");
    auto defs = model::load_definitions(file);
    REQUIRE_FALSE(defs);
    CHECK(defs.error().message == file.string() + ": /: invalid JSON at line 1, column 30: a NUL byte after the "
                                                   "document (nothing may follow it)");
    auto alone = model::parse_json(R"({"version": 1})"s + '\0', "f");
    CHECK_FALSE(alone);
    auto in_string = model::parse_json(R"({"a": "x)"s + '\0' + R"("})", "f");
    REQUIRE_FALSE(in_string);
    CHECK(contains(in_string.error().str(), "f: /a: invalid JSON at line 1, column 9"));
}

TEST_CASE("a whole number beyond 64 bits is refused as such, without its digits")
{
    auto big = model::parse_json(R"({"a": [1, 98765432109876543210987654]})", "f");
    REQUIRE_FALSE(big);
    CHECK(big.error().str() == "f: /a/1: a whole number of 26 digits is out of range (whole numbers are read "
                                 "from -9223372036854775808 to 18446744073709551615)");
    CHECK_FALSE(model::parse_json("-98765432109876543210987654", "f"));
    CHECK(model::parse_json("18446744073709551615", "f"));
    CHECK(model::parse_json("-9223372036854775808", "f"));
    CHECK(model::parse_json("1.5e300", "f")); // fractional numbers are the readers' business
}

TEST_CASE("-c given a key or PSK file: the message has line and column, not the file's first bytes")
{
    for (const std::string secret : {"c0ffeec0ffeec0ffeec0ffeec0ffeec0ffee\n", "0xc0ffeec0ffeec0ffeec0ffee\n",
                                     "correct horse battery staple\n", "12345c0ffee\n", "\"quoted psk\n"}) {
        auto parsed = model::parse_json(secret, "k");
        REQUIRE_FALSE(parsed);
        const std::string m = parsed.error().str();
        CAPTURE(m);
        CHECK(m.rfind("k: /: invalid JSON at line 1, column ", 0) == 0);
        CHECK_FALSE(contains(m, "last read"));
        for (const std::string part : {"c0f", "0xc", "cor", "123", "quoted"})
            CHECK_FALSE(contains(m, part));
    }
}

TEST_CASE("a key, PSK or private key pasted where its file name goes is never repeated")
{
    ScratchDir dir;
    const std::string key = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
    dir.write("k/out", std::string(72, 'a') + "\n");
    std::string manual = kGoodTunnel;
    manual.replace(manual.find("k/in"), 4, key);
    auto absent = engine::load(dir.write("m.json", R"({"version": 1, "tunnels": {"t": )" + manual + "}}"));
    REQUIRE_FALSE(absent);
    CAPTURE(absent.error().message);
    CHECK(contains(absent.error().message, "/tunnels/t/keying/inbound/key_file: key file: No such file"));
    CHECK_FALSE(contains(absent.error().message, "c0ffee"));

    std::string spi = kGoodTunnel;
    spi.replace(spi.find("0x10000a02"), 10, key);
    auto not_spi = engine::load(dir.write("s.json", R"({"version": 1, "tunnels": {"t": )" + spi + "}}"));
    REQUIRE_FALSE(not_spi);
    CHECK(contains(not_spi.error().message, "/tunnels/t/keying/inbound/spi: this string is not an SPI"));
    CHECK_FALSE(contains(not_spi.error().message, "c0ffee"));

    for (const char* field : {"psk_file", "private_key"}) {
        dir.write("c.crt", "not secret");
        auto ikev2 = engine::load(dir.write("i.json", fmt::format(R"({{"version": 1, "tunnels": {{"t": {{
            "local": {{"address": "192.0.2.1"}}, "remote": {{"address": "192.0.2.2"}},
            "keying": {{"method": "ikev2", "{}": "correct horse battery staple 2026"{}}}}}}}}})",
                                                                  field, std::string(field) == "psk_file" ? "" :
                                                                  R"(, "certificate": "c.crt", "ca": "c.crt", "remote_id": "CN=east")")));
        REQUIRE_FALSE(ikev2);
        CAPTURE(ikev2.error().message);
        CHECK(contains(ikev2.error().message, std::string("/tunnels/t/keying/") + field + ": "));
        CHECK_FALSE(contains(ikev2.error().message, "horse"));
    }
    auto wrong_type = engine::load(dir.write("w.json", R"({"version": 1, "tunnels": {"t": {
        "local": {"address": "192.0.2.1"}, "remote": {"address": "192.0.2.2"},
        "keying": {"method": "ikev2", "psk_file": ["correct horse battery staple 2026"]}}}})"));
    REQUIRE_FALSE(wrong_type);
    CHECK(contains(wrong_type.error().message, "/tunnels/t/keying/psk_file: expected a file name (a string), got an array"));
    CHECK_FALSE(contains(wrong_type.error().message, "horse"));
}

TEST_CASE("a control request or answer nested 32,000 levels deep is refused at the bound")
{
    // Just under the control socket's 64 KiB request limit; "x" is a key
    // decode_request does not know, so only the depth can refuse it.
    const std::string deep = nested(32'000);
    auto request = engine::decode_request(R"({"command": "status", "x": )" + deep + "}");
    REQUIRE_FALSE(request);
    CHECK(request.error().message.starts_with("a malformed request: /x/0/0/0/"));
    CHECK(contains(request.error().message, ": nested more than 32 levels deep"));
    auto answer = engine::decode_response(R"({"exit": 0, "out": "", "err": "", "x": )" + deep + "}");
    REQUIRE_FALSE(answer);
    CHECK(contains(answer.error().message, "xfrmd's answer is unreadable: /x/0/0/0/"));
    CHECK(contains(answer.error().message, ": nested more than 32 levels deep"));
}

TEST_CASE("a NUL byte in a control request or answer is refused, not taken for its end")
{
    using namespace std::string_literals;
    // Read up to the NUL, this was a reload, and the down --all after it was dropped unseen.
    auto request = engine::decode_request(R"({"command":"reload"})"s + '\0' + R"({"command":"down","all":true})");
    REQUIRE_FALSE(request);
    CHECK(request.error().message == "a malformed request: /: invalid JSON at line 1, column 21: a NUL byte after "
                                     "the document (nothing may follow it)");
    auto answer = engine::decode_response(R"({"exit": 0, "out": "", "err": ""})"s + '\0' + R"({"exit": 1})");
    REQUIRE_FALSE(answer);
    CHECK(contains(answer.error().message, "xfrmd's answer is unreadable: /: invalid JSON at line 1, column 34: a NUL"));
}
