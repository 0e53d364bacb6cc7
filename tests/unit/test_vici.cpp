// VICI: messages and packets against the README's layout, malformed input,
// and the client against a fake charon on the other end of a socket.
#include "xfrmctl/ikev2/vici.hpp"

#include "scratch_dir.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <future>
#include <optional>
#include <random>
#include <thread>

using namespace xfrmctl;
using namespace xfrmctl::ikev2;
using namespace std::chrono_literals;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values)
{
    std::vector<std::byte> out;
    for (int v : values)
        out.push_back(static_cast<std::byte>(v));
    return out;
}

std::vector<std::byte> text_bytes(std::string_view text)
{
    auto view = std::as_bytes(std::span(text.data(), text.size()));
    return {view.begin(), view.end()};
}

bool same(std::span<const std::byte> a, std::span<const std::byte> b) { return std::ranges::equal(a, b); }

// The README's encoding example, byte for byte.
const std::vector<std::byte> kReadmeExample = bytes({
    3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',                 // key1 = value1
    1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',                                // section1
    1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',                // sub-section
    3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',                 // key2 = value2
    2,                                                                           // sub-section end
    4, 5, 'l', 'i', 's', 't', '1',                                               // list1
    5, 0, 5, 'i', 't', 'e', 'm', '1',                                            // item1
    5, 0, 5, 'i', 't', 'e', 'm', '2',                                            // item2
    6,                                                                           // list1 end
    2,                                                                           // section1 end
});

ordered_json readme_tree()
{
    return ordered_json::parse(
        R"({"key1":"value1","section1":{"sub-section":{"key2":"value2"},"list1":["item1","item2"]}})");
}

std::vector<std::byte> encoded(const ordered_json& message)
{
    auto writer = encode(message);
    REQUIRE(writer);
    return {writer->bytes().begin(), writer->bytes().end()};
}

// ---- a fake charon ---------------------------------------------------------

struct Seen {
    ViciPacketType type{};
    std::string name;
    std::vector<std::byte> message;
};

bool read_all(int fd, std::span<std::byte> out)
{
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::read(fd, out.data() + done, out.size() - done);
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

void write_all(int fd, std::span<const std::byte> data)
{
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data = data.subspan(static_cast<std::size_t>(n));
    }
}

// No assertions in the server thread: it records, the test checks.
std::optional<Seen> read_packet(int fd)
{
    std::array<std::byte, 4> field{};
    if (!read_all(fd, field))
        return std::nullopt;
    auto length = packet_length(field);
    if (!length)
        return std::nullopt;
    std::vector<std::byte> payload(*length);
    if (!read_all(fd, payload))
        return std::nullopt;
    auto packet = parse_packet(payload);
    if (!packet)
        return std::nullopt;
    return Seen{packet->type, std::string(packet->name), {packet->message.begin(), packet->message.end()}};
}

void send_packet(int fd, ViciPacketType type, std::string_view name = {},
                 const std::optional<ordered_json>& message = std::nullopt)
{
    std::vector<std::byte> body;
    if (message)
        if (auto writer = encode(*message))
            body.assign(writer->bytes().begin(), writer->bytes().end());
    if (auto packet = encode_packet(type, name, body))
        write_all(fd, *packet);
}

// Runs `script` against the server end of a socket pair; the test talks to
// the client end through connection().
class FakeCharon {
public:
    using Script = std::function<void(int fd, std::vector<Seen>& seen)>;

    explicit FakeCharon(Script script)
    {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        client_.reset(fds[0]);
        server_.reset(fds[1]);
        // A client that gave up must not leave the script blocked forever.
        timeval limit{3, 0};
        ::setsockopt(server_.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        thread_ = std::thread([this, script = std::move(script)] { script(server_.get(), seen_); });
    }
    ~FakeCharon() { finish(); }

    ViciConnection connection()
    {
        auto connection = ViciConnection::adopt(std::move(client_));
        REQUIRE(connection);
        return std::move(*connection);
    }
    // What the script saw, once it has run to its end.
    const std::vector<Seen>& finish()
    {
        if (thread_.joinable())
            thread_.join();
        return seen_;
    }

private:
    UniqueFd client_;
    UniqueFd server_;
    std::vector<Seen> seen_;
    std::thread thread_;
};

// Records one packet from the client; false when none came.
bool expect_packet(int fd, std::vector<Seen>& seen)
{
    auto packet = read_packet(fd);
    if (packet)
        seen.push_back(std::move(*packet));
    return packet.has_value();
}

} // namespace

