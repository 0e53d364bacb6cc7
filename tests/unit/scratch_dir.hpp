// A temporary directory for tests that need files, removed afterwards.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace xfrmctl::test {

class ScratchDir {
public:
    ScratchDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "xfrmctl-test.XXXXXX").string();
        dir_ = mkdtemp(pattern.data());
    }
    ~ScratchDir()
    {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    std::filesystem::path write(const std::string& name, const std::string& text, mode_t mode = 0600) const
    {
        auto path = dir_ / name;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path) << text;
        ::chmod(path.c_str(), mode);
        return path;
    }
    const std::filesystem::path& path() const { return dir_; }

private:
    std::filesystem::path dir_;
};

// 36 bytes, as aes256gcm16 wants; `seed` keeps keys apart.
inline std::string gcm_key_hex(int seed)
{
    std::string hex;
    for (int i = 0; i < 36; ++i) {
        static const char digits[] = "0123456789abcdef";
        int byte = (seed * 37 + i * 11 + 1) & 0xff;
        hex += digits[byte >> 4];
        hex += digits[byte & 15];
    }
    return hex;
}

} // namespace xfrmctl::test
