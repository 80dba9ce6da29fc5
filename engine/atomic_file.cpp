// Temporary-then-rename file writing; rename() is atomic within one file system.
#include "engine/atomic_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <unistd.h>

#include "engine/error.hpp"

namespace symgrad {

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