// ---- messages --------------------------------------------------------------

TEST_CASE("vici: the README's example encodes to its exact bytes, from json or element by element")
{
    CHECK(same(encoded(readme_tree()), kReadmeExample));

    ViciWriter w;
    w.key_value("key1", "value1")
        .begin_section("section1")
        .begin_section("sub-section")
        .key_value("key2", "value2")
        .end_section()
        .begin_list("list1")
        .list_item("item1")
        .list_item("item2")
        .end_list()
        .end_section();
    CHECK(w.status());
    CHECK(same(w.bytes(), kReadmeExample));
}

TEST_CASE("vici: the README's example decodes to its tree, in its order")
{
    auto tree = decode(kReadmeExample);
    REQUIRE(tree);
    CHECK(tree->dump() == readme_tree().dump());
    CHECK(tree->begin().key() == "key1");
}

TEST_CASE("vici: round trips keep nesting, order, lists and empty values")
{
    auto message = ordered_json::parse(R"({
        "zeta": "last-first",
        "empty": "",
        "conn": {"remote_addrs": ["192.0.2.1", ""], "local": {"auth": "psk", "id": {"deep": {"er": "x"}}},
                 "children": {}},
        "alpha": [],
        "after": "section"
    })");
    auto bytes_once = encoded(message);
    auto back = decode(bytes_once);
    REQUIRE(back);
    CHECK(back->dump() == message.dump());
    CHECK(same(encoded(*back), bytes_once));
}

TEST_CASE("vici: numbers and booleans go as text, json binary as raw bytes")
{
    ordered_json message = {{"timeout", 5000},   {"negative", -3},      {"big", 18446744073709551615ULL},
                            {"ratio", 0.5},      {"force", true},       {"noblock", false},
                            {"ports", {500, true}}, {"blob", ordered_json::binary({0x00, 0xff, 0x10})}};
    auto back = decode(encoded(message));
    REQUIRE(back);
    auto expected = ordered_json::parse(R"({"timeout":"5000","negative":"-3","big":"18446744073709551615",
        "ratio":"0.5","force":"yes","noblock":"no","ports":["500","yes"]})");
    expected["blob"] = std::string("\x00\xff\x10", 3);
    CHECK(back->dump(-1, ' ', false, ordered_json::error_handler_t::replace) ==
          expected.dump(-1, ' ', false, ordered_json::error_handler_t::replace));
    CHECK((*back)["blob"].get<std::string>() == std::string("\x00\xff\x10", 3));
}

TEST_CASE("vici: json without a vici form is refused")
{
    CHECK_FALSE(encode(ordered_json::array()));
    CHECK_FALSE(encode(ordered_json("text")));
    CHECK_FALSE(encode(ordered_json::parse(R"({"a": null})")));
    CHECK_FALSE(encode(ordered_json::parse(R"({"a": [["nested"]]})")));
    CHECK_FALSE(encode(ordered_json::parse(R"({"a": [{"section": "in a list"}]})")));
    CHECK_FALSE(encode(ordered_json{{"nan", std::nan("")}}));
    auto error = encode(ordered_json::parse(R"({"a": {"b": null}})"));
    REQUIRE_FALSE(error);
    CHECK(error.error().message.find("\"b\"") != std::string::npos);
}

TEST_CASE("vici: misuse of the writer is reported by status(), and the first misuse wins")
{
    CHECK_FALSE(ViciWriter().end_section().status());
    CHECK_FALSE(ViciWriter().list_item("x").status());
    CHECK_FALSE(ViciWriter().end_list().status());
    CHECK_FALSE(ViciWriter().begin_list("l").begin_list("m").status());
    CHECK_FALSE(ViciWriter().begin_list("l").key_value("k", "v").end_list().status());
    CHECK_FALSE(ViciWriter().begin_list("l").begin_section("s").status());
    CHECK_FALSE(ViciWriter().begin_section("open").status());
    CHECK_FALSE(ViciWriter().begin_list("open").status());

    ViciWriter w;
    w.list_item("first misuse").key_value(std::string(300, 'n'), "second");
    auto status = w.status();
    REQUIRE_FALSE(status);
    CHECK(status.error().message.find("outside a list") != std::string::npos);
    CHECK(w.bytes().empty()); // nothing written after the misuse
}

