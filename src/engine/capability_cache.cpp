#include "xfrmctl/engine/capability_cache.hpp"

#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/util/files.hpp"
#include "xfrmctl/util/safe_paths.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

namespace xfrmctl::engine {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kCacheVersion = 2; // 2: the offload traits
constexpr std::size_t kMaxCacheSize = 1 << 20;

std::string hex_sha256(const std::string& text)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned int i = 0; i < size; ++i)
        hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

// The first line of a /proc file, without its newline; empty if unreadable.
std::string first_line_of(const char* path)
{
    auto text = read_optional_file(path);
    if (!text || !*text)
        return "";
    return (*text)->substr(0, (*text)->find('\n'));
}

json transform_json(const ProbeResult& r)
{
    return {{"family", r.probe.family == AF_INET ? "ipv4" : "ipv6"},
            {"protocol", r.probe.protocol == model::Protocol::esp ? "esp" : "ah"},
            {"proposal", r.probe.proposal->keyword},
            {"esn", r.probe.esn},
            {"error", r.error},
            {"reason", r.reason}};
}

ProbeResult transform_from(const json& j)
{
    std::string family = j.at("family"), protocol = j.at("protocol"), keyword = j.at("proposal");
    const model::Proposal* proposal = model::find_proposal(keyword);
    if (!proposal || (family != "ipv4" && family != "ipv6") || (protocol != "esp" && protocol != "ah"))
        throw std::invalid_argument("an unknown transform"); // not quoted: the file is not a definition
    TransformProbe probe{static_cast<std::uint16_t>(family == "ipv4" ? AF_INET : AF_INET6),
                         protocol == "esp" ? model::Protocol::esp : model::Protocol::ah, proposal, j.at("esn").get<bool>()};
    return {probe, j.at("error").get<int>(), j.at("reason").get<std::string>()};
}

const ProbeResult* find_result(const Capabilities& caps, const TransformProbe& probe)
{
    auto it = std::find_if(caps.transforms.begin(), caps.transforms.end(),
                           [&](const ProbeResult& r) { return r.probe == probe; });
    return it == caps.transforms.end() ? nullptr : &*it;
}

} // namespace

std::string modules_digest(std::string_view proc_modules)
{
    std::vector<std::string> names;
    std::istringstream lines{std::string(proc_modules)};
    for (std::string line; std::getline(lines, line);)
        if (auto name = line.substr(0, line.find(' ')); !name.empty())
            names.push_back(name);
    if (names.empty())
        return "";
    std::sort(names.begin(), names.end());
    std::string joined;
    for (const auto& n : names)
        joined += n + "\n";
    return hex_sha256(joined);
}

Result<CacheKey> current_cache_key()
{
    CacheKey key{first_line_of("/proc/sys/kernel/random/boot_id"), first_line_of("/proc/sys/kernel/osrelease"), "",
                 first_line_of("/proc/sys/kernel/modprobe") + " " + first_line_of("/proc/sys/kernel/modules_disabled")};
    if (key.boot_id.empty() || key.release.empty())
        return fail("the kernel's boot id or release cannot be read");
    auto modules = read_optional_file("/proc/modules"); // absent: a kernel without modules
    if (!modules)
        return fail(modules.error());
    if (*modules)
        key.modules = modules_digest(**modules);
    return key;
}

std::string format_cache(const CachedCapabilities& cache)
{
    json transforms = json::array();
    for (const auto& r : cache.caps.transforms)
        transforms.push_back(transform_json(r));
    const auto& t = cache.caps.traits;
    json doc = {{"version", kCacheVersion},
                {"boot_id", cache.key.boot_id},
                {"release", cache.key.release},
                {"modules", cache.key.modules},
                {"autoload", cache.key.autoload},
                {"traits",
                 {{"sa_dir", t.sa_dir}, {"xfrm", t.xfrm_interfaces}, {"vti", t.vti}, {"vti6", t.vti6},
                  {"ipcomp4", t.ipcomp4}, {"ipcomp6", t.ipcomp6}, {"crypto_offload", t.crypto_offload},
                  {"packet_offload", t.packet_offload}}},
                {"transforms", transforms}};
    return doc.dump(1) + "\n";
}

