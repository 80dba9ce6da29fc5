// Runs a program in a shell for the command-line tests: exit status, stdout and stderr.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace symgrad::testing {

struct command_result {
    int status = -1;  // exit status, or 128 + signal when killed by one
    std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// A fresh directory under the system temp dir, removed when the object dies.
struct temp_dir {
    std::filesystem::path path;
    explicit temp_dir(const std::string& tag) {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("symgrad-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// `args` is appended to the program path verbatim (shell syntax; quote what needs quoting).
inline command_result run_command(const std::string& program, const std::string& args) {
    temp_dir io("cmd");
    std::string cmd = "'" + program + "' " + args + " >'" + io / "out" + "' 2>'" + io / "err" + "' </dev/null";
    int raw = std::system(cmd.c_str());
    command_result r;
    if (raw != -1 && WIFEXITED(raw)) r.status = WEXITSTATUS(raw);
    else if (raw != -1 && WIFSIGNALED(raw)) r.status = 128 + WTERMSIG(raw);
    r.out = slurp(io.path / "out");
    r.err = slurp(io.path / "err");
    return r;
}

}  // namespace symgrad::testing
