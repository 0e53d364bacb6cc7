#include "xfrmctl/engine/encap_holder.hpp"

#include "xfrmctl/util/files.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

namespace xfrmctl::engine {

namespace fs = std::filesystem;

std::string EncapPort::name() const { return fmt::format("{}-{}", family == AF_INET ? "ipv4" : "ipv6", port); }

std::optional<std::uint16_t> parse_port(std::string_view text)
{
    unsigned value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

std::optional<EncapPort> port_of_pidfile(std::string_view filename)
{
    constexpr std::string_view suffix = ".pid";
    if (filename.size() <= 5 + suffix.size() || !filename.ends_with(suffix))
        return std::nullopt;
    std::string_view family = filename.substr(0, 5), port = filename.substr(5, filename.size() - 5 - suffix.size());
    if (family != "ipv4-" && family != "ipv6-")
        return std::nullopt;
    auto number = parse_port(port);
    if (!number)
        return std::nullopt;
    return EncapPort{family == "ipv4-" ? std::uint16_t{AF_INET} : std::uint16_t{AF_INET6}, *number};
}

std::set<EncapPort> needed_encap_ports(const model::Definitions& defs, const state::Ledger& ledger)
{
    std::set<EncapPort> ports;
    for (const auto& t : defs.tunnels)
        if (t.present && t.encapsulation && ledger.find(t.name))
            ports.insert({t.family(), t.encapsulation->local_port});
    return ports;
}

Result<UniqueFd> open_encap_socket(const EncapPort& p)
{
    UniqueFd fd(::socket(p.family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
    if (!fd)
        return fail(Error::from_errno("cannot open a UDP socket", errno));
    int one = 1;
    if (p.family == AF_INET6) // so that the IPv4 holder can bind the same port
        setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // A holder and xfrmd may hold the port at once, while one hands over to
    // the other: every such socket decapsulates.
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len;
    if (p.family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(p.port);
        len = sizeof *sin;
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(p.port);
        len = sizeof *sin6;
    }
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
        return fail(Error::from_errno(fmt::format("cannot bind UDP port {}", p.port), errno));
    int encap = UDP_ENCAP_ESPINUDP;
    if (setsockopt(fd.get(), IPPROTO_UDP, UDP_ENCAP, &encap, sizeof encap) != 0)
        return fail(Error::from_errno("cannot ask the kernel for ESP in UDP on that socket", errno));
    return fd;
}

namespace {

fs::path pidfile_of(const EncapPort& p, const fs::path& state_dir) { return state_dir / "encap" / (p.name() + ".pid"); }

// A pid from a pidfile is ours only while that process is a holder.
pid_t live_holder(const fs::path& pidfile)
{
    std::ifstream in(pidfile);
    pid_t pid = 0;
    if (!(in >> pid) || pid <= 0 || ::kill(pid, 0) != 0)
        return 0;
    std::ifstream cmdline(fmt::format("/proc/{}/cmdline", pid));
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    return text.find("hold-encap") != std::string::npos ? pid : 0;
}

std::vector<EncapPort> held_ports(const fs::path& state_dir)
{
    std::vector<EncapPort> ports;
    std::error_code ec;
    for (fs::directory_iterator it(state_dir / "encap", ec), end; !ec && it != end; it.increment(ec))
        if (auto port = port_of_pidfile(it->path().filename().string()))
            ports.push_back(*port);
    return ports;
}

// Runs `self hold-encap ...` detached, and waits for it to say it holds
// the socket (or why it cannot).
Result<std::string> start_holder(const EncapPort& p, const fs::path& state_dir, const fs::path& self)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return fail(Error::from_errno("pipe", errno));
    UniqueFd reader(fds[0]), writer(fds[1]);
    pid_t pid = fork();
    if (pid < 0)
        return fail(Error::from_errno("cannot start the ESP-in-UDP holder", errno));
    if (pid == 0) {
        setsid();
        if (chdir("/") != 0)
            _exit(126);
        int null = ::open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        dup2(writer.get(), 3); // without O_CLOEXEC: the holder writes "ready" there
        std::string family = p.family == AF_INET ? "4" : "6", port = std::to_string(p.port);
        std::string pidfile = pidfile_of(p, state_dir).string();
        execl(self.c_str(), self.c_str(), "hold-encap", family.c_str(), port.c_str(), pidfile.c_str(), nullptr);
        _exit(127);
    }
    writer.reset();
    char buf[512] = {};
    ssize_t n = ::read(reader.get(), buf, sizeof buf - 1);
    std::string answer(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    if (answer == "ready")
        return std::string("holding UDP port " + std::to_string(p.port) + " for ESP in UDP");
    waitpid(pid, nullptr, WNOHANG);
    return fail(answer.empty() ? "the ESP-in-UDP holder did not start" : answer);
}

} // namespace

HolderReport reconcile_holders(const std::set<EncapPort>& needed, const fs::path& state_dir, const fs::path& self)
{
    HolderReport report;
    for (const auto& p : held_ports(state_dir)) {
        if (needed.contains(p))
            continue;
        if (pid_t pid = live_holder(pidfile_of(p, state_dir)))
            ::kill(pid, SIGTERM);
        std::error_code ec;
        fs::remove(pidfile_of(p, state_dir), ec);
        report.stopped.push_back(p.name());
    }
    for (const auto& p : needed) {
        if (live_holder(pidfile_of(p, state_dir)))
            continue;
        std::error_code ec;
        fs::create_directories(state_dir / "encap", ec);
        auto started = start_holder(p, state_dir, self);
        if (started)
            report.started.push_back(p.name());
        else
            report.warnings.push_back(fmt::format("{}: {}; ESP in UDP on that port is received only if the socket "
                                                  "holding it is an ESP-in-UDP one (strongSwan's charon's is)",
                                                  p.name(), started.error().message));
    }
    return report;
}

namespace {
volatile sig_atomic_t stop_holding = 0;
void on_stop(int) { stop_holding = 1; }
} // namespace

int hold_encap_socket(const EncapPort& port, const fs::path& pidfile, int ready_fd)
{
    auto fd = open_encap_socket(port);
    std::string answer = fd ? "ready" : fd.error().message;
    if (fd && !write_file_atomically(pidfile, std::to_string(getpid()) + "\n", 0644))
        answer = "cannot write " + pidfile.string();
    if (::write(ready_fd, answer.data(), answer.size()) < 0) {
    }
    ::close(ready_fd);
    if (answer != "ready")
        return 1;
    struct sigaction sa{};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    while (!stop_holding)
        pause();
    std::error_code ec;
    fs::remove(pidfile, ec);
    return 0;
}

bool holder_running(const EncapPort& port, const fs::path& state_dir)
{
    return live_holder(pidfile_of(port, state_dir)) != 0;
}

} // namespace xfrmctl::engine
