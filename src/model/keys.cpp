#include "xfrmctl/model/keys.hpp"

#include "cross_checks.hpp"
#include "xfrmctl/model/diagnostic.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xfrmctl::model {

namespace {

constexpr off_t kMaxKeyFileSize = 4096;

Error key_error(const Tunnel& t, const KeyRef& ref, const std::string& message)
{
    return Diagnostic{t.file, ref.path + "/key_file", "key file " + ref.written_as + ": " + message}.error();
}

// As ssh does for a private key: a regular file, owned by root or by us,
// that neither group nor others can reach in any way.
Status check_file(const Tunnel& t, const KeyRef& ref, const struct stat& st)
{
    if (!S_ISREG(st.st_mode))
        return fail(key_error(t, ref, "not a regular file"));
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return fail(key_error(t, ref, fmt::format("owned by uid {}; a key file must belong to root or to the user "
                                                  "running xfrmctl",
                                                  st.st_uid)));
    if (st.st_mode & 077)
        return fail(key_error(t, ref, fmt::format("permissions {:04o} are too open: a key file must not be "
                                                  "accessible by group or others (chmod 600 {})",
                                                  st.st_mode & 07777, ref.written_as)));
    if (st.st_size > kMaxKeyFileSize)
        return fail(key_error(t, ref, fmt::format("{} bytes is far too large for a key file", st.st_size)));
    return {};
}

Result<Secret> read_contents(const Tunnel& t, const KeyRef& ref)
{
    UniqueFd fd(::open(ref.key_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd)
        return fail(key_error(t, ref, std::strerror(errno)));
    struct stat st{};
    if (fstat(fd.get(), &st) != 0)
        return fail(key_error(t, ref, std::strerror(errno)));
    if (auto ok = check_file(t, ref, st); !ok)
        return fail(ok.error());
    Secret raw(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < raw.size()) {
        ssize_t n = ::read(fd.get(), raw.data() + got, raw.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail(key_error(t, ref, n < 0 ? std::strerror(errno) : "file shrank while it was read"));
        got += static_cast<std::size_t>(n);
    }
    return raw;
}

int hex_value(std::uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
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
    for (std::size_t i = begin; i < end; i += 2) {
        int high = hex_value(raw.data()[i]), low = hex_value(raw.data()[i + 1]);
        if (high < 0 || low < 0)
            return fail(key_error(t, ref, fmt::format("not hex: byte {} of the file is not a hex digit",
                                                      (high < 0 ? i : i + 1) + 1)));
        key.data()[(i - begin) / 2] = static_cast<std::uint8_t>(high << 4 | low);
    }
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

Result<Secret> read_key_file(const Tunnel& t, const KeyRef& ref, const Proposal& proposal)
{
    auto raw = read_contents(t, ref);
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

const Secret* KeyRing::find(const std::string& path) const
{
    auto it = keys_.find(path);
    return it == keys_.end() ? nullptr : &it->second;
}

namespace {

Status load_tunnel_keys(const Tunnel& t, KeyRing& ring, std::map<netlink::KeyFingerprint, std::string>& seen)
{
    Status result;
    for_each_key(t, [&](const KeyRef& ref, Protocol proto, bool) {
        if (!result)
            return;
        const Proposal& proposal = *(proto == Protocol::esp ? t.esp_proposal : t.ah_proposal);
        auto key = read_key_file(t, ref, proposal);
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

} // namespace

Result<KeyRing> load_keys(const Definitions& defs)
{
    KeyRing ring;
    std::map<netlink::KeyFingerprint, std::string> seen;
    for (const auto& t : defs.tunnels)
        if (t.present)
            if (auto ok = load_tunnel_keys(t, ring, seen); !ok)
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
