// Reading whole files, and temporary-then-rename writing (rename() is atomic within one file system).
#include "engine/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "engine/error.hpp"

namespace symgrad {

std::string read_whole_file(const std::string& path, const std::string& what) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) throw input_error(path + ": is a directory, not " + what);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot open: " + std::strerror(errno));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw input_error(path + ": cannot read: " + std::strerror(errno));
    return buffer.str();
}

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write, bool binary) {
    std::string tmp = path + ".tmp." + std::to_string(::getpid());
    {
        std::ofstream out(tmp, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
        if (!out) throw io_error("cannot write '" + path + "': " + std::strerror(errno));
        try {
            write(out);
            out.flush();
        } catch (...) {
            out.close();
            std::remove(tmp.c_str());
            throw;
        }
        if (!out) {
            std::remove(tmp.c_str());
            throw io_error("cannot write '" + path + "': write failed (disk full?)");
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        std::remove(tmp.c_str());
        throw io_error("cannot write '" + path + "': " + std::strerror(e));
    }
}

}  // namespace symgrad
