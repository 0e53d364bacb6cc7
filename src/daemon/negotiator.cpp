// The charon xfrmd negotiates with: started by xfrmd when none answers on
// its socket (a charon that outlived a restart of xfrmd is adopted), and
// reached over two VICI connections, one for commands and one for events,
// plus the error-notify socket for alerts.
#include "negotiator.hpp"

#include "xfrmctl/util/files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xfrmctl::daemon {

namespace {

constexpr std::int64_t kStartupSeconds = 15; // a charon just started gets this long to answer
constexpr const char* kEvents[] = {"ike-updown", "child-updown", "ike-rekey", "child-rekey"};

} // namespace

Negotiator::Negotiator(NegotiatorOptions options, Journal& journal) : options_(std::move(options)), journal_(journal) {}

Negotiator::~Negotiator()
{
    reap_charon(); // the charon itself stays: its SAs carry traffic until xfrmd is back
}

std::filesystem::path Negotiator::vici_path() const
{
    return options_.vici.value_or(options_.runtime_dir / "charon.vici");
}

std::filesystem::path Negotiator::alerts_path() const
{
    return options_.alerts.value_or(options_.runtime_dir / "charon.enfy");
}

void Negotiator::reap_charon()
{
    if (child_ <= 0)
        return;
    int status = 0;
    if (::waitpid(child_, &status, WNOHANG) == child_) {
        journal_.warning(WIFSIGNALED(status) ? "charon was killed by signal " + std::to_string(WTERMSIG(status))
                                             : "charon exited with status " + std::to_string(WEXITSTATUS(status)));
        child_ = -1;
    }
}

void Negotiator::spawn_charon(std::int64_t now)
{
    ikev2::CharonPaths paths{vici_path(), alerts_path(), options_.log_file};
    std::filesystem::path conf = options_.runtime_dir / "strongswan.conf";
    if (auto ok = write_file_atomically(conf, ikev2::strongswan_conf(paths), 0600); !ok) {
        down_reason_ = "cannot write " + conf.string() + ": " + ok.error().message;
        return;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, nullptr); // xfrmd blocks its signals for signalfd
        ::setsid();                              // not in xfrmd's process group
        int null = ::open("/dev/null", O_RDWR);
        for (int fd : {0, 1, 2})
            ::dup2(null, fd);
        ::setenv("STRONGSWAN_CONF", conf.c_str(), 1);
        ::execl(options_.charon.c_str(), options_.charon.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    if (pid < 0) {
        down_reason_ = std::string("cannot start charon: ") + std::strerror(errno);
        return;
    }
    child_ = pid;
    spawned_at_ = now;
    journal_.info("started charon (" + options_.charon + ", pid " + std::to_string(pid) + ")");
}

void Negotiator::ensure_charon(std::int64_t now)
{
    reap_charon();
    if (connected() || now == last_connect_try_)
        return;
    last_connect_try_ = now;
    connect();
    if (connected() || options_.vici)
        return;
    bool starting = child_ > 0 && now - spawned_at_ < kStartupSeconds;
    if (starting)
        down_reason_ = "charon is starting";
    if (!starting) {
        if (child_ > 0) { // started but never answered: start afresh
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
            child_ = -1;
        }
        spawn_charon(now);
        if (child_ > 0)
            down_reason_ = "charon is starting";
    }
}

void Negotiator::connect()
{
    auto commands = ikev2::ViciConnection::connect(vici_path().string());
    if (!commands) {
        down_reason_ = "charon does not answer on " + vici_path().string() + ": " + commands.error().message;
        return;
    }
    auto events = ikev2::ViciConnection::connect(vici_path().string());
    Status ok = events ? Status{} : Status(fail(events.error()));
    for (const char* name : kEvents)
        if (ok)
            ok = events->subscribe(name);
    if (!ok) {
        down_reason_ = "cannot follow charon's events: " + ok.error().message;
        return;
    }
    auto version = commands->call("version");
    commands_ = std::move(*commands);
    events_ = std::move(*events);
    if (auto alerts = ikev2::AlertStream::connect(alerts_path()))
        alerts_ = std::move(*alerts);
    else
        journal_.warning("no alerts from charon (" + alerts.error().message + "): failures show without its reason");
    for (auto& [name, p] : peers_)
        p.loaded_digest.clear(); // it may be a charon that never heard of them
    stale_checked_ = false;
    down_reason_.clear();
    std::string v = version && version->contains("version") ? (*version)["version"].get<std::string>() : "?";
    journal_.event("charon-connected", {{"socket", vici_path().string()}, {"version", v}});
}

void Negotiator::disconnect(const std::string& why)
{
    if (!connected())
        return;
    commands_.reset();
    events_.reset();
    alerts_.reset();
    down_reason_ = "lost charon: " + why;
    journal_.event("charon-lost", {{"reason", why}});
}

std::vector<int> Negotiator::fds() const
{
    std::vector<int> list;
    if (events_)
        list.push_back(events_->fd());
    if (alerts_)
        list.push_back(alerts_->fd());
    return list;
}

void Negotiator::tick(std::int64_t now)
{
    if (peers_.empty() && !connected())
        return; // no ikev2 tunnel: no charon
    ensure_charon(now);
    if (!connected())
        return;
    sync(now);
    if (connected())
        refresh(now);
    if (connected())
        keep_up(now);
}

} // namespace xfrmctl::daemon
