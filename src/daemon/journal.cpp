#include "journal.hpp"

#include "xfrmctl/util/clock.hpp"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <fstream>
#include <iostream>

namespace xfrmctl::daemon {

// "<6>", "<4>" and "<3>": the priority prefixes the journal reads from stderr.
void Journal::info(const std::string& message) { std::cerr << "<6>xfrmd: " << message << std::endl; }

void Journal::warning(const std::string& message) { std::cerr << "<4>xfrmd: " << message << std::endl; }

void Journal::error(const std::string& message) { std::cerr << "<3>xfrmd: " << message << std::endl; }

void Journal::event(const std::string& name, nlohmann::json fields)
{
    fields["time"] = utc_timestamp();
    fields["event"] = name;
    std::string line = fields.dump();
    std::cerr << "<5>xfrmd: event " << line << std::endl;
    std::error_code ec; // kept to two files of about kEventsFileSize each
    if (std::filesystem::file_size(events_file_, ec) > kEventsFileSize && !ec)
        std::filesystem::rename(events_file_, events_file_.string() + ".1", ec);
    std::ofstream out(events_file_, std::ios::app);
    out << line << "\n";
}

void notify(const std::string& state) { sd_notify(0, state.c_str()); }

} // namespace xfrmctl::daemon
