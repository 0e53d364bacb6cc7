// Host-kernel tests: each run moves itself into a fresh network namespace,
// so the host's own XFRM tables are never touched.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv)
{
    if (unshare(CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "host tests need root to create a network namespace: %s\n", std::strerror(errno));
        return 1;
    }
    doctest::Context context(argc, argv);
    return context.run();
}
