#include "xfrmctl/state/store.hpp"

#include "xfrmctl/util/files.hpp"
#include "xfrmctl/util/safe_paths.hpp"

namespace xfrmctl::state {

namespace {

Result<Store> load(Store store, bool forget_installed_keys)
{
    auto ledger = Ledger::load(store.dir());
    if (!ledger)
        return fail(ledger.error());
    auto history = KeyHistory::load(store.dir(), Ledger::kept_in(store.dir()) && !forget_installed_keys);
    if (!history)
        return fail(history.error());
    store.ledger = std::move(*ledger);
    store.history = std::move(*history);
    return store;
}

} // namespace

Result<Store> Store::open_for_writing(const std::filesystem::path& dir, int wait_seconds, bool forget_installed_keys)
{
    if (auto ok = ensure_private_directory(dir, "the state directory"); !ok)
        return fail(ok.error());
    auto lock = lock_directory(dir, wait_seconds);
    if (!lock)
        return fail(lock.error());
    Store store;
    store.dir_ = dir;
    store.lock_ = std::move(*lock);
    auto loaded = load(std::move(store), forget_installed_keys);
    if (loaded && forget_installed_keys) // a new record is kept at once, even if nothing else changes
        if (auto ok = loaded->history.save(dir); !ok)
            return fail(ok.error());
    return loaded;
}

Result<Store> Store::open_for_reading(const std::filesystem::path& dir, bool forget_installed_keys)
{
    std::error_code ec;
    if (std::filesystem::exists(dir, ec))
        if (auto ok = check_safe_directory(dir, "the state directory"); !ok)
            return fail(ok.error());
    Store store;
    store.dir_ = dir;
    return load(std::move(store), forget_installed_keys);
}

Status Store::save()
{
    if (!lock_)
        return fail("internal error: the state was opened for reading only");
    if (auto ok = history.save(dir_); !ok)
        return ok;
    return ledger.save(dir_);
}

} // namespace xfrmctl::state
