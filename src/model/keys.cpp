#include "xfrmctl/model/keys.hpp"

#include "cross_checks.hpp"
#include "xfrmctl/model/diagnostic.hpp"
#include "xfrmctl/model/psk.hpp"
#include "xfrmctl/util/file_batch.hpp"
#include "xfrmctl/util/files.hpp"
#include "xfrmctl/util/safe_paths.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace xfrmctl::model {

namespace {

constexpr off_t kMaxKeyFileSize = 4096;

// A file that holds a secret, as a definition names it. Messages name it
// by the JSON path of that field, never by the name written there: a key
// pasted into the field by mistake would be printed and logged.
struct SecretFile {
    const std::string& file;
    std::string json_path; // of the field that names the file
    std::string_view what; // "key file", "PSK file", "private key"
};

Error file_error(const Tunnel& t, const SecretFile& f, const std::string& message)
{
    return Diagnostic{t.file, f.json_path, fmt::format("{}: {}", f.what, message)}.error();
}

SecretFile key_file(const KeyRef& ref)
{
    return {ref.key_file, ref.path + "/key_file", "key file"};
}

Error key_error(const Tunnel& t, const KeyRef& ref, const std::string& message)
{
    return file_error(t, key_file(ref), message);
}

// As ssh does for a private key: a regular file, owned by root or by us,
// that neither group nor others can reach in any way.
Status check_file(const Tunnel& t, const SecretFile& f, const struct stat& st)
{
    if (auto fault = private_file_fault(st))
        switch (*fault) {
        case PrivateFileFault::not_regular: return fail(file_error(t, f, "not a regular file"));
        case PrivateFileFault::foreign_owner:
            return fail(file_error(t, f, fmt::format("owned by uid {}; a {} must belong to root or to the user "
                                                     "running xfrmctl",
                                                     st.st_uid, f.what)));
        case PrivateFileFault::open_mode:
            return fail(file_error(t, f, fmt::format("permissions {:04o} are too open: a {} must not be "
                                                     "accessible by group or others (chmod 600)",
                                                     st.st_mode & 07777, f.what)));
        }
    if (st.st_size > kMaxKeyFileSize)
        return fail(file_error(t, f, fmt::format("{} bytes is far too large for a {}", st.st_size, f.what)));
    return {};
}

// A file read ahead with the others (read_small_files), checked as if it
// had been opened now; taken out of `read_ahead`, so a second look reads it
// again.
std::optional<Result<Secret>> take_read_ahead(const Tunnel& t, const SecretFile& f, FileSnapshots* read_ahead,
                                              struct stat* as_read)
{
    auto node = read_ahead ? read_ahead->extract(f.file) : FileSnapshots::node_type{};
    if (node.empty())
        return std::nullopt;
    if (as_read)
        *as_read = node.mapped().st;
    if (auto ok = check_file(t, f, node.mapped().st); !ok)
        return fail(ok.error());
    return std::move(node.mapped().contents);
}

// The file's contents as they were at one moment: `as_read` is the version
// read (a key file replaced or rewritten while it is read is an error, not
// a key made of two).
Result<Secret> read_contents(const Tunnel& t, const SecretFile& f, struct stat* as_read = nullptr,
                             FileSnapshots* read_ahead = nullptr)
{
    if (auto taken = take_read_ahead(t, f, read_ahead, as_read))
        return std::move(*taken);
    UniqueFd fd(::open(f.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd)
        return fail(file_error(t, f, std::strerror(errno)));
    struct stat st{}, after{};
    if (fstat(fd.get(), &st) != 0)
        return fail(file_error(t, f, std::strerror(errno)));
    if (as_read)
        *as_read = st;
    if (auto ok = check_file(t, f, st); !ok)
        return fail(ok.error());
    Secret raw(static_cast<std::size_t>(st.st_size) + 1); // one more byte: the end must be where fstat said
    std::size_t got = 0;
    // Until fstat's size (one read, mostly): a file that grew shows in the
    // extra byte, or in the second fstat.
    for (ssize_t n = 1; n != 0 && got < static_cast<std::size_t>(st.st_size);) {
        n = ::read(fd.get(), raw.data() + got, raw.size() - got);
        if (n < 0 && errno != EINTR)
            return fail(file_error(t, f, std::strerror(errno)));
        got += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    if (got != static_cast<std::size_t>(st.st_size) || fstat(fd.get(), &after) != 0 || !same_version(st, after))
        return fail(file_error(t, f, "changed while it was read"));
    return Secret::copy_of(raw.bytes().first(got));
}

// Hex digits, an optional "0x" before them and one optional line end after.
// Messages give positions, never the characters: they could be key material.
Result<Secret> decode_hex(const Tunnel& t, const KeyRef& ref, const Secret& raw)
{
    std::size_t begin = 0, end = raw.size();
    if (end >= 2 && raw.data()[0] == '0' && (raw.data()[1] == 'x' || raw.data()[1] == 'X'))
        begin = 2;
    if (end > begin && raw.data()[end - 1] == '\n')
        --end;
    if (end > begin && raw.data()[end - 1] == '\r')
        --end;
    if (end == begin)
        return fail(key_error(t, ref, "empty: it should hold the key in hex"));
    if ((end - begin) % 2)
        return fail(key_error(t, ref, fmt::format("an odd number of hex digits ({})", end - begin)));
    Secret key((end - begin) / 2);
    if (auto bad = decode_hex_digits(std::span(raw.data() + begin, end - begin), key.data()))
        return fail(key_error(t, ref, fmt::format("not hex: byte {} of the file is not a hex digit", begin + *bad + 1)));
    return key;
}

bool all_zero(const Secret& key)
{
    std::uint8_t any = 0;
    for (auto b : key.bytes())
        any |= b;
    return any == 0;
}

} // namespace

namespace {

constexpr int kKeyReadAttempts = 5;

Result<Secret> read_key_once(const Tunnel& t, const KeyRef& ref, const Proposal& proposal, struct stat& as_read,
                             FileSnapshots* read_ahead)
{
    auto raw = read_contents(t, key_file(ref), &as_read, read_ahead);
    if (!raw)
        return raw;
    auto key = decode_hex(t, ref, *raw);
    if (!key)
        return key;
    if (key->size() != proposal.key_file_bytes())
        return fail(key_error(t, ref, fmt::format("holds {} bytes; {} needs {} ({})", key->size(), proposal.keyword,
                                                  proposal.key_file_bytes(), proposal.key_layout())));
    if (all_zero(*key))
        return fail(key_error(t, ref, "the key is all zeros"));
    return key;
}

} // namespace

// A key file caught while it is replaced or written (truncated, half
// there, or changing) is read again once its writer is done; a file that
// stays as it was read keeps its error. One that changes at every try is
// refused as such, as the definitions are (loader.cpp).
Result<Secret> read_key_file(const Tunnel& t, const KeyRef& ref, const Proposal& proposal, FileSnapshots* read_ahead)
{
    const std::string& file = ref.key_file;
    return read_while_written<Secret>(kKeyReadAttempts, [&](FailedRead& after) {
        struct stat as_read{}, now{};
        auto key = read_key_once(t, ref, proposal, as_read, read_ahead);
        if (key || ::stat(file.c_str(), &now) != 0)
            return key; // a file gone keeps its error
        after.as_read = same_version(as_read, now);
        after.written_lately = modified_lately(now);
        after.still_as_read = [&file, as_read] {
            struct stat later{};
            return ::stat(file.c_str(), &later) != 0 || same_version(as_read, later);
        };
        return key;
    });
}

const Secret* KeyRing::find(const std::string& path) const
{
    auto it = keys_.find(path);
    return it == keys_.end() ? nullptr : &it->second;
}

namespace {

// The PSK file's format: psk.hpp.
Result<Secret> read_psk(const Tunnel& t, const SecretFile& f, const Secret& raw)
{
    auto psk = decode_psk(raw.bytes());
    if (!psk)
        return fail(file_error(t, f, psk.error().message));
    return psk;
}

Status load_ikev2_secrets(const Tunnel& t, KeyRing& ring)
{
    const Ikev2& ike = *t.ikev2;
    const FileRef& ref = ike.psk_file ? *ike.psk_file : *ike.private_key;
    SecretFile f{ref.file.native(), ref.path, ike.psk_file ? "PSK file" : "private key"};
    auto raw = read_contents(t, f);
    if (!raw)
        return fail(raw.error());
    if (!ike.psk_file) {
        ring.add(ike.secret_id, std::move(*raw));
        return {};
    }
    auto psk = read_psk(t, f, *raw);
    if (!psk)
        return fail(psk.error());
    ring.add(ike.secret_id, std::move(*psk));
    return {};
}

Status load_tunnel_keys(const Tunnel& t, KeyRing& ring, std::map<netlink::KeyFingerprint, std::string>& seen,
                        FileSnapshots* read_ahead = nullptr)
{
    if (t.ikev2)
        return load_ikev2_secrets(t, ring);
    Status result;
    for_each_key(t, [&](const KeyRef& ref, Protocol proto, bool) {
        if (!result)
            return;
        const Proposal& proposal = *(proto == Protocol::esp ? t.esp_proposal : t.ah_proposal);
        auto key = read_key_file(t, ref, proposal, read_ahead);
        if (!key) {
            result = fail(key.error());
            return;
        }
        auto [it, fresh] = seen.emplace(netlink::fingerprint_of(key->bytes()), ref.path);
        if (!fresh)
            result = fail(key_error(t, ref, "holds the same key as " + it->second + ": every SA needs a key of its own"));
        else
            ring.add(ref.path, std::move(*key));
    });
    return result;
}

// The manual key files of the present tunnels, to be read in one go.
std::vector<std::string> manual_key_files(const Definitions& defs)
{
    std::vector<std::string> files;
    for (const auto& t : defs.tunnels)
        if (t.present && !t.ikev2)
            for_each_key(t, [&](const KeyRef& ref, Protocol, bool) { files.push_back(ref.key_file); });
    return files;
}

} // namespace

Result<KeyRing> load_keys(const Definitions& defs)
{
    KeyRing ring;
    std::map<netlink::KeyFingerprint, std::string> seen;
    FileSnapshots read_ahead = read_small_files(manual_key_files(defs), kMaxKeyFileSize);
    for (const auto& t : defs.tunnels)
        if (t.present)
            if (auto ok = load_tunnel_keys(t, ring, seen, &read_ahead); !ok)
                return fail(ok.error());
    return ring;
}

Result<KeyRing> load_keys(const Tunnel& t)
{
    KeyRing ring;
    std::map<netlink::KeyFingerprint, std::string> seen;
    if (auto ok = load_tunnel_keys(t, ring, seen); !ok)
        return fail(ok.error());
    return ring;
}

} // namespace xfrmctl::model
