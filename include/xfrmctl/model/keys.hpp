// Manual keys: read from their files with ssh's care (owner, mode, type),
// checked against the proposal's length, held in wiped memory.
#pragma once

#include "xfrmctl/model/definition.hpp"
#include "xfrmctl/netlink/sa.hpp"
#include "xfrmctl/util/file_batch.hpp"
#include "xfrmctl/util/result.hpp"
#include "xfrmctl/util/secret.hpp"

#include <map>
#include <string>

namespace xfrmctl::model {

// Reads one key file. The Error names the definition file, the JSON path of
// the key_file and what is wrong; it never holds key material.
// read_ahead: files read in one go beforehand (read_small_files); the one
// read is taken out of it.
Result<Secret> read_key_file(const Tunnel& tunnel, const KeyRef& ref, const Proposal& proposal,
                             FileSnapshots* read_ahead = nullptr);

// Every key of the present tunnels, by the JSON path of its {spi, key_file}.
class KeyRing {
public:
    const Secret* find(const std::string& path) const;
    void add(std::string path, Secret key) { keys_.insert_or_assign(std::move(path), std::move(key)); }
    std::size_t size() const { return keys_.size(); }

private:
    std::map<std::string, Secret> keys_;
};

// Loads every key; also refuses one key used for two SAs.
Result<KeyRing> load_keys(const Definitions& defs);
Result<KeyRing> load_keys(const Tunnel& tunnel);

} // namespace xfrmctl::model
