// Reading whole files block by block, temporary-then-rename writing (rename() is atomic within one file
// system), output batches committed together, and signal handlers that leave no temporary behind.
#include "engine/files.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.hpp"

namespace symgrad {

namespace fs = std::filesystem;

namespace {

// The NUL check of one block: the line is counted over everything read so far.
void check_block_text(const std::string& path, const std::string& data, std::size_t from) {
    std::size_t nul = data.find('\0', from);
    if (nul == std::string::npos) return;
    std::size_t line = 1 + std::size_t(std::count(data.begin(), data.begin() + std::ptrdiff_t(nul), '\n'));
    throw input_error(nul_byte_message(path, line, nul));
}

}  // namespace

std::string too_large_message(const std::string& name, std::size_t max_bytes) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%zu bytes (%.3g MB)", max_bytes, double(max_bytes) / 1e6);
    return name + ": larger than the input limit of " + buf + "; raise it with --max-input-size";
}

std::string nul_byte_message(const std::string& name, std::size_t line, std::size_t offset) {
    return name + ":" + std::to_string(line) + ": contains a NUL byte (offset " + std::to_string(offset) +
           "); the file looks binary, not a text CSV";
}

std::string read_whole_file(const std::string& path, const std::string& what, std::size_t max_bytes, bool refuse_nul,
                            const std::function<void(std::size_t)>& progress) {
    const bool standard_input = path == "-";
    const std::string name = standard_input ? "<stdin>" : path;
    std::error_code ec;
    if (!standard_input && fs::is_directory(path, ec)) throw input_error(path + ": is a directory, not " + what);
    int fd = standard_input ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw input_error(path + ": cannot open: " + std::strerror(errno));
    struct closer {
        int fd;
        ~closer() {
            if (fd > 0) ::close(fd);
        }
    } close_at_end{fd};
    struct stat st {};
    std::string data;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && std::size_t(st.st_size) <= max_bytes)
        data.reserve(std::size_t(st.st_size));  // one allocation for a regular file: no doubling peak
    std::vector<char> block(1 << 16);
    for (;;) {
        ssize_t got = ::read(fd, block.data(), block.size());
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw input_error(name + ": cannot read: " + std::strerror(errno));
        if (got == 0) break;
        std::size_t before = data.size();
        data.append(block.data(), std::size_t(got));
        if (refuse_nul) check_block_text(name, data, before);
        if (data.size() > max_bytes)
            throw input_error(too_large_message(name, max_bytes));
        if (progress) progress(data.size());
    }
    return data;
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

// ---- Output paths -----------------------------------------------------------------------------------

namespace {

bool under_dev_or_proc(const std::string& path) {
    std::string abs = fs::absolute(path).lexically_normal().string();
    return abs.rfind("/dev/", 0) == 0 || abs.rfind("/proc/", 0) == 0;
}

// A path that exists and is not a regular file: written through, or refused (never renamed over).
output_kind check_special_path(const std::string& flag, const std::string& path, const struct stat& link) {
    struct stat target {};
    bool resolves = ::stat(path.c_str(), &target) == 0;
    if (S_ISLNK(link.st_mode) && !under_dev_or_proc(path)) {
        std::error_code ec;
        throw io_error(flag + ": '" + path + "' is a symbolic link (to '" + fs::read_symlink(path, ec).string() +
                       "'); give the target's own path: an output is replaced, and a link would be replaced, not followed");
    }
    if (!resolves) throw io_error(flag + ": cannot write '" + path + "': " + std::strerror(errno));
    if (S_ISDIR(target.st_mode)) throw io_error(flag + ": '" + path + "' is a directory");
    if (S_ISCHR(target.st_mode) || S_ISFIFO(target.st_mode) || S_ISREG(target.st_mode)) {
        if (::access(path.c_str(), W_OK) != 0)
            throw io_error(flag + ": cannot write '" + path + "': " + std::strerror(errno));
        return output_kind::write_through;  // a device, a pipe, or /dev/stdout redirected to a file
    }
    throw io_error(flag + ": '" + path + "' is " + (S_ISSOCK(target.st_mode) ? "a socket" : "a block device") +
                   "; give the path of a regular file");
}

}  // namespace

