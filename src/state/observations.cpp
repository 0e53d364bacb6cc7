#include "xfrmctl/state/observations.hpp"

#include "whole_number.hpp"
#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/util/files.hpp"

#include <nlohmann/json.hpp>

namespace xfrmctl::state {

using nlohmann::json;

namespace {
constexpr const char* kObservationsFile = "observed.json";
}

Observations Observations::load(const std::filesystem::path& state_dir)
{
    Observations o;
    auto text = read_optional_file(state_dir / kObservationsFile);
    if (!text || !*text)
        return o;
    // Named: a range-for keeps only the outermost temporary alive, and
    // items() refers into the parsed document.
    auto document = model::parse_json(**text, "");
    if (!document)
        return o; // only a hint: start again
    try {
        for (const auto& [sa, v] : document->at("sas").items())
            o.seen_[sa] = Seen{whole_number(v.at("packets"), UINT64_MAX), whole_number(v.at("since"), UINT64_MAX),
                               v.at("known").get<bool>()};
    } catch (const std::exception&) { // json's, and whole_number's
        return Observations(); // only a hint: start again
    }
    return o;
}

Status Observations::save(const std::filesystem::path& state_dir) const
{
    json sas = json::object();
    for (const auto& [sa, s] : seen_)
        sas[sa] = {{"packets", s.packets}, {"since", s.since}, {"known", s.known}};
    return write_file_atomically(state_dir / kObservationsFile, json{{"version", 1}, {"sas", sas}}.dump() + "\n");
}

std::optional<std::uint64_t> Observations::seconds_since_change(const std::string& sa, std::uint64_t packets,
                                                                std::uint64_t now)
{
    auto it = seen_.find(sa);
    if (it == seen_.end() || packets < it->second.packets) { // new, or a new SA of the same identity
        seen_[sa] = Seen{packets, now, false};
        return std::nullopt;
    }
    Seen& s = it->second;
    if (packets != s.packets)
        s = Seen{packets, now, true};
    return s.known ? std::optional(now - s.since) : std::nullopt;
}

} // namespace xfrmctl::state
