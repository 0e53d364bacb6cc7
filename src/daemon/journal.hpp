// What xfrmd tells: log lines on stderr (the journal, under systemd), and
// events (a tunnel's health changing, a key to roll, a repair) both there
// and as JSON lines in the state directory's events.jsonl, for tests,
// scripts and `xfrmctl status`.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace xfrmctl::daemon {

inline constexpr std::uintmax_t kEventsFileSize = 4 << 20;

class Journal {
public:
    explicit Journal(std::filesystem::path events_file) : events_file_(std::move(events_file)) {}

    void info(const std::string& message);
    void warning(const std::string& message);
    void error(const std::string& message);
    // event: its name, and fields such as "tunnel" and "reason".
    void event(const std::string& name, nlohmann::json fields);

private:
    std::filesystem::path events_file_;
};

// systemd's notification protocol (sd_notify(3)); nothing outside systemd.
void notify(const std::string& state);

} // namespace xfrmctl::daemon
