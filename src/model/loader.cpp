#include "xfrmctl/model/loader.hpp"

#include "cross_checks.hpp"
#include "host_reader.hpp"
#include "tunnel_reader.hpp"
#include "xfrmctl/model/json_reader.hpp"

#include <fmt/format.h>

#include "xfrmctl/util/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <regex>

namespace xfrmctl::model {

const char* protocol_name(Protocol p)
{
    return p == Protocol::esp ? "esp" : p == Protocol::ah ? "ah" : "ah+esp";
}

const Generation* Tunnel::sender(std::int64_t now) const
{
    for (auto it = generations.rbegin(); it != generations.rend(); ++it)
        if (it->sends_at(now))
            return &*it;
    return nullptr;
}

const Tunnel* Definitions::find(const std::string& name) const
{
    for (const auto& t : tunnels)
        if (t.name == name)
            return &t;
    return nullptr;
}

namespace {

constexpr std::size_t kMaxFileSize = 64 * 1024 * 1024;
constexpr int kReadAttempts = 5;

// The definitions as they were at one moment. The directory is opened once
// and its files read through that descriptor, so a directory swapped under
// its name (a symlink flipped to a new version) is read whole or not at
// all; a file written, added, removed or renamed meanwhile makes the read
// start over (errnum EAGAIN), since a file missed would be a tunnel taken
// down.
class DefinitionSource {
public:
    static Result<DefinitionSource> open(const std::filesystem::path& path);
    const std::vector<std::filesystem::path>& files() const { return files_; }
    Result<std::string> read(const std::filesystem::path& file) const;
    Status unchanged() const; // the directory still lists what it did
    // Whether the directory and every file read are still as they were
    // read: a file caught half written fails to parse, and is then seen
    // changed once its writer is done.
    bool still_as_read() const;
    bool written_lately() const; // a file read was modified within the last second

private:
    std::filesystem::path path_;
    UniqueFd dir_; // none when the path is one file
    struct stat listed_{};
    std::vector<std::filesystem::path> files_;
    mutable std::vector<std::pair<std::filesystem::path, struct stat>> read_;
};

Result<DefinitionSource> DefinitionSource::open(const std::filesystem::path& path)
{
    DefinitionSource source;
    source.path_ = path;
    source.dir_ = UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!source.dir_) {
        if (errno == ENOENT)
            return fail(fmt::format("{}: no such file or directory", path.string()));
        source.files_.push_back(path); // a single file (or a reason to fail when it is read)
        return source;
    }
    if (fstat(source.dir_.get(), &source.listed_) != 0)
        return fail(Error::from_errno(path.string() + ": cannot list", errno));
    std::unique_ptr<DIR, int (*)(DIR*)> dir(fdopendir(::dup(source.dir_.get())), closedir);
    if (!dir)
        return fail(Error::from_errno(path.string() + ": cannot list", errno));
    while (const dirent* entry = readdir(dir.get())) {
        std::string name = entry->d_name;
        if (name.size() > 5 && name.ends_with(".json") && name[0] != '.')
            source.files_.push_back(path / name);
    }
    std::sort(source.files_.begin(), source.files_.end());
    return source;
}

Result<std::string> DefinitionSource::read(const std::filesystem::path& file) const
{
    UniqueFd fd(dir_ ? ::openat(dir_.get(), file.filename().c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
                     : ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) // gone since it was listed: the directory changed
        return fail(Error{fmt::format("{}: cannot read: {}", file.string(), std::strerror(errno)),
                          dir_ && errno == ENOENT ? EAGAIN : errno});
    struct stat st{};
    if (fstat(fd.get(), &st) == 0)
        read_.emplace_back(file, st);
    auto text = read_unchanged(fd.get(), kMaxFileSize);
    if (!text && text.error().errnum == EFBIG)
        return fail(fmt::format("{}: larger than {} bytes: too large for a definition file", file.string(), kMaxFileSize));
    if (!text)
        return fail(Error{file.string() + ": " + text.error().message, text.error().errnum});
    return text;
}

Status DefinitionSource::unchanged() const
{
    struct stat now{};
    if (dir_ && (fstat(dir_.get(), &now) != 0 || !same_version(listed_, now)))
        return fail(Error{path_.string() + ": files were added, removed or renamed while it was read", EAGAIN});
    return {};
}

bool DefinitionSource::written_lately() const
{
    return std::ranges::any_of(read_, [](const auto& file) { return modified_lately(file.second); });
}

bool DefinitionSource::still_as_read() const
{
    if (!unchanged())
        return false;
    for (const auto& [file, then] : read_) {
        struct stat now{};
        int ok = dir_ ? fstatat(dir_.get(), file.filename().c_str(), &now, 0) : stat(file.c_str(), &now);
        if (ok != 0 || !same_version(then, now))
            return false;
    }
    return true;
}

Parsed<void> check_top_level(const json& doc, const std::string& file)
{
    Origin o(file, "", &doc, nullptr);
    if (!doc.is_object())
        return o.fail("", fmt::format("expected an object with \"version\" and \"tunnels\", got {}", type_name(doc)));
    if (auto ok = check_keys(o, doc, "", {"version", "defaults", "tunnels", "host"}); !ok)
        return ok;
    const json* version = find_member(doc, "version");
    if (!version)
        return o.fail("", "missing field \"version\" (this program reads version 1)");
    if (!version->is_number_integer()) // 1.0 == 1 in nlohmann's comparison
        return o.fail("/version", fmt::format("expected the whole number 1, got {} ({})", type_name(*version),
                                              brief(*version)));
    if (*version != 1)
        return o.fail("/version", fmt::format("version {} is not supported; this program reads version 1", brief(*version)));
    for (const char* key : {"defaults", "tunnels"})
        if (doc.contains(key) && !doc[key].is_object())
            return o.fail(std::string("/") + key,
                          fmt::format("expected an object, got {} ({})", type_name(doc[key]), brief(doc[key])));
    if (const json* defaults = find_member(doc, "defaults"))
        return check_keys(Origin(file, "/defaults", defaults, nullptr), *defaults, "", kTunnelFields);
    return {};
}

Parsed<void> check_name(const std::string& name, const std::string& file)
{
    static const std::regex valid("[a-z0-9][a-z0-9._-]{0,47}");
    if (std::regex_match(name, valid))
        return {};
    return std::unexpected(Diagnostic{file, pointer_append("/tunnels", name),
                                      "a tunnel name is 1 to 48 of a-z 0-9 . _ -, starting with a letter or digit"});
}

Parsed<std::vector<Tunnel>> read_document(const json& doc, const std::string& file)
{
    if (auto ok = check_top_level(doc, file); !ok)
        return std::unexpected(ok.error());
    std::vector<Tunnel> tunnels;
    if (!doc.contains("tunnels"))
        return tunnels;
    const json empty = json::object();
    const json& defaults = doc.contains("defaults") ? doc["defaults"] : empty;
    auto base_dir = std::filesystem::path(file).parent_path();
    tunnels.reserve(doc["tunnels"].size()); // one allocation: doubling up to 10,000 tunnels touches tens of MB
    for (const auto& [name, own] : doc["tunnels"].items()) {
        if (auto ok = check_name(name, file); !ok)
            return std::unexpected(ok.error());
        json merged = defaults;
        merged.merge_patch(own); // RFC 7386: the tunnel's own value wins, null removes a default
        Origin o(file, pointer_append("/tunnels", name), &own, &defaults);
        auto tunnel = read_tunnel(name, own.is_object() ? merged : own, o, base_dir);
        if (!tunnel)
            return std::unexpected(tunnel.error());
        tunnels.push_back(std::move(*tunnel));
    }
    return tunnels;
}

// At most one file may speak for the whole host.
Status read_host_part(const json& doc, const std::string& file, Definitions& defs)
{
    const json* v = find_member(doc, "host");
    if (!v)
        return {};
    if (defs.host)
        return fail(Diagnostic{file, "/host", "the host's settings are already given in " + defs.host->file}.error());
    auto host = read_host(*v, file);
    if (!host)
        return fail(host.error().error());
    defs.host = std::move(*host);
    return {};
}

} // namespace

namespace {

Result<Definitions> load_once(const DefinitionSource* source)
{
    Definitions defs;
    std::map<std::string, std::string> defined_in;
    for (const auto& file : source->files()) {
        auto text = source->read(file);
        if (!text)
            return fail(text.error());
        auto doc = parse_json(*text, file.string());
        if (!doc)
            return fail(doc.error().error());
        auto tunnels = read_document(*doc, file.string());
        if (!tunnels)
            return fail(tunnels.error().error());
        if (auto ok = read_host_part(*doc, file.string(), defs); !ok)
            return fail(ok.error());
        if (std::size_t needed = defs.tunnels.size() + tunnels->size(); needed > defs.tunnels.capacity())
            defs.tunnels.reserve(std::max(needed, 2 * defs.tunnels.capacity()));
        for (auto& t : *tunnels) {
            auto [it, fresh] = defined_in.emplace(t.name, t.file);
            if (!fresh)
                return fail(Diagnostic{t.file, t.path(), "tunnel \"" + t.name + "\" is already defined in " + it->second}.error());
            defs.tunnels.push_back(std::move(t));
        }
    }
    if (auto ok = source->unchanged(); !ok)
        return fail(ok.error());
    std::sort(defs.tunnels.begin(), defs.tunnels.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    if (auto ok = check_across_tunnels(defs); !ok)
        return fail(ok.error().error());
    return defs;
}

} // namespace

Result<Definitions> load_definitions(const std::filesystem::path& path)
{
    std::optional<DefinitionSource> source;
    return read_while_written<Definitions>(kReadAttempts, [&](FailedRead& after) -> Result<Definitions> {
        auto opened = DefinitionSource::open(path);
        if (!opened)
            return fail(opened.error());
        source.emplace(std::move(*opened));
        auto defs = load_once(&*source);
        if (!defs) {
            after.as_read = defs.error().errnum != EAGAIN; // else a writer was caught in the middle
            after.written_lately = source->written_lately();
            after.still_as_read = [&source] { return source->still_as_read(); };
        }
        return defs;
    });
}

} // namespace xfrmctl::model
