// The capability probe's answer kept for the boot: a probe forks a child
// into a network namespace of its own and costs most of a second on a slow
// kernel, while its answer changes only with the kernel (its boot and
// release) and the modules it has loaded. Kept per transform, so that a
// command needing fewer transforms than a previous one is answered too.
// The file holds no secrets; it is read only when it passes the checks a
// key file does, as a forged one could make us believe in algorithms the
// kernel lacks (see xfrmctl(8), CAPABILITY CACHE).
#pragma once

#include "xfrmctl/engine/capabilities.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xfrmctl::engine {

// What can change the probe's answer without the file noticing.
struct CacheKey {
    std::string boot_id; // /proc/sys/kernel/random/boot_id
    std::string release; // /proc/sys/kernel/osrelease
    std::string modules; // SHA-256 of the names in /proc/modules, sorted
    // Whether a missing module would be loaded on demand: the modprobe
    // helper and modules_disabled (an answer of "no" found with loading
    // turned off is not the answer once it is back on).
    std::string autoload;
    bool operator==(const CacheKey&) const = default;
};

// The digest of /proc/modules' module names (its first column), in any
// order: a module's use count or state does not change what it can do.
std::string modules_digest(std::string_view proc_modules);
// This kernel's key, now. A kernel without modules has an empty digest.
Result<CacheKey> current_cache_key();

struct CachedCapabilities {
    CacheKey key;
    Capabilities caps; // every transform ever probed under `key`
};

std::string format_cache(const CachedCapabilities& cache);
// Fails (with why) for anything but a whole cache this program wrote.
Result<CachedCapabilities> parse_cache(const std::string& text);

// The answer for `needed` when the cache was written under `key` and holds
// each of them; nullopt otherwise.
std::optional<Capabilities> answer_from(const CachedCapabilities& cache, const CacheKey& key,
                                        const std::vector<TransformProbe>& needed);
// A fresh answer with what the old cache knew of other transforms, when
// both were found under the same key (fresh results win).
CachedCapabilities merge_into(const std::optional<CachedCapabilities>& old, const CacheKey& key, const Capabilities& fresh);

// The cache file for a runtime directory (that of the control socket).
std::filesystem::path cache_file_in(const std::filesystem::path& runtime_dir);

struct ProbeAnswer {
    Capabilities caps;
    bool from_cache = false;
    std::optional<std::string> warning; // a cache refused as unsafe, and why
};

// How a command uses the cache. One that must write nothing (validate,
// plan, status, and every check: a check touches nothing, the cache
// included) only reads it; apply and xfrmd keep it; capabilities always
// asks the kernel and keeps the answer.
enum class CacheUse { read_only, read_write, refresh };

// The kernel's capabilities for `needed`: from the cache in `runtime_dir`
// when it is there, safe and current, else probed (and the cache
// refreshed, but for read_only). A cache that cannot be read, parsed or
// written is never an error: the kernel is asked.
Result<ProbeAnswer> probe_with_cache(const std::vector<TransformProbe>& needed, const std::filesystem::path& runtime_dir,
                                     CacheUse use);

} // namespace xfrmctl::engine