TEST_CASE("vici: names and values at their length limits; names must be printable")
{
    std::vector<std::byte> big_value(kViciMaxValue, std::byte{0xab});
    ViciWriter fits;
    fits.key_value(std::string(kViciMaxName, 'n'), big_value);
    REQUIRE(fits.status());
    auto back = decode(fits.bytes());
    REQUIRE(back);
    CHECK((*back)[std::string(kViciMaxName, 'n')].get<std::string>().size() == kViciMaxValue);

    big_value.push_back(std::byte{0});
    CHECK_FALSE(ViciWriter().key_value("k", big_value).status());
    CHECK_FALSE(ViciWriter().key_value(std::string(kViciMaxName + 1, 'n'), "v").status());
    CHECK_FALSE(ViciWriter().key_value("tab\there", "v").status());
    CHECK_FALSE(ViciWriter().begin_section("\xc3\xa9").end_section().status());
}

TEST_CASE("vici: a writer refuses to grow past charon's 512 KiB")
{
    ViciWriter w;
    std::vector<std::byte> value(60'000);
    for (int i = 0; i < 9 && w.status(); ++i)
        w.key_value("k" + std::to_string(i), value);
    auto status = w.status();
    REQUIRE_FALSE(status);
    CHECK(status.error().message.find("512 KiB") != std::string::npos);
    CHECK(w.bytes().size() <= kViciMaxPacket);
}

TEST_CASE("vici: every truncation of a message is an error unless it ends between root elements")
{
    constexpr std::size_t kAfterKey1 = 14; // "key1 = value1" is a whole message
    for (std::size_t n = 1; n < kReadmeExample.size(); ++n) {
        CAPTURE(n);
        auto result = decode(std::span(kReadmeExample).first(n));
        CHECK(result.has_value() == (n == kAfterKey1));
    }
    auto empty = decode({});
    REQUIRE(empty);
    CHECK(*empty == ordered_json::object());
}

TEST_CASE("vici: misplaced, unknown and repeated elements are errors")
{
    CHECK_FALSE(decode(bytes({0})));                                // no element type 0
    CHECK_FALSE(decode(bytes({7})));                                // nor 7
    CHECK_FALSE(decode(bytes({255})));                              //
    CHECK_FALSE(decode(bytes({2})));                                // section end at the root
    CHECK_FALSE(decode(bytes({5, 0, 0})));                          // item outside a list
    CHECK_FALSE(decode(bytes({6})));                                // list end outside a list
    CHECK_FALSE(decode(bytes({4, 1, 'l', 3, 1, 'k', 0, 0, 6})));    // key/value in a list
    CHECK_FALSE(decode(bytes({4, 1, 'l', 4, 1, 'm', 6, 6})));       // nested list
    CHECK_FALSE(decode(bytes({4, 1, 'l', 1, 1, 's', 2, 6})));       // section in a list
    CHECK_FALSE(decode(bytes({4, 1, 'l', 2})));                     // section end in a list
    CHECK_FALSE(decode(bytes({3, 1, 'a', 0, 0, 3, 1, 'a', 0, 0}))); // repeated key
    CHECK_FALSE(decode(bytes({3, 1, 'a', 0, 0, 1, 1, 'a', 2})));    // key, then section of that name
    CHECK(decode(bytes({1, 1, 's', 3, 1, 'a', 0, 0, 2, 3, 1, 'a', 0, 0}))); // same key, other section
    CHECK_FALSE(decode(bytes({3, 5, 'k', 0, 0})));                  // name runs past the end
    CHECK_FALSE(decode(bytes({3, 1, 'k', 0, 5, 'v'})));             // value runs past the end

    auto error = decode(bytes({3, 1, 'k', 0, 0, 9}));
    REQUIRE_FALSE(error);
    CHECK(error.error().message == "vici message: unknown element type 9 at byte 5");
}

TEST_CASE("vici: sections nest at most 16 deep")
{
    auto nested = [](std::size_t depth) {
        std::vector<std::byte> out;
        for (std::size_t i = 0; i < depth; ++i)
            out.insert(out.end(), {std::byte{1}, std::byte{1}, std::byte{'s'}});
        out.insert(out.end(), depth, std::byte{2});
        return out;
    };
    CHECK(decode(nested(kViciMaxDepth)));
    CHECK_FALSE(decode(nested(kViciMaxDepth + 1)));

    ordered_json deep = {{"key", "leaf"}};
    for (std::size_t i = 0; i < kViciMaxDepth; ++i)
        deep = ordered_json{{"s", deep}};
    CHECK(encode(deep)); // 16 sections around one key/value
    CHECK_FALSE(encode(ordered_json{{"s", deep}}));
}

TEST_CASE("vici: random bytes never throw, and what decodes encodes back to the same bytes")
{
    std::mt19937 random(20240901);
    std::uniform_int_distribution<int> length(0, 40);
    std::uniform_int_distribution<int> small(0, 8); // element types and short lengths
    std::uniform_int_distribution<int> printable('a', 'c');
    int decoded = 0;
    bool threw = false;
    bool mismatch = false;
    for (int round = 0; round < 20'000; ++round) {
        std::vector<std::byte> input(static_cast<std::size_t>(length(random)));
        for (auto& b : input)
            b = static_cast<std::byte>(random() % 3 ? small(random) : printable(random));
        try {
            auto tree = decode(input);
            if (!tree)
                continue;
            ++decoded;
            if (auto again = encode(*tree); again && !same(again->bytes(), input))
                mismatch = true;
        } catch (...) {
            threw = true;
        }
    }
    CHECK_FALSE(threw);
    CHECK_FALSE(mismatch);
    CHECK(decoded > 100); // the generator does reach valid messages
}

// ---- packets ---------------------------------------------------------------

TEST_CASE("vici: a CMD_REQUEST has the README's layout, and every packet type round trips")
{
    auto version = encode_packet(ViciPacketType::cmd_request, "version");
    REQUIRE(version);
    CHECK(same(*version, bytes({0, 0, 0, 9, 0, 7, 'v', 'e', 'r', 's', 'i', 'o', 'n'})));

    auto response = encode_packet(ViciPacketType::cmd_response, {}, kReadmeExample);
    REQUIRE(response);
    CHECK(kReadmeExample.size() == 77);
    CHECK(same(std::span(*response).first(5), bytes({0, 0, 0, 1 + 77, 1})));

    struct Case {
        ViciPacketType type;
        std::string_view name;
        std::vector<std::byte> message;
    };
    const Case cases[] = {
        {ViciPacketType::cmd_request, "load-conn", kReadmeExample},
        {ViciPacketType::cmd_response, "", kReadmeExample},
        {ViciPacketType::cmd_unknown, "", {}},
        {ViciPacketType::event_register, "list-sa", {}},
        {ViciPacketType::event_unregister, "list-sa", {}},
        {ViciPacketType::event_confirm, "", {}},
        {ViciPacketType::event_unknown, "", {}},
        {ViciPacketType::event, "ike-updown", kReadmeExample},
        {ViciPacketType::event, "", {}},
    };
    for (const auto& c : cases) {
        CAPTURE(to_string(c.type));
        auto packet = encode_packet(c.type, c.name, c.message);
        REQUIRE(packet);
        auto length = packet_length(std::span(*packet).first<4>());
        REQUIRE(length);
        CHECK(*length == packet->size() - 4);
        auto parsed = parse_packet(std::span(*packet).subspan(4));
        REQUIRE(parsed);
        CHECK(parsed->type == c.type);
        CHECK(parsed->name == c.name);
        CHECK(same(parsed->message, c.message));
    }
}

TEST_CASE("vici: packet limits and malformed packets")
{
    CHECK_FALSE(packet_length(std::span<const std::byte, 4>(bytes({0, 0, 0, 0}))));
    CHECK(packet_length(std::span<const std::byte, 4>(bytes({0, 8, 0, 0}))) == kViciMaxPacket);
    CHECK_FALSE(packet_length(std::span<const std::byte, 4>(bytes({0, 8, 0, 1}))));
    CHECK_FALSE(packet_length(std::span<const std::byte, 4>(bytes({0xff, 0xff, 0xff, 0xff}))));

    // The limit counts type, name and message: 1 + 1 + 4 + message.
    std::vector<std::byte> message(kViciMaxPacket - 6);
    CHECK(packet_header(ViciPacketType::cmd_request, "abcd", message.size()));
    CHECK_FALSE(packet_header(ViciPacketType::cmd_request, "abcd", message.size() + 1));
    CHECK_FALSE(encode_packet(ViciPacketType::event_confirm, "named"));
    CHECK_FALSE(encode_packet(ViciPacketType::event_register, "x", kReadmeExample));
    CHECK_FALSE(encode_packet(ViciPacketType::cmd_request, "bad\nname"));
    CHECK_FALSE(encode_packet(static_cast<ViciPacketType>(8), ""));

    CHECK_FALSE(parse_packet({}));
    CHECK_FALSE(parse_packet(bytes({8})));                // unknown type
    CHECK_FALSE(parse_packet(bytes({0})));                // CMD_REQUEST without its name length
    CHECK_FALSE(parse_packet(bytes({7, 5, 'a', 'b'})));   // name runs past the end
    CHECK_FALSE(parse_packet(bytes({5, 1})));             // EVENT_CONFIRM carries nothing
    CHECK_FALSE(parse_packet(bytes({3, 1, 'a', 0})));     // nor does EVENT_REGISTER after its name
    auto empty_response = parse_packet(bytes({1}));
    REQUIRE(empty_response);
    CHECK(empty_response->message.empty());
}

TEST_CASE("vici: expect_success passes success = yes and carries charon's errmsg otherwise")
{
    CHECK(expect_success(ordered_json{{"success", "yes"}}, "load-conn"));
    auto no = expect_success(ordered_json{{"success", "no"}, {"errmsg", "parsing proposal failed"}}, "load-conn");
    REQUIRE_FALSE(no);
    CHECK(no.error().message == "load-conn: parsing proposal failed");
    auto silent = expect_success(ordered_json{{"success", "no"}}, "initiate");
    REQUIRE_FALSE(silent);
    CHECK(silent.error().message.find("without a reason") != std::string::npos);
    CHECK_FALSE(expect_success(ordered_json::object(), "x"));
    CHECK_FALSE(expect_success(ordered_json{{"success", true}, {"errmsg", 5}}, "x"));
}

// ---- the connection --------------------------------------------------------

TEST_CASE("vici connection: a response arriving in pieces is read whole, and the body goes as built")
{
    const std::vector<std::byte> secret = text_bytes("not in json");
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        if (!expect_packet(fd, seen))
            return;
        auto packet = encode_packet(ViciPacketType::cmd_response, {},
                                    encoded(ordered_json{{"success", "yes"}, {"daemon", "charon"}}));
        if (!packet)
            return;
        // Split inside the length field and again inside the message.
        write_all(fd, std::span(*packet).first(2));
        std::this_thread::sleep_for(30ms);
        write_all(fd, std::span(*packet).subspan(2, 10));
        std::this_thread::sleep_for(30ms);
        write_all(fd, std::span(*packet).subspan(12));
    });
    auto vici = charon.connection();
    ViciWriter body;
    body.key_value("id", "psk-1").key_value("data", secret).begin_list("owners").list_item("a").end_list();
    auto reply = vici.call("load-shared", body);
    REQUIRE(reply);
    CHECK((*reply)["daemon"] == "charon");
    CHECK(expect_success(*reply, "load-shared"));

    const auto& seen = charon.finish();
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].type == ViciPacketType::cmd_request);
    CHECK(seen[0].name == "load-shared");
    CHECK(same(seen[0].message, body.bytes()));
}

