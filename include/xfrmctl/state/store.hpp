// The state directory as one object: the ledger of owned entries and the
// history of installed keys, locked against a second writer.
#pragma once

#include "xfrmctl/state/key_history.hpp"
#include "xfrmctl/state/ledger.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <filesystem>

namespace xfrmctl::state {

class Store {
public:
    // A writer creates the directory (mode 0700) and holds its lock until
    // the Store goes away; a reader takes no lock and creates nothing. An
    // existing directory is checked, not changed (check_safe_directory).
    // wait_seconds: how long to wait for another holder of the lock (0: fail at once).
    // forget_installed_keys: a key history that is missing where the ledger
    // shows one was kept starts anew instead of being refused (the
    // operator's choice: xfrmctl --forget-installed-keys).
    static Result<Store> open_for_writing(const std::filesystem::path& dir, int wait_seconds = 30,
                                          bool forget_installed_keys = false);
    static Result<Store> open_for_reading(const std::filesystem::path& dir, bool forget_installed_keys = false);

    Ledger ledger;
    KeyHistory history;

    Status save();
    const std::filesystem::path& dir() const { return dir_; }

private:
    std::filesystem::path dir_;
    UniqueFd lock_;
};

} // namespace xfrmctl::state
