// The bad-definition corpus: each case is a directory with its definitions,
// its key files, and an `expect` file (the file, the JSON path, and a part
// of the message). Key files are staged with mode 0600 unless `modes` says
// otherwise, since a git checkout gives every file 0644.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace xfrmctl::test {

struct CorpusCase {
    std::string name;
    std::filesystem::path source;
    std::string config; // what -c names, relative to the case
    std::string file, path, message;
};

std::vector<CorpusCase> corpus_cases(const std::filesystem::path& dir);

// A copy of a case in a fresh temporary directory, removed afterwards.
class Staged {
public:
    explicit Staged(const CorpusCase& c);
    ~Staged();
    Staged(const Staged&) = delete;
    Staged& operator=(const Staged&) = delete;
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path config() const { return dir_ / config_; }

private:
    std::filesystem::path dir_;
    std::string config_;
};

} // namespace xfrmctl::test