TEST_CASE("vici connection: CMD_UNKNOWN names the command, and the connection goes on")
{
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::cmd_unknown);
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::cmd_response, {}, ordered_json{{"version", "5.9.8"}});
    });
    auto vici = charon.connection();
    auto unknown = vici.call("frobnicate");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().message == "charon does not know the command frobnicate");
    auto version = vici.call("version");
    REQUIRE(version);
    CHECK((*version)["version"] == "5.9.8");
}

TEST_CASE("vici connection: call_streaming collects its events until the response, then unregisters")
{
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_confirm);
        if (!expect_packet(fd, seen))
            return;
        send_packet(fd, ViciPacketType::event, "list-sa", ordered_json{{"ike1", {{"state", "ESTABLISHED"}}}});
        send_packet(fd, ViciPacketType::event, "ike-updown", ordered_json{{"up", "yes"}});
        send_packet(fd, ViciPacketType::event, "list-sa", ordered_json{{"ike2", {{"state", "CONNECTING"}}}});
        send_packet(fd, ViciPacketType::cmd_response, {}, ordered_json::object());
        send_packet(fd, ViciPacketType::event, "list-sa", ordered_json{{"late", "dropped"}});
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_confirm);
    });
    auto vici = charon.connection();
    auto sas = vici.call_streaming("list-sas", ordered_json{{"noblock", true}}, "list-sa");
    REQUIRE(sas);
    REQUIRE(sas->size() == 2);
    CHECK((*sas)[0]["ike1"]["state"] == "ESTABLISHED");
    CHECK((*sas)[1]["ike2"]["state"] == "CONNECTING");

    // The unrelated event waits for read_event(); the late list-sa is gone.
    CHECK(vici.has_queued_events());
    auto other = vici.read_event();
    REQUIRE(other);
    CHECK(other->name == "ike-updown");
    CHECK(other->message["up"] == "yes");
    CHECK_FALSE(vici.has_queued_events());

    const auto& seen = charon.finish();
    REQUIRE(seen.size() == 3);
    CHECK((seen[0].type == ViciPacketType::event_register && seen[0].name == "list-sa"));
    CHECK((seen[1].type == ViciPacketType::cmd_request && seen[1].name == "list-sas"));
    CHECK(same(seen[1].message, encoded(ordered_json{{"noblock", "yes"}})));
    CHECK((seen[2].type == ViciPacketType::event_unregister && seen[2].name == "list-sa"));
}

