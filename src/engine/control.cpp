#include "xfrmctl/engine/control.hpp"

#include "xfrmctl/model/json_reader.hpp"
#include "xfrmctl/util/unique_fd.hpp"

#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xfrmctl::engine {

using nlohmann::json;

std::string encode(const ControlRequest& r)
{
    return json{{"command", r.command}, {"json", r.json},       {"check", r.check},
                {"diff", r.diff},       {"all", r.all},         {"prometheus", r.prometheus},
                {"names", r.names},     {"definitions", r.definitions}}
               .dump(-1, ' ', false, json::error_handler_t::replace) +
           "\n";
}

Result<ControlRequest> decode_request(const std::string& line)
{
    // The definitions' reader: bounded depth, and no NUL taken for the end
    // (the request after one would be dropped unseen).
    auto parsed = model::parse_json(line, "");
    if (!parsed)
        return fail("a malformed request: " + parsed.error().where());
    try {
        const json& j = *parsed;
        ControlRequest r;
        r.command = j.at("command").get<std::string>();
        r.json = j.value("json", false);
        r.check = j.value("check", false);
        r.diff = j.value("diff", false);
        r.all = j.value("all", false);
        r.prometheus = j.value("prometheus", false);
        r.names = j.value("names", std::vector<std::string>{});
        r.definitions = j.value("definitions", std::string());
        return r;
    } catch (const json::exception& e) { // a type error: names the type, not the value
        return fail(std::string("a malformed request: ") + e.what());
    }
}

std::string encode(const ControlResponse& r)
{
    // Text that is not UTF-8 (a file name quoted in an error) must not
    // throw: its bad bytes become U+FFFD.
    return json{{"exit", r.exit}, {"out", r.out}, {"err", r.err}}.dump(-1, ' ', false, json::error_handler_t::replace) +
           "\n";
}

Result<ControlResponse> decode_response(const std::string& line)
{
    auto parsed = model::parse_json(line, "");
    if (!parsed)
        return fail("xfrmd's answer is unreadable: " + parsed.error().where());
    try {
        const json& j = *parsed;
        const json& exit = j.at("exit");
        // get<int>() of a float or a huge number is not checked
        if (!exit.is_number_integer() || exit.get<std::int64_t>() < 0 || exit.get<std::int64_t>() > 255)
            return fail("xfrmd's answer is unreadable: its exit status is not 0 to 255");
        return ControlResponse{exit.get<int>(), j.at("out").get<std::string>(), j.at("err").get<std::string>()};
    } catch (const json::exception& e) { // a type error: names the type, not the value
        return fail(std::string("xfrmd's answer is unreadable: ") + e.what());
    }
}

namespace {

Status send_all(int fd, const std::string& text)
{
    std::size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(Error::from_errno("cannot talk to xfrmd", errno));
        done += static_cast<std::size_t>(n);
    }
    return {};
}

Result<std::string> read_line(int fd)
{
    std::string text;
    char buf[4096];
    while (text.find('\n') == std::string::npos) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(Error::from_errno("cannot read xfrmd's answer", errno));
        if (n == 0)
            return fail("xfrmd closed the connection without an answer");
        text.append(buf, static_cast<std::size_t>(n));
    }
    return text.substr(0, text.find('\n'));
}

} // namespace

Result<std::optional<ControlResponse>> ask_daemon(const std::filesystem::path& socket, const ControlRequest& request)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket.string().size() >= sizeof addr.sun_path)
        return fail("the control socket path is too long: " + socket.string());
    std::strcpy(addr.sun_path, socket.c_str());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return fail(Error::from_errno("socket", errno));
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == ENOENT || errno == ECONNREFUSED)
            return std::optional<ControlResponse>(); // no daemon: work alone
        return fail(Error::from_errno("cannot reach xfrmd at " + socket.string(), errno));
    }
    if (auto ok = send_all(fd.get(), encode(request)); !ok)
        return fail(ok.error());
    auto line = read_line(fd.get());
    if (!line)
        return fail(line.error());
    auto response = decode_response(*line);
    if (!response)
        return fail(response.error());
    return std::optional(*response);
}

} // namespace xfrmctl::engine
