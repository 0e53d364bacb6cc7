#include "context.hpp"
#include "xfrmctl/engine/encap_holder.hpp"

#include <netinet/in.h>

namespace xfrmctl::cli {

// hold-encap FAMILY PORT PIDFILE, started by apply with its readiness pipe
// as file descriptor 3.
int run_hold_encap(const std::vector<std::string>& args)
{
    unsigned long number = 0;
    try {
        number = std::stoul(args[1]);
    } catch (const std::exception&) {
    }
    if ((args[0] != "4" && args[0] != "6") || number == 0 || number > 65535)
        return kError;
    engine::EncapPort port{args[0] == "6" ? std::uint16_t{AF_INET6} : std::uint16_t{AF_INET},
                           static_cast<std::uint16_t>(number)};
    return engine::hold_encap_socket(port, args[2], 3);
}

} // namespace xfrmctl::cli