TEST_CASE("vici connection: call_streaming fails on success = no, and on an event charon does not have")
{
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_confirm);
        if (!expect_packet(fd, seen))
            return;
        send_packet(fd, ViciPacketType::event, "control-log", ordered_json{{"msg", "initiating IKE_SA"}});
        send_packet(fd, ViciPacketType::cmd_response, {},
                    ordered_json{{"success", "no"}, {"errmsg", "establishing CHILD_SA 'x' failed"}});
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_confirm);
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_unknown);
    });
    auto vici = charon.connection();
    auto initiate = vici.call_streaming("initiate", ordered_json{{"child", "x"}}, "control-log");
    REQUIRE_FALSE(initiate);
    CHECK(initiate.error().message == "initiate: establishing CHILD_SA 'x' failed");
    auto bogus = vici.call_streaming("list-sas", ordered_json::object(), "no-such-event");
    REQUIRE_FALSE(bogus);
    CHECK(bogus.error().message == "charon has no event no-such-event");
    CHECK(charon.finish().size() == 4); // the command was never sent
}

TEST_CASE("vici connection: subscribe waits for EVENT_CONFIRM, EVENT_UNKNOWN is an error, events follow")
{
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_confirm);
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_unknown);
        send_packet(fd, ViciPacketType::event, "ike-updown", ordered_json{{"up", "yes"}});
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::event_confirm);
    });
    auto vici = charon.connection();
    CHECK(vici.subscribe("ike-updown"));
    CHECK(vici.subscribe("ike-updown")); // a second time sends nothing
    auto bogus = vici.subscribe("bogus");
    REQUIRE_FALSE(bogus);
    CHECK(bogus.error().message == "charon has no event bogus");
    auto event = vici.read_event();
    REQUIRE(event);
    CHECK(event->name == "ike-updown");
    CHECK(event->message["up"] == "yes");
    CHECK_FALSE(vici.call_streaming("list-sas", ordered_json::object(), "ike-updown")); // would double up
    CHECK(vici.unsubscribe("ike-updown"));

    const auto& seen = charon.finish();
    REQUIRE(seen.size() == 3);
    CHECK((seen[0].type == ViciPacketType::event_register && seen[0].name == "ike-updown"));
    CHECK(seen[1].name == "bogus");
    CHECK((seen[2].type == ViciPacketType::event_unregister && seen[2].name == "ike-updown"));
}