output_kind check_output_path(const std::string& flag, const std::string& path) {
    if (path == "-") return output_kind::standard_output;
    struct stat link {};
    if (::lstat(path.c_str(), &link) == 0 && !S_ISREG(link.st_mode)) return check_special_path(flag, path, link);
    fs::path p(path);
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw io_error(flag + ": cannot write '" + path + "': '" + dir.string() + "' " +
                       (fs::exists(dir, ec) ? "is not a directory" : "does not exist"));
    if (::access(dir.c_str(), W_OK) != 0) throw io_error(flag + ": cannot write '" + path + "': directory not writable");
    return output_kind::replace_file;
}

void check_output_directory(const std::string& flag, const std::string& directory) {
    fs::path p = fs::path(directory).lexically_normal();
    std::error_code ec;
    auto refuse = [&](const std::string& why) {
        throw io_error(flag + ": cannot write into '" + directory + "': " + why);
    };
    while (!p.empty() && !fs::exists(fs::symlink_status(p, ec))) {
        fs::path up = p.parent_path();
        if (up == p) break;
        p = up;
    }
    if (p.empty()) p = ".";
    if (!fs::is_directory(p, ec)) refuse("Not a directory");
    if (::access(p.c_str(), W_OK) != 0) refuse(std::strerror(errno));
}

// ---- Signals ------------------------------------------------------------------------------------------

namespace {

// Paths the handler removes: plain arrays, since a signal handler may only call async-signal-safe functions.
constexpr int max_in_flight = 256;
constexpr int max_path = 4096;
char in_flight_path[max_in_flight][max_path];
std::atomic<bool> in_flight_used[max_in_flight];
std::atomic<bool> in_flight_is_dir[max_in_flight];
const char* signal_program = "symgrad";
volatile std::sig_atomic_t outputs_committed = 0;  // set once a batch's renames are done

// Single-threaded use: a slot's path is written before the slot is marked used, so the handler never
// sees half a path.
void remember(const std::string& path, bool directory) {
    if (path.size() >= max_path) return;
    for (int k = 0; k < max_in_flight; ++k) {
        if (in_flight_used[k].load()) continue;
        std::memcpy(in_flight_path[k], path.c_str(), path.size() + 1);
        in_flight_is_dir[k].store(directory);
        in_flight_used[k].store(true);
        return;
    }
}

extern "C" void on_fatal_signal(int sig) {
    for (int k = 0; k < max_in_flight; ++k)  // files first, then the (then empty) directories, innermost last
        if (in_flight_used[k].load() && !in_flight_is_dir[k].load()) ::unlink(in_flight_path[k]);
    for (int k = max_in_flight - 1; k >= 0; --k)
        if (in_flight_used[k].load() && in_flight_is_dir[k].load()) ::rmdir(in_flight_path[k]);
    const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
    auto put = [](const char* s) { [[maybe_unused]] ssize_t n = ::write(2, s, std::strlen(s)); };
    if (::isatty(2)) put("\n");  // past a progress line, if one is shown
    put(signal_program);
    put(": stopped by ");
    put(name);
    put(outputs_committed ? "; the outputs were written\n" : "; no output written\n");
    ::_exit(128 + sig);
}

// The process behind a "<name>.tmp.<pid>" is gone: its temporary can never be renamed and is litter.
void remove_stale_temporaries(const std::string& path) {
    fs::path p(path);
    fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
    const std::string prefix = p.filename().string() + ".tmp.";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        std::string digits = name.substr(prefix.size());
        if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        pid_t pid = pid_t(std::stol(digits));
        if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
    }
}

}  // namespace

void remove_temporaries_on_signal(const char* program) {
    signal_program = program;
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&sa.sa_mask, sig);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

// ---- Output batches -------------------------------------------------------------------------------------

void output_batch::add(const std::string& path, std::string bytes) { entries_.push_back({path, std::move(bytes), {}}); }

