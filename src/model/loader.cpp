#include "xfrmctl/model/loader.hpp"

#include "cross_checks.hpp"
#include "host_reader.hpp"
#include "tunnel_reader.hpp"
#include "xfrmctl/model/json_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

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

constexpr std::uintmax_t kMaxFileSize = 64 * 1024 * 1024;

Result<std::string> read_text(const std::filesystem::path& file)
{
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    if (ec)
        return fail(fmt::format("{}: cannot read: {}", file.string(), ec.message()));
    if (size > kMaxFileSize)
        return fail(fmt::format("{}: {} bytes is too large for a definition file", file.string(), size));
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in)
        return fail(fmt::format("{}: cannot read", file.string()));
    return text.str();
}

Result<std::vector<std::filesystem::path>> definition_files(const std::filesystem::path& path)
{
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
        if (!std::filesystem::exists(path, ec))
            return fail(fmt::format("{}: no such file or directory", path.string()));
        return std::vector{path};
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
        auto name = entry.path().filename().string();
        if (name.size() > 5 && name.ends_with(".json") && name[0] != '.')
            files.push_back(entry.path());
    }
    if (ec)
        return fail(fmt::format("{}: cannot list: {}", path.string(), ec.message()));
    std::sort(files.begin(), files.end());
    return files;
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

Result<Definitions> load_definitions(const std::filesystem::path& path)
{
    auto files = definition_files(path);
    if (!files)
        return fail(files.error());
    Definitions defs;
    std::map<std::string, std::string> defined_in;
    for (const auto& file : *files) {
        auto text = read_text(file);
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
        for (auto& t : *tunnels) {
            auto [it, fresh] = defined_in.emplace(t.name, t.file);
            if (!fresh)
                return fail(Diagnostic{t.file, t.path(), "tunnel \"" + t.name + "\" is already defined in " + it->second}.error());
            defs.tunnels.push_back(std::move(t));
        }
    }
    std::sort(defs.tunnels.begin(), defs.tunnels.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    if (auto ok = check_across_tunnels(defs); !ok)
        return fail(ok.error().error());
    return defs;
}

} // namespace xfrmctl::model