TEST_CASE("vici connection: a silent charon is a timeout, after which the connection refuses work")
{
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        expect_packet(fd, seen);
        expect_packet(fd, seen); // waits for the client to hang up; nothing more may come
    });
    {
        auto vici = charon.connection();
        auto started = std::chrono::steady_clock::now();
        auto reply = vici.call("initiate", ordered_json{{"child", "x"}}, 100ms);
        REQUIRE_FALSE(reply);
        CHECK(reply.error().errnum == ETIMEDOUT);
        CHECK(std::chrono::steady_clock::now() - started < 2s);
        auto again = vici.call("version");
        REQUIRE_FALSE(again);
        CHECK(again.error().message.find("out of step") != std::string::npos);
    } // hangs up
    CHECK(charon.finish().size() == 1);
}

TEST_CASE("vici connection: read_event with nothing there times out and the connection stays usable")
{
    std::promise<void> timed_out;
    FakeCharon charon([ready = timed_out.get_future().share()](int fd, std::vector<Seen>&) {
        if (ready.wait_for(3s) != std::future_status::ready)
            return;
        send_packet(fd, ViciPacketType::event, "ike-rekey", ordered_json{{"n", "1"}});
    });
    auto vici = charon.connection();
    auto nothing = vici.read_event(50ms);
    REQUIRE_FALSE(nothing);
    CHECK(nothing.error().errnum == ETIMEDOUT);
    timed_out.set_value();
    auto event = vici.read_event(3s);
    REQUIRE(event);
    CHECK(event->name == "ike-rekey");
}

