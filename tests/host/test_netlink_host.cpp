// The netlink layer against the host's real kernel (policies only: this
// kernel has no ESP or AH, so it refuses every SA, which is tested too).
#include "xfrmctl/netlink/kernel.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <memory>
#include <string>

using namespace xfrmctl;
using namespace xfrmctl::netlink;

namespace {

PolicyEntry policy(int third_octet, Direction dir = Direction::out)
{
    PolicyEntry p;
    p.id.dir = dir;
    p.id.selector.src = *Prefix::parse("10.1.0.0/24");
    p.id.selector.dst = *Prefix::parse("10.2." + std::to_string(third_octet) + ".0/24");
    p.priority = 100;
    Template t;
    t.family = AF_INET;
    t.saddr = *IpAddress::parse("192.0.2.1");
    t.daddr = *IpAddress::parse("198.51.100.7");
    t.proto = IPPROTO_ESP;
    t.mode = Mode::tunnel;
    t.reqid = 42;
    p.templates.push_back(t);
    return p;
}

std::string run(const std::string& command)
{
    std::string out;
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    char buf[4096];
    while (pipe && fgets(buf, sizeof buf, pipe.get()))
        out += buf;
    return out;
}

int count_lines(const std::string& text, const std::string& needle)
{
    int n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

void flush_policies() { run("ip xfrm policy flush"); }

} // namespace

TEST_CASE("policies are installed, listed, changed and removed")
{
    flush_policies();
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    std::vector<Request> adds;
    adds.push_back(build_policy(XFRM_MSG_NEWPOLICY, policy(1)));
    adds.push_back(build_policy(XFRM_MSG_NEWPOLICY, policy(2, Direction::in)));
    auto acks = kernel->execute(adds);
    REQUIRE(acks);
    CHECK((*acks)[0].ok());
    CHECK((*acks)[1].ok());

    auto listed = kernel->policies();
    REQUIRE(listed);
    REQUIRE(listed->size() == 2);
    // iproute2, a second opinion, sees the same two.
    CHECK(count_lines(run("ip xfrm policy list"), "tmpl src 192.0.2.1 dst 198.51.100.7") == 2);

    PolicyEntry changed = policy(1);
    changed.priority = 555;
    Request update = build_policy(XFRM_MSG_UPDPOLICY, changed);
    acks = kernel->execute(std::span(&update, 1));
    REQUIRE(acks);
    CHECK((*acks)[0].ok());
    auto got = kernel->policy(changed.id);
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->priority == 555);
    CHECK((*got)->same_config(changed));
    CHECK(run("ip xfrm policy list").find("priority 555") != std::string::npos);

    Request remove = build_policy_delete(changed.id);
    acks = kernel->execute(std::span(&remove, 1));
    REQUIRE(acks);
    CHECK((*acks)[0].ok());
    got = kernel->policy(changed.id);
    REQUIRE(got);
    CHECK_FALSE(got->has_value());
    listed = kernel->policies();
    REQUIRE(listed);
    CHECK(listed->size() == 1);
    flush_policies();
}

TEST_CASE("one refused request in a batch does not stop the others, and each ACK is matched")
{
    flush_policies();
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    std::vector<Request> batch;
    for (int i = 0; i < 600; ++i)
        batch.push_back(build_policy(XFRM_MSG_NEWPOLICY, policy(i % 256, i < 256 ? Direction::out : i < 512 ? Direction::in : Direction::fwd)));
    batch.push_back(build_policy(XFRM_MSG_NEWPOLICY, policy(3))); // already there
    batch.push_back(build_policy(XFRM_MSG_NEWPOLICY, policy(200, Direction::fwd)));
    auto acks = kernel->execute(batch);
    REQUIRE(acks);
    REQUIRE(acks->size() == batch.size());
    int refused = 0;
    for (std::size_t i = 0; i < 600; ++i)
        refused += !(*acks)[i].ok();
    CHECK(refused == 0);
    CHECK((*acks)[600].error == EEXIST);
    CHECK((*acks)[601].ok()); // fwd policies so far cover 0..87 only
    auto listed = kernel->policies();
    REQUIRE(listed);
    CHECK(listed->size() == 601);
    flush_policies();
}