output_batch::~output_batch() { abandon(); }

void output_batch::abandon() noexcept {
    for (auto& e : entries_)
        if (!e.temporary.empty()) ::unlink(e.temporary.c_str());
    for (auto it = created_directories_.rbegin(); it != created_directories_.rend(); ++it) ::rmdir(it->c_str());
    for (int k = 0; k < max_in_flight; ++k) in_flight_used[k].store(false);
    for (auto& e : entries_) e.temporary.clear();
    created_directories_.clear();
}

namespace {

// Writes every byte to fd (retrying interrupted and partial writes) and closes it; io_error names `path`.
void write_all_and_close(int fd, const std::string& bytes, const std::string& path) {
    const char* p = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ::close(fd);
            throw io_error("cannot write '" + path + "': " + (n < 0 ? std::strerror(err) : "write failed (disk full?)"));
        }
        p += n;
        left -= std::size_t(n);
    }
    if (::close(fd) != 0) throw io_error("cannot write '" + path + "': " + std::strerror(errno));
}

}  // namespace

void output_batch::stage(entry& e) {
    fs::path dir = fs::path(e.path).has_parent_path() ? fs::path(e.path).parent_path() : fs::path(".");
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path d = dir; !d.empty() && !fs::exists(fs::symlink_status(d, ec)); d = d.parent_path()) {
        missing.push_back(d);
        if (d.parent_path() == d) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        remember(it->string(), true);
        if (::mkdir(it->c_str(), 0777) != 0)
            throw io_error("cannot create directory '" + it->string() + "': " + std::strerror(errno));
        created_directories_.push_back(it->string());
    }
    remove_stale_temporaries(e.path);
    std::string tmp = e.path + ".tmp." + std::to_string(::getpid());
    remember(tmp, false);
    e.temporary = tmp;
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) throw io_error("cannot write '" + e.path + "': " + std::strerror(errno));
    write_all_and_close(fd, e.bytes, e.path);
}

namespace {

// Exists and is not a regular file: check_output_path accepted it for writing through.
bool is_special(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
}

// A device, a pipe, /dev/stdout: opened without creating or truncating, appended to.
void write_through(const std::string& path, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) throw io_error("cannot write '" + path + "': " + std::strerror(errno));
    write_all_and_close(fd, bytes, path);
}

}  // namespace

void output_batch::commit() {
    try {
        // A path that became special since it was checked (e.g. a symlink placed in a --save folder) is
        // checked again, so write-through never follows a link into a user's regular file.
        for (auto& e : entries_)
            if (e.path != "-" && is_special(e.path)) check_output_path("output", e.path);
        for (auto& e : entries_)
            if (e.path != "-" && !is_special(e.path)) stage(e);
        for (auto& e : entries_)
            if (e.path != "-" && e.temporary.empty()) write_through(e.path, e.bytes);
        for (auto& e : entries_)
            if (e.path == "-") std::cout << e.bytes;
        std::cout.flush();
        if (!std::cout) throw io_error("cannot write to standard output");
    } catch (...) {
        abandon();
        throw;
    }
    // The renames run with INT, TERM and HUP held back, so a signal finds either every temporary (and
    // removes them) or every output in place, never half of them.
    sigset_t held, before;
    sigemptyset(&held);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&held, sig);
    ::sigprocmask(SIG_BLOCK, &held, &before);
    for (auto& e : entries_) {
        if (e.temporary.empty()) continue;
        if (std::rename(e.temporary.c_str(), e.path.c_str()) != 0) {
            int err = errno;
            abandon();
            ::sigprocmask(SIG_SETMASK, &before, nullptr);
            throw io_error("cannot write '" + e.path + "': " + std::strerror(err));
        }
        e.temporary.clear();
    }
    for (int k = 0; k < max_in_flight; ++k) in_flight_used[k].store(false);
    created_directories_.clear();
    outputs_committed = 1;
    ::sigprocmask(SIG_SETMASK, &before, nullptr);
}

}  // namespace symgrad
