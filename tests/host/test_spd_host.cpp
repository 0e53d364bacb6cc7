// Host-wide SPD settings against the host's kernel, in the fresh namespace.
#include "xfrmctl/netlink/kernel.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

using namespace xfrmctl;
using namespace xfrmctl::netlink;

TEST_CASE("SPD hash thresholds read back as set, per family")
{
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    auto before = kernel->spd_info();
    REQUIRE(before);
    CHECK(before->ipv4 == HashThresholds{32, 32}); // a fresh namespace
    CHECK(before->ipv6 == HashThresholds{128, 128});
    std::vector<Request> set;
    set.push_back(build_hash_thresholds(AF_INET, {24, 16}));
    set.push_back(build_hash_thresholds(AF_INET6, {64, 48}));
    auto acks = kernel->execute(set);
    REQUIRE(acks);
    CHECK((*acks)[0].ok());
    CHECK((*acks)[1].ok());
    auto after = kernel->spd_info();
    REQUIRE(after);
    CHECK(after->ipv4 == HashThresholds{24, 16});
    CHECK(after->ipv6 == HashThresholds{64, 48});
    std::vector<Request> restore;
    restore.push_back(build_hash_thresholds(AF_INET, {32, 32}));
    restore.push_back(build_hash_thresholds(AF_INET6, {128, 128}));
    REQUIRE(kernel->execute(restore));
}

TEST_CASE("the kernel's default policy reads back as set")
{
    auto kernel = Kernel::open();
    REQUIRE(kernel);
    auto before = kernel->default_policy();
    REQUIRE(before);
    REQUIRE(before->has_value()); // this kernel is newer than 5.16
    Request block = build_default_set({XFRM_USERPOLICY_BLOCK, XFRM_USERPOLICY_BLOCK, XFRM_USERPOLICY_ACCEPT});
    auto acks = kernel->execute(std::span(&block, 1));
    REQUIRE(acks);
    CHECK((*acks)[0].ok());
    auto after = kernel->default_policy();
    REQUIRE(after);
    CHECK(**after == DefaultPolicy{XFRM_USERPOLICY_BLOCK, XFRM_USERPOLICY_BLOCK, XFRM_USERPOLICY_ACCEPT});
    Request undo = build_default_set(**before);
    REQUIRE(kernel->execute(std::span(&undo, 1)));
}
