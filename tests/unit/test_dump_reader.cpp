// The dump reader on crafted kernel answers: no kernel needed.
#include "xfrmctl/netlink/socket.hpp"

#include <doctest/doctest.h>
#include <linux/xfrm.h>

#include <cstring>
#include <vector>

using namespace xfrmctl;
using namespace xfrmctl::netlink;

namespace {

// Kernel answers laid end to end in one receive buffer.
class Answers {
public:
    Answers& message(std::uint16_t type, std::uint32_t seq, std::uint16_t flags = NLM_F_MULTI, int error = 0)
    {
        std::size_t at = bytes_.size();
        std::size_t payload = type == NLMSG_ERROR ? sizeof(nlmsgerr) : type == NLMSG_DONE ? sizeof(int) : 8;
        bytes_.resize(at + NLMSG_ALIGN(NLMSG_HDRLEN + payload));
        auto* nlh = reinterpret_cast<nlmsghdr*>(bytes_.data() + at);
        nlh->nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + payload);
        nlh->nlmsg_type = type;
        nlh->nlmsg_seq = seq;
        nlh->nlmsg_flags = flags;
        if (type == NLMSG_ERROR)
            static_cast<nlmsgerr*>(NLMSG_DATA(nlh))->error = -error;
        return *this;
    }
    std::span<const std::uint8_t> bytes() const { return bytes_; }

private:
    std::vector<std::uint8_t> bytes_;
};

} // namespace

TEST_CASE("a dump is read to its end, visiting every entry of our request only")
{
    int visited = 0;
    std::function<Status(const nlmsghdr*)> visit = [&](const nlmsghdr*) -> Status { ++visited; return {}; };
    DumpReader reader(7, visit);
    Answers first, second;
    first.message(XFRM_MSG_NEWSA, 7).message(XFRM_MSG_NEWSA, 6).message(XFRM_MSG_NEWSA, 7);
    second.message(XFRM_MSG_NEWSA, 7).message(NLMSG_DONE, 7);
    CHECK(reader.feed(first.bytes()) == DumpReader::State::reading);
    CHECK(reader.feed(second.bytes()) == DumpReader::State::done);
    CHECK(visited == 3);
    CHECK_FALSE(reader.interrupted());
    CHECK(reader.result());
}

TEST_CASE("an interrupted dump stops visiting, reads to the end and asks to be run again")
{
    int visited = 0;
    std::function<Status(const nlmsghdr*)> visit = [&](const nlmsghdr*) -> Status { ++visited; return {}; };
    DumpReader reader(3, visit);
    Answers a;
    a.message(XFRM_MSG_NEWPOLICY, 3)
        .message(XFRM_MSG_NEWPOLICY, 3, NLM_F_MULTI | NLM_F_DUMP_INTR)
        .message(XFRM_MSG_NEWPOLICY, 3)
        .message(NLMSG_DONE, 3);
    CHECK(reader.feed(a.bytes()) == DumpReader::State::done);
    CHECK(reader.interrupted());
    CHECK(visited == 1);
}

TEST_CASE("a kernel error ends the dump with the kernel's reason")
{
    std::function<Status(const nlmsghdr*)> visit = [](const nlmsghdr*) -> Status { return {}; };
    DumpReader reader(9, visit);
    Answers a;
    a.message(NLMSG_ERROR, 9, 0, EPERM);
    CHECK(reader.feed(a.bytes()) == DumpReader::State::done);
    REQUIRE_FALSE(reader.result());
    CHECK(reader.result().error().errnum == EPERM);
}

TEST_CASE("an entry that cannot be parsed fails the dump, which is still read to its end")
{
    int visited = 0;
    std::function<Status(const nlmsghdr*)> visit = [&](const nlmsghdr*) -> Status {
        ++visited;
        return fail("bad entry");
    };
    DumpReader reader(1, visit);
    Answers a;
    a.message(XFRM_MSG_NEWSA, 1).message(XFRM_MSG_NEWSA, 1);
    CHECK(reader.feed(a.bytes()) == DumpReader::State::reading);
    Answers end;
    end.message(NLMSG_DONE, 1);
    CHECK(reader.feed(end.bytes()) == DumpReader::State::done);
    CHECK(visited == 1);
    CHECK(reader.result().error().message == "bad entry");
}

namespace {

// An error ACK as netlink_ack() builds it: the request's header (and, when
// not capped, its payload padded to 4 bytes), then the extended-ACK TLVs.
std::vector<std::uint8_t> error_ack(int error, std::uint32_t echoed_payload, bool capped, const char* text)
{
    std::size_t echo = capped ? 0 : NLMSG_ALIGN(echoed_payload);
    std::size_t text_len = std::strlen(text) + 1;
    std::size_t tlv = NLA_ALIGN(NLA_HDRLEN + text_len);
    std::vector<std::uint8_t> bytes(NLMSG_HDRLEN + sizeof(nlmsgerr) + echo + tlv);
    auto* nlh = reinterpret_cast<nlmsghdr*>(bytes.data());
    nlh->nlmsg_len = static_cast<std::uint32_t>(bytes.size());
    nlh->nlmsg_type = NLMSG_ERROR;
    nlh->nlmsg_flags = NLM_F_ACK_TLVS | (capped ? NLM_F_CAPPED : 0);
    auto* err = static_cast<nlmsgerr*>(NLMSG_DATA(nlh));
    err->error = -error;
    err->msg.nlmsg_len = static_cast<std::uint32_t>(NLMSG_HDRLEN + echoed_payload);
    auto* attr = reinterpret_cast<nlattr*>(bytes.data() + NLMSG_HDRLEN + sizeof(nlmsgerr) + echo);
    attr->nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + text_len);
    attr->nla_type = NLMSGERR_ATTR_MSG;
    std::memcpy(reinterpret_cast<char*>(attr) + NLA_HDRLEN, text, text_len);
    return bytes;
}

} // namespace

TEST_CASE("an error ACK gives the kernel's errno and extended-ACK text")
{
    SUBCASE("capped")
    {
        auto bytes = error_ack(EINVAL, 0, true, "Invalid key length");
        Ack ack = parse_ack(reinterpret_cast<const nlmsghdr*>(bytes.data()));
        CHECK(ack.error == EINVAL);
        CHECK(ack.message == "Invalid key length");
    }
    SUBCASE("with the request echoed, its odd length padded")
    {
        auto bytes = error_ack(EEXIST, 13, false, "Entry exists");
        Ack ack = parse_ack(reinterpret_cast<const nlmsghdr*>(bytes.data()));
        CHECK(ack.error == EEXIST);
        CHECK(ack.message == "Entry exists");
    }
    SUBCASE("an echoed length shorter than a header is not believed")
    {
        auto bytes = error_ack(EINVAL, 0, false, "x");
        reinterpret_cast<nlmsgerr*>(bytes.data() + NLMSG_HDRLEN)->msg.nlmsg_len = 3;
        Ack ack = parse_ack(reinterpret_cast<const nlmsghdr*>(bytes.data()));
        CHECK(ack.error == EINVAL);
        CHECK(ack.message.empty());
    }
}
