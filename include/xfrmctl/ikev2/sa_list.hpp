// charon's list-sas answer (one "list-sa" event per IKE SA), read into what
// status shows for each of our tunnels. Pure.
#pragma once

#include "xfrmctl/engine/status.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace xfrmctl::ikev2 {

struct NegotiatedTunnel {
    engine::IkeStatus ike;
    bool ike_up = false;   // an IKE SA is ESTABLISHED
    bool child_up = false; // and its CHILD SA INSTALLED
    bool connecting = false; // an IKE SA is on its way up
    std::vector<std::uint32_t> spis; // every SPI charon holds for it (in and out)
};

// By tunnel name; `now` turns charon's "seconds ago/until" into times.
std::map<std::string, NegotiatedTunnel> read_sa_list(const std::vector<nlohmann::ordered_json>& events, std::int64_t now);

} // namespace xfrmctl::ikev2