TEST_CASE("vici connection: charon hanging up mid-call is an error, not a hang")
{
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        expect_packet(fd, seen);
        write_all(fd, bytes({0, 0, 0, 20, 1})); // a response cut short
        ::shutdown(fd, SHUT_RDWR);
    });
    auto vici = charon.connection();
    auto reply = vici.call("stats");
    REQUIRE_FALSE(reply);
    CHECK(reply.error().message.find("closed") != std::string::npos);
    CHECK_FALSE(vici.read_event(10ms));
}

TEST_CASE("vici connection: a bad command name is refused before anything is sent")
{
    FakeCharon charon([](int fd, std::vector<Seen>& seen) {
        if (expect_packet(fd, seen))
            send_packet(fd, ViciPacketType::cmd_response, {}, ordered_json::object());
    });
    auto vici = charon.connection();
    CHECK_FALSE(vici.call("bad\nname"));
    CHECK_FALSE(vici.call(std::string(256, 'c')));
    CHECK(vici.call("version"));
    REQUIRE(charon.finish().size() == 1);
    CHECK(charon.finish()[0].name == "version");
}

TEST_CASE("vici connection: connects to charon's UNIX socket by path")
{
    test::ScratchDir dir;
    std::string path = (dir.path() / "charon.vici").string();
    UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path.data(), path.size());
    REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener.get(), 1) == 0);
    std::vector<Seen> seen;
    std::thread server([&] {
        UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (fd && expect_packet(fd.get(), seen))
            send_packet(fd.get(), ViciPacketType::cmd_response, {}, ordered_json{{"daemon", "charon-systemd"}});
    });
    auto vici = ViciConnection::connect(path);
    if (!vici)
        ::shutdown(listener.get(), SHUT_RDWR); // let accept() return
    auto reply = vici ? vici->call("version") : fail(vici.error());
    server.join();
    REQUIRE(reply);
    CHECK((*reply)["daemon"] == "charon-systemd");
    CHECK(seen.size() == 1);

    auto missing = ViciConnection::connect((dir.path() / "absent").string());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().errnum == ENOENT);
    CHECK_FALSE(ViciConnection::connect(std::string(200, 'x')));
}
