#include "corpus.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace xfrmctl::test {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines(const fs::path& file)
{
    std::ifstream in(file);
    std::vector<std::string> result;
    for (std::string line; std::getline(in, line);)
        result.push_back(line);
    return result;
}

} // namespace

std::vector<CorpusCase> corpus_cases(const fs::path& dir)
{
    std::vector<CorpusCase> cases;
    for (const auto& entry : fs::directory_iterator(dir)) {
        auto expect = lines(entry.path() / "expect");
        if (expect.size() < 3)
            throw std::runtime_error("bad expect file in " + entry.path().string());
        auto config = lines(entry.path() / "config");
        cases.push_back({entry.path().filename().string(), entry.path(), config.empty() ? "tunnels.json" : config[0],
                         expect[0], expect[1], expect[2]});
    }
    std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return cases;
}

Staged::Staged(const CorpusCase& c) : config_(c.config)
{
    std::string pattern = (fs::temp_directory_path() / "xfrmctl-corpus.XXXXXX").string();
    if (!mkdtemp(pattern.data()))
        throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    fs::copy(c.source, dir_, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / "keys"))
        if (entry.is_regular_file() && !entry.is_symlink())
            ::chmod(entry.path().c_str(), 0600);
    for (const auto& line : lines(c.source / "modes")) {
        auto space = line.find(' ');
        ::chmod((dir_ / line.substr(0, space)).c_str(), static_cast<mode_t>(std::stoul(line.substr(space + 1), nullptr, 8)));
    }
}

Staged::~Staged()
{
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

} // namespace xfrmctl::test
