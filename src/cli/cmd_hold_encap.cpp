#include "context.hpp"
#include "xfrmctl/engine/encap_holder.hpp"

#include <netinet/in.h>

namespace xfrmctl::cli {

// hold-encap FAMILY PORT PIDFILE, started by apply with its readiness pipe
// as file descriptor 3.
int run_hold_encap(const std::vector<std::string>& args)
{
    auto number = engine::parse_port(args[1]);
    if ((args[0] != "4" && args[0] != "6") || !number)
        return kError;
    engine::EncapPort port{args[0] == "6" ? std::uint16_t{AF_INET6} : std::uint16_t{AF_INET}, *number};
    return engine::hold_encap_socket(port, args[2], 3);
}

} // namespace xfrmctl::cli
