// flow: a steady UDP flow of numbered datagrams, and its receiver, which
// counts what arrived; for measuring loss across key rollovers and restarts.
//   flow send SOURCE DESTINATION PORT RATE   until SIGTERM or SIGINT; then
//                                            prints {"sent": N}
//   flow receive ADDRESS PORT                until SIGTERM or SIGINT; then
//                                            prints {"received", "lost",
//                                            "duplicates", "highest"}
// Each datagram carries a 64-bit sequence number, counting from 0.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t stop = 0;

void on_signal(int) { stop = 1; }

void catch_stop_signals()
{
    struct sigaction sa {};
    sa.sa_handler = on_signal; // no SA_RESTART: a signal ends a blocking call
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
}

sockaddr_storage address(const char* text, int port, socklen_t& len)
{
    sockaddr_storage ss{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<std::uint16_t>(port));
        len = sizeof *v6;
    } else {
        std::fprintf(stderr, "flow: not an address: %s\n", text);
        std::exit(2);
    }
    return ss;
}

int bound_socket(const char* addr, int port)
{
    socklen_t len = 0;
    sockaddr_storage ss = address(addr, port, len);
    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        std::perror("flow: bind");
        std::exit(2);
    }
    return fd;
}

double now_seconds()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Paced from the start time, not from the previous send: a late wakeup is
// caught up, so the rate holds on average.
int send_flow(const char* source, const char* destination, int port, int rate)
{
    int fd = bound_socket(source, 0);
    socklen_t len = 0;
    sockaddr_storage to = address(destination, port, len);
    std::uint64_t sent = 0, refused = 0;
    double start = now_seconds();
    while (!stop) {
        double due = start + static_cast<double>(sent) / rate;
        double wait = due - now_seconds();
        if (wait > 0) {
            timespec ts{static_cast<time_t>(wait), static_cast<long>((wait - static_cast<long>(wait)) * 1e9)};
            nanosleep(&ts, nullptr);
            continue;
        }
        std::uint64_t seq = sent;
        if (sendto(fd, &seq, sizeof seq, 0, reinterpret_cast<sockaddr*>(&to), len) < 0)
            ++refused; // e.g. EAGAIN while the kernel has no SA: a lost packet all the same
        ++sent;
    }
    std::printf("{\"sent\": %llu, \"send_errors\": %llu, \"seconds\": %.1f}\n", static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(refused), now_seconds() - start);
    return 0;
}

// A receiver that a loaded machine leaves unscheduled for a second must not
// lose datagrams in its socket's queue (a default queue holds about 0.6 s
// at 250/s): the flows measure what IPsec loses, not what the scheduler
// does. As root the limit of net.core.rmem_max does not apply.
void enlarge_receive_queue(int fd)
{
    int bytes = 16 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

int receive_flow(const char* addr, int port)
{
    int fd = bound_socket(addr, port);
    enlarge_receive_queue(fd);
    std::vector<bool> seen;
    std::uint64_t received = 0, duplicates = 0;
    while (!stop) {
        std::uint64_t seq = 0;
        ssize_t n = recv(fd, &seq, sizeof seq, 0);
        if (n != static_cast<ssize_t>(sizeof seq) || seq > (1u << 26))
            continue;
        if (seq >= seen.size())
            seen.resize(seq + 1, false);
        if (seen[seq])
            ++duplicates;
        seen[seq] = true;
        ++received;
    }
    std::uint64_t lost = 0;
    for (bool got : seen)
        lost += got ? 0 : 1;
    std::printf("{\"received\": %llu, \"lost\": %llu, \"duplicates\": %llu, \"highest\": %lld}\n",
                static_cast<unsigned long long>(received), static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(duplicates), static_cast<long long>(seen.size()) - 1);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    catch_stop_signals();
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "send" && argc == 6)
        return send_flow(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]));
    if (mode == "receive" && argc == 4)
        return receive_flow(argv[2], std::atoi(argv[3]));
    std::fprintf(stderr, "usage: flow send SOURCE DESTINATION PORT RATE | flow receive ADDRESS PORT\n");
    return 2;
}
