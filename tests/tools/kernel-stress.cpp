// kernel-stress: the two halves of tests/uml/signal-storm, which checks that
// the UML test kernel survives host signals arriving while it remaps its
// vmalloc area (see CONFIG_VMAP_STACK in tests/uml/kernel/uml.config).
//   kernel-stress churn SECONDS     in the guest: rounds of 8 processes, each
//                                   with a fresh kernel stack, attaching a
//                                   socket filter (a vmalloc area freed with
//                                   a kernel-range flush) and exiting; prints
//                                   {"rounds": N}
//   kernel-stress signal PID USEC   on the host: SIGIO to the guest's kernel
//                                   every USEC microseconds until PID is gone;
//                                   SIGIO is one of UML's interrupt signals and
//                                   harmless when nothing is pending
#include <linux/filter.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

[[noreturn]] void child_with_filter()
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sock_filter accept_all[] = {{BPF_RET | BPF_K, 0, 0, 0xffff}};
    sock_fprog program{1, accept_all};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
        std::perror("kernel-stress: socket filter");
        _exit(1);
    }
    _exit(0);
}

// One round: 8 children at once, so that their stacks and filters are freed
// together and the lazily freed vmalloc ranges around live stacks grow.
bool churn_round()
{
    for (int i = 0; i < 8; ++i) {
        pid_t pid = fork();
        if (pid == 0) child_with_filter();
        if (pid < 0) return false;
    }
    bool ok = true;
    int status = 0;
    while (wait(&status) > 0) ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return ok;
}

int churn(int seconds)
{
    time_t end = time(nullptr) + seconds;
    long rounds = 0;
    while (time(nullptr) < end) {
        if (!churn_round()) return 1;
        ++rounds;
    }
    std::printf("{\"rounds\": %ld}\n", rounds);
    return 0;
}

int signal_storm(pid_t pid, int interval_us)
{
    while (kill(pid, SIGIO) == 0) usleep(static_cast<useconds_t>(interval_us));
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 3 && std::strcmp(argv[1], "churn") == 0) return churn(std::atoi(argv[2]));
    if (argc == 4 && std::strcmp(argv[1], "signal") == 0)
        return signal_storm(std::atoi(argv[2]), std::atoi(argv[3]));
    std::fprintf(stderr, "usage: kernel-stress churn SECONDS | signal PID USEC\n");
    return 2;
}