namespace {

// A request socket whose receive buffer holds only a few answers.
XfrmSocket tiny_socket()
{
    auto socket = XfrmSocket::open();
    REQUIRE(socket);
    int tiny = 1; // the kernel rounds this up to its minimum
    REQUIRE(setsockopt(socket->fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny) == 0);
    return std::move(*socket);
}

} // namespace

TEST_CASE("a batch asks for one ACK: a tiny receive buffer still learns every request's fate")
{
    flush_policies();
    XfrmSocket socket = tiny_socket();
    std::vector<Request> batch;
    for (int i = 0; i < 256; ++i)
        batch.push_back(build_policy(XFRM_MSG_NEWPOLICY, policy(i)));
    auto acks = socket.transact(batch);
    REQUIRE(acks);
    int done = 0;
    for (const auto& a : *acks)
        done += a.ok();
    CHECK(done == 256);
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    auto listed = kernel->policies();
    REQUIRE(listed);
    CHECK(listed->size() == 256);
    flush_policies();
}

TEST_CASE("refusals lost to a full receive buffer are reported as unanswered, never as done")
{
    flush_policies();
    std::vector<Request> batch;
    for (int i = 0; i < 256; ++i)
        batch.push_back(build_policy(XFRM_MSG_NEWPOLICY, policy(i)));
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    REQUIRE(kernel->execute(batch));
    XfrmSocket socket = tiny_socket();
    auto acks = socket.transact(batch); // each one refused: EEXIST, an answer of its own
    if (!acks)
        FAIL(acks.error().message);
    int refused = 0, lost = 0;
    for (const auto& a : *acks) {
        CHECK_FALSE(a.ok());
        if (a.answered) {
            CHECK(a.error == EEXIST);
            ++refused;
        } else {
            ++lost;
        }
    }
    CHECK(lost > 0);
    CHECK(refused + lost == 256);
    flush_policies();
}

TEST_CASE("a dump of thousands of policies spans many messages and misses none")
{
    flush_policies();
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    std::vector<Request> batch;
    for (int a = 0; a < 20; ++a)
        for (int b = 0; b < 250; ++b) {
            PolicyEntry p = policy(b);
            p.id.selector.src = *Prefix::parse("10.100." + std::to_string(a) + ".0/24");
            batch.push_back(build_policy(XFRM_MSG_NEWPOLICY, p));
        }
    auto acks = kernel->execute(batch);
    REQUIRE(acks);
    for (const auto& a : *acks)
        REQUIRE(a.ok());
    auto listed = kernel->policies();
    REQUIRE(listed);
    CHECK(listed->size() == 5000);
    flush_policies();
}

namespace {

SaEntry esp_sa()
{
    SaEntry sa;
    sa.id = SaId{*IpAddress::parse("198.51.100.7"), 0x1000, IPPROTO_ESP, {}};
    sa.saddr = *IpAddress::parse("192.0.2.1");
    sa.mode = Mode::tunnel;
    return sa;
}

Ack add_one(const SaEntry& sa)
{
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    Request add = build_sa(XFRM_MSG_NEWSA, sa);
    auto acks = kernel->execute(std::span(&add, 1));
    REQUIRE(acks);
    auto sas = kernel->sas();
    REQUIRE(sas);
    CHECK(sas->empty());
    return (*acks)[0];
}

} // namespace

TEST_CASE("the kernel's refusal of an SA comes back with its reason: no ESP here")
{
    SaEntry sa = esp_sa();
    sa.crypt = SaAlgorithm{"cbc(aes)", 256, 0, Secret(32), {}};
    sa.auth = SaAlgorithm{"hmac(sha256)", 256, 128, Secret(32), {}};
    Ack ack = add_one(sa);
    CHECK(ack.answered);
    CHECK(ack.error == EPROTONOSUPPORT);
    CHECK(ack.message == "Requested type not found");
    CHECK(ack.describe() == "Protocol not supported (kernel: Requested type not found)");
}

TEST_CASE("the kernel's refusal of an SA comes back with its reason: no GCM here")
{
    SaEntry sa = esp_sa();
    sa.aead = SaAlgorithm{"rfc4106(gcm(aes))", 288, 128, Secret(36), {}};
    Ack ack = add_one(sa);
    CHECK(ack.error == ENOSYS);
    CHECK(ack.message == "Requested AEAD algorithm not found");
}