Result<CachedCapabilities> parse_cache(const std::string& text)
{
    auto parsed = model::parse_json(text, "");
    if (!parsed)
        return fail("unreadable (" + parsed.error().where() + ")");
    try {
        const json& doc = *parsed;
        if (doc.at("version").get<int>() != kCacheVersion)
            return fail("written by another version");
        CachedCapabilities cache;
        cache.key = {doc.at("boot_id"), doc.at("release"), doc.at("modules"), doc.at("autoload")};
        const json& t = doc.at("traits");
        cache.caps.traits = {t.at("sa_dir"),  t.at("xfrm"),           t.at("vti"),
                             t.at("vti6"),    t.at("ipcomp4"),        t.at("ipcomp6"),
                             t.at("crypto_offload"), t.at("packet_offload"), {}};
        for (const json& j : doc.at("transforms"))
            cache.caps.transforms.push_back(transform_from(j));
        return cache;
    } catch (const std::exception& e) { // json's own, or an unknown transform
        return fail(std::string("unreadable (") + e.what() + ")");
    }
}

std::optional<Capabilities> answer_from(const CachedCapabilities& cache, const CacheKey& key,
                                        const std::vector<TransformProbe>& needed)
{
    if (!(cache.key == key))
        return std::nullopt;
    Capabilities caps{cache.caps.traits, {}};
    for (const auto& probe : needed) {
        const ProbeResult* r = find_result(cache.caps, probe);
        if (!r)
            return std::nullopt;
        caps.transforms.push_back(*r);
    }
    return caps;
}

CachedCapabilities merge_into(const std::optional<CachedCapabilities>& old, const CacheKey& key, const Capabilities& fresh)
{
    CachedCapabilities merged{key, fresh};
    if (!old || !(old->key == key))
        return merged;
    for (const auto& r : old->caps.transforms)
        if (!find_result(fresh, r.probe))
            merged.caps.transforms.push_back(r);
    return merged;
}

fs::path cache_file_in(const fs::path& runtime_dir) { return runtime_dir / "capabilities.json"; }

namespace {

// As a key file is checked (private_file_fault()), in a safe directory.
Status check_cache_file(const struct stat& st)
{
    if (auto fault = private_file_fault(st))
        switch (*fault) {
        case PrivateFileFault::not_regular: return fail("not a regular file");
        case PrivateFileFault::foreign_owner:
            return fail(fmt::format("owned by uid {}, not by root or the running user", st.st_uid));
        case PrivateFileFault::open_mode:
            return fail(fmt::format("permissions {:04o} let group or others reach it", st.st_mode & 07777));
        }
    return {};
}

struct CacheRead {
    std::optional<CachedCapabilities> cache;
    std::optional<std::string> refusal; // why a cache that is there was not trusted
};

CacheRead read_cache(const fs::path& runtime_dir)
{
    fs::path file = cache_file_in(runtime_dir);
    auto refused = [&](const std::string& why) {
        return CacheRead{std::nullopt, "ignoring the capability cache " + file.string() + ": " + why +
                                           "; the kernel is probed instead"};
    };
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd)
        return errno == ELOOP ? refused("a symbolic link") : CacheRead{}; // missing or unreadable: just probe
    if (auto safe = check_safe_directory(runtime_dir, "the runtime directory"); !safe)
        return refused(safe.error().message);
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0)
        return {};
    if (auto ok = check_cache_file(st); !ok)
        return refused(ok.error().message);
    auto text = read_unchanged(fd.get(), kMaxCacheSize);
    if (!text)
        return {};
    auto cache = parse_cache(*text);
    return cache ? CacheRead{std::move(*cache), std::nullopt} : CacheRead{};
}

// Best effort: a runtime directory we may not create or write (a user
// without root, a directory refused) leaves the next command to probe.
void write_cache(const fs::path& runtime_dir, const CachedCapabilities& cache)
{
    if (ensure_private_directory(runtime_dir, "the runtime directory"))
        (void)write_file_atomically(cache_file_in(runtime_dir), format_cache(cache), 0600);
}

} // namespace

Result<ProbeAnswer> probe_with_cache(const std::vector<TransformProbe>& needed, const fs::path& runtime_dir, CacheUse use)
{
    bool fresh = use == CacheUse::refresh;
    auto key = current_cache_key();
    CacheRead read = read_cache(runtime_dir);
    if (!fresh && key && read.cache)
        if (auto caps = answer_from(*read.cache, *key, needed))
            return ProbeAnswer{std::move(*caps), true, std::nullopt};
    auto caps = probe_kernel(needed);
    if (!caps)
        return fail(caps.error());
    // The probe may have loaded modules (esp4, a cipher): the answer is
    // kept under the key as it is now, with what the old cache knew only if
    // nothing was loaded in between.
    auto after = current_cache_key();
    if (after && use != CacheUse::read_only) {
        bool unchanged = key && *key == *after;
        write_cache(runtime_dir, merge_into(unchanged ? read.cache : std::nullopt, *after, *caps));
    }
    return ProbeAnswer{std::move(*caps), false, std::move(read.refusal)};
}

} // namespace xfrmctl::engine
