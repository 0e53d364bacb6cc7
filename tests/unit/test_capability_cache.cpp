// The capability cache's key and file: pure logic (the probe itself and
// the file's checks run against the kernel in tests/host/probe-cache.sh).
#include "xfrmctl/engine/capability_cache.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

using namespace xfrmctl;
using namespace xfrmctl::engine;

namespace {

TransformProbe probe(const char* keyword, std::uint16_t family = AF_INET, bool esn = false)
{
    const model::Proposal* p = model::find_proposal(keyword);
    return {family, p->is_esp() ? model::Protocol::esp : model::Protocol::ah, p, esn};
}

const CacheKey kKey{"54130911-fde2-4037-9a05-4a29fe8f1376", "6.1.0", "abc", "/sbin/modprobe 0"};

CachedCapabilities sample()
{
    CachedCapabilities c{kKey, {}};
    c.caps.traits = {false, true, false, true, false, true, true, false, {}};
    c.caps.transforms = {{probe("aes256gcm16"), 0, ""},
                         {probe("chacha20poly1305", AF_INET6), 38, "Function not implemented"},
                         {probe("aes256gcm16", AF_INET, true), 0, ""}};
    return c;
}

} // namespace

TEST_CASE("the modules' digest follows the set of names, not their order, use counts or states")
{
    std::string a = "esp4 16384 2 - Live 0x0\nxfrm_interface 32768 0 - Live 0x0\n";
    std::string b = "xfrm_interface 32768 1 esp4, Live 0x0\nesp4 16384 0 - Loading 0x0\n";
    CHECK(modules_digest(a) == modules_digest(b));
    CHECK(modules_digest(a).size() == 64);
    CHECK(modules_digest(a) != modules_digest("esp4 16384 2 - Live 0x0\n")); // xfrm_interface unloaded
    CHECK(modules_digest(a) != modules_digest(a + "chacha20poly1305 16384 0 - Live 0x0\n"));
    CHECK(modules_digest("") == "");
}

TEST_CASE("this kernel's key is read whole")
{
    auto key = current_cache_key();
    REQUIRE(key);
    CHECK(key->boot_id.size() == 36);
    CHECK(!key->release.empty());
    CHECK(*key == *current_cache_key());
}

TEST_CASE("a cache reads back as it was written")
{
    auto parsed = parse_cache(format_cache(sample()));
    REQUIRE(parsed);
    CHECK(parsed->key == kKey);
    CHECK(parsed->caps.traits.xfrm_interfaces);
    CHECK(parsed->caps.traits.ipcomp6);
    CHECK(parsed->caps.traits.crypto_offload); // the offload traits survive the round trip
    CHECK_FALSE(parsed->caps.traits.packet_offload);
    CHECK_FALSE(parsed->caps.traits.vti);
    REQUIRE(parsed->caps.transforms.size() == 3);
    CHECK(parsed->caps.transforms[1].probe == probe("chacha20poly1305", AF_INET6));
    CHECK(parsed->caps.transforms[1].error == 38);
    CHECK(parsed->caps.transforms[1].reason == "Function not implemented");
    CHECK(parsed->caps.transforms[2].probe.esn);
}

TEST_CASE("a damaged cache is refused, never half believed")
{
    std::string good = format_cache(sample());
    CHECK_FALSE(parse_cache(good.substr(0, good.size() / 2)));
    CHECK_FALSE(parse_cache(""));
    CHECK_FALSE(parse_cache("[]"));
    std::string unknown = good;
    unknown.replace(unknown.find("chacha20poly1305"), 16, "rot13");
    CHECK_FALSE(parse_cache(unknown));
    std::string other_version = good;
    other_version.replace(other_version.find("\"version\": 2"), 12, "\"version\": 1"); // the previous one
    CHECK_FALSE(parse_cache(other_version));
    std::string no_traits = good;
    no_traits.replace(no_traits.find("\"vti6\""), 6, "\"vti7\"");
    CHECK_FALSE(parse_cache(no_traits));
}

TEST_CASE("a cache answers any subset of what it holds, under its own key only")
{
    auto answer = answer_from(sample(), kKey, {probe("aes256gcm16", AF_INET, true), probe("aes256gcm16")});
    REQUIRE(answer);
    REQUIRE(answer->transforms.size() == 2);
    CHECK(answer->transforms[0].probe.esn); // in the order asked
    CHECK(answer->traits.xfrm_interfaces);
    CHECK(answer_from(sample(), kKey, {}));
    CHECK_FALSE(answer_from(sample(), kKey, {probe("aes256gcm16", AF_INET6)})); // not probed yet
    for (auto changed : {&CacheKey::boot_id, &CacheKey::release, &CacheKey::modules, &CacheKey::autoload}) {
        CacheKey other = kKey;
        other.*changed += "x";
        CHECK_FALSE(answer_from(sample(), other, {probe("aes256gcm16")}));
    }
}

TEST_CASE("a fresh probe keeps what the cache knew of other transforms only under the same key")
{
    Capabilities fresh;
    fresh.traits.sa_dir = true;
    fresh.transforms = {{probe("chacha20poly1305", AF_INET6), 0, ""}};
    auto merged = merge_into(sample(), kKey, fresh);
    CHECK(merged.caps.traits.sa_dir); // the traits are the fresh ones
    REQUIRE(merged.caps.transforms.size() == 3);
    CHECK(merged.caps.transforms[0].error == 0); // the fresh result wins
    CHECK(answer_from(merged, kKey, {probe("aes256gcm16"), probe("chacha20poly1305", AF_INET6)}));
    CacheKey loaded = kKey;
    loaded.modules = "def";
    auto replaced = merge_into(sample(), loaded, fresh);
    CHECK(replaced.key == loaded);
    CHECK(replaced.caps.transforms.size() == 1);
    CHECK(merge_into(std::nullopt, kKey, fresh).caps.transforms.size() == 1);
}
