// Output paths of every kind (issue 13): a regular file is replaced atomically, a device or FIFO written
// through, anything else refused before training and never replaced; as root and as an unprivileged user.
// All outputs of a run are committed together or not at all, signals and dead processes leave no temporary.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_command.hpp"

using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

namespace fs = std::filesystem;
const std::string exe = SYMCHECK_EXE;
const std::string quick = " --init glorot --iterations 2 ";
const std::string unprivileged = "setpriv --reuid=65534 --regid=65534 --clear-groups ";

struct shell_result {
    int status = -1;
    std::string out, err;
};

// Runs `command` (shell syntax, "SYMCHECK" standing for the binary, optionally as user nobody) with stdout
// and stderr captured into files of a root-only scratch directory.
shell_result sh(std::string command, bool as_nobody = false) {
    temp_dir io("outputs-io");
    const std::string prefix = (as_nobody ? unprivileged : std::string()) + "'" + exe + "'";
    for (std::size_t at; (at = command.find("SYMCHECK")) != std::string::npos;) command.replace(at, 8, prefix);
    std::string full = "( " + command + " ) >'" + io / "out" + "' 2>'" + io / "err" + "' </dev/null";
    int raw = std::system(full.c_str());
    shell_result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = slurp(io.path / "out");
    r.err = slurp(io.path / "err");
    return r;
}

// A scratch directory anyone may write to, so the unprivileged runs can create files in it.
struct open_dir : temp_dir {
    explicit open_dir(const std::string& tag) : temp_dir(tag) { fs::permissions(path, fs::perms::all); }
};

std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

void check_one_line_error(const shell_result& r, const std::string& fragment) {
    INFO("stderr: " << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.rfind("symcheck: error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find(fragment) != std::string::npos);
}

bool is_char_device(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("a regular output file is replaced whole, as root and as an unprivileged user", "[robustness][outputs]") {
    for (bool nobody : {false, true}) {
        INFO("as nobody: " << nobody);
        open_dir dir("out-regular");
        write_text(dir / "r.json", "old\n");
        fs::permissions(dir.path / "r.json", fs::perms::all);
        auto r = sh("SYMCHECK" + quick + "-q --json '" + dir / "r.json" + "'", nobody);
        CHECK(r.status == 0);
        CHECK(slurp(dir.path / "r.json").rfind("{", 0) == 0);
        CHECK(entries(dir.path) == std::vector<std::string>{"r.json"});
    }
}

TEST_CASE("/dev/null and /dev/full are written through and stay devices, as root and as nobody",
          "[robustness][outputs]") {
    for (bool nobody : {false, true}) {
        INFO("as nobody: " << nobody);
        CHECK(sh("SYMCHECK" + quick + "-q --json /dev/null --trace /dev/null", nobody).status == 0);
        CHECK(is_char_device("/dev/null"));
        check_one_line_error(sh("SYMCHECK" + quick + "-q --json /dev/full", nobody), "'/dev/full'");
        CHECK(is_char_device("/dev/full"));
    }
}

TEST_CASE("/dev/stdout is written through to whatever stdout is, never replaced", "[robustness][outputs]") {
    for (bool nobody : {false, true}) {
        INFO("as nobody: " << nobody);
        // The pipe is made by a shell of the same user, as in a terminal (a pipe is its creator's alone).
        std::string pipeline = "SYMCHECK" + quick + "-q --json /dev/stdout | cat";
        auto r = nobody ? sh(unprivileged + "/bin/sh -c \"" + pipeline + "\"") : sh(pipeline);
        CHECK(r.status == 0);
        CHECK(r.out.rfind("{\n  \"data\"", 0) == 0);
        CHECK(fs::is_symlink("/dev/stdout"));
    }
}

TEST_CASE("a symbolic link as an output is refused up front; the link and its target are untouched",
          "[robustness][outputs]") {
    for (bool nobody : {false, true}) {
        INFO("as nobody: " << nobody);
        open_dir dir("out-link");
        write_text(dir / "target.json", "target\n");
        fs::create_symlink("target.json", dir.path / "link.json");
        fs::create_symlink("nowhere.json", dir.path / "dangling.json");
        check_one_line_error(sh("SYMCHECK" + quick + "--json '" + dir / "link.json" + "'", nobody), "symbolic link");
        check_one_line_error(sh("SYMCHECK" + quick + "--svg '" + dir / "dangling.json" + "'", nobody), "symbolic link");
        CHECK(fs::is_symlink(dir.path / "link.json"));
        CHECK(fs::is_symlink(dir.path / "dangling.json"));
        CHECK(slurp(dir.path / "target.json") == "target\n");
        CHECK(entries(dir.path) == std::vector<std::string>{"dangling.json", "link.json", "target.json"});
    }
}

TEST_CASE("a FIFO as an output is written through to its reader and stays a FIFO", "[robustness][outputs]") {
    for (bool nobody : {false, true}) {
        INFO("as nobody: " << nobody);
        open_dir dir("out-fifo");
        REQUIRE(::mkfifo((dir / "pipe").c_str(), 0666) == 0);
        fs::permissions(dir.path / "pipe", fs::perms::all);
        auto r = sh("cat '" + dir / "pipe" + "' > '" + dir / "got" + "' & SYMCHECK" + quick + "-q --trace '" +
                        dir / "pipe" + "'; s=$?; wait; exit $s",
                    nobody);
        CHECK(r.status == 0);
        CHECK(slurp(dir.path / "got").rfind("run,iteration,cost,effective_width\n", 0) == 0);
        struct stat st {};
        CHECK((::lstat((dir / "pipe").c_str(), &st) == 0 && S_ISFIFO(st.st_mode)));
    }
}

TEST_CASE("a socket or a block device as an output is refused up front and left alone", "[robustness][outputs]") {
    open_dir dir("out-sock");
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string sock = dir / "s.sock";
    REQUIRE(sock.size() < sizeof addr.sun_path);
    std::strcpy(addr.sun_path, sock.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    fs::permissions(sock, fs::perms::all);
    for (bool nobody : {false, true}) {
        INFO("as nobody: " << nobody);
        check_one_line_error(sh("SYMCHECK" + quick + "--json '" + sock + "'", nobody), "a socket");
        CHECK(fs::is_socket(sock));
    }
    ::close(fd);
    struct stat st {};
    if (::stat("/dev/loop0", &st) != 0 || !S_ISBLK(st.st_mode)) {
        WARN("no /dev/loop0 block device here: the block-device case is skipped");
        return;
    }
    for (bool nobody : {false, true}) {
        INFO("as nobody: " << nobody);
        check_one_line_error(sh("SYMCHECK" + quick + "--dot /dev/loop0", nobody), "a block device");
        CHECK((::stat("/dev/loop0", &st) == 0 && S_ISBLK(st.st_mode)));
    }
}

TEST_CASE("'-' writes every text output to stdout and no file named '-'", "[robustness][outputs]") {
    temp_dir dir("out-dash");
    const std::pair<const char*, const char*> outputs[] = {
        {"--json", "{\n"}, {"--trace", "run,iteration"}, {"--svg", "<svg"}, {"--dot", "digraph"}};
    for (const auto& [flag, start] : outputs) {
        INFO(flag);
        auto r = sh("cd '" + dir.path.string() + "' && SYMCHECK" + quick + flag + " -");
        CHECK(r.status == 0);
        CHECK(r.out.find(start) != std::string::npos);
        CHECK(r.out.find("=== init") == std::string::npos);  // stdout carries the output alone, no text report
        CHECK(fs::is_empty(dir.path));
    }
}

TEST_CASE("two outputs naming the same file are refused before training", "[robustness][outputs]") {
    temp_dir dir("out-same");
    check_one_line_error(sh("SYMCHECK" + quick + "--json '" + dir / "a" + "' --trace '" + dir.path.string() + "/./a'"),
                         "also where --json writes");
    check_one_line_error(sh("SYMCHECK" + quick + "--json - --svg -"), "also where --json writes");
    CHECK(fs::is_empty(dir.path));
    CHECK(sh("SYMCHECK" + quick + "-q --json /dev/null --svg /dev/null").status == 0);  // a device may take several
}

TEST_CASE("a run whose last output fails leaves the previous outputs and no new ones", "[robustness][outputs]") {
    temp_dir dir("out-none");
    write_text(dir / "r.json", "previous\n");
    auto r = sh("SYMCHECK" + quick + "-q --json '" + dir / "r.json" + "' --trace '" + dir / "t.csv" + "' --save '" +
                dir / "new/params" + "' --svg /dev/full");
    check_one_line_error(r, "/dev/full");
    CHECK(slurp(dir.path / "r.json") == "previous\n");
    CHECK(entries(dir.path) == std::vector<std::string>{"r.json"});  // no t.csv, no temporary, no new/ directory
}

TEST_CASE("symcheck's --save creates its directories only with the files, and refuses two runs mapping to one folder",
          "[robustness][outputs]") {
    temp_dir dir("out-save");
    CHECK(sh("SYMCHECK --iterations 1 --init zeros --init constant:0.5 -q --save '" + dir / "p" + "'").status == 1);
    CHECK(entries(dir.path / "p") == std::vector<std::string>{"constant_0.5", "zeros"});
    CHECK(entries(dir.path / "p/zeros") == std::vector<std::string>{"W1.npy", "W2.npy", "b1.npy", "b2.npy"});
    check_one_line_error(sh("SYMCHECK --iterations 1 --init zeros --init zeros -q --save '" + dir / "q" + "'"),
                         "would both be saved in");
    CHECK(entries(dir.path) == std::vector<std::string>{"p"});
}

TEST_CASE("a symbolic link placed among --save's files is refused and the file it points to is untouched",
          "[robustness][outputs]") {
    temp_dir dir("out-save-link");
    write_text(dir / "victim.txt", "keep me\n");
    fs::create_directory(dir.path / "p");
    fs::create_symlink(dir.path / "victim.txt", dir.path / "p/W1.npy");
    // Once, commit wrote the .npy bytes through the link, appending them to the user's file.
    check_one_line_error(sh("SYMCHECK" + quick + "-q --save '" + dir / "p" + "'"), "symbolic link");
    CHECK(slurp(dir.path / "victim.txt") == "keep me\n");
    CHECK(fs::is_symlink(dir.path / "p/W1.npy"));
    CHECK(entries(dir.path / "p") == std::vector<std::string>{"W1.npy"});
}

TEST_CASE("a stale temporary of a dead process is removed on the next write; a live one's is kept",
          "[robustness][outputs]") {
    temp_dir dir("out-stale");
    pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);  // reaped: this pid names no process now
    const std::string stale = "r.json.tmp." + std::to_string(dead);
    const std::string live = "r.json.tmp." + std::to_string(::getpid());
    write_text(dir / stale, "partial");
    write_text(dir / live, "someone else's write in progress");
    CHECK(sh("SYMCHECK" + quick + "-q --json '" + dir / "r.json" + "'").status == 0);
    CHECK(entries(dir.path) == std::vector<std::string>{"r.json", live});
}

namespace {

// Starts symcheck with `args` (stderr into `err`), waits until `ready` is true or 20 s pass, sends `sig`, and
// returns the exit status (128 + signal if it died of it).
int run_and_signal(const std::vector<std::string>& args, const std::string& err, int sig,
                   const std::function<bool()>& ready) {
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(fd, 2);
        int null = ::open("/dev/null", O_WRONLY);
        ::dup2(null, 1);
        std::vector<char*> argv{const_cast<char*>(exe.c_str())};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(exe.c_str(), argv.data());
        ::_exit(127);
    }
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!ready() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(pid, sig);
    int raw = 0;
    ::waitpid(pid, &raw, 0);
    return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
}

bool holds_temporary(const fs::path& dir) {
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("INT, TERM and HUP during the final write remove the temporaries in flight and exit 130, 143, 129",
          "[robustness][outputs][signals]") {
    const std::pair<int, int> signals[] = {{SIGINT, 130}, {SIGTERM, 143}, {SIGHUP, 129}};
    for (const auto& [sig, status] : signals) {
        INFO("signal " << sig);
        temp_dir dir("out-signal");
        REQUIRE(::mkfifo((dir / "pipe").c_str(), 0600) == 0);
        // The FIFO has no reader, so the write blocks after r.json's and the parameters' temporaries are staged.
        int got = run_and_signal({"--init", "glorot", "--iterations", "2", "-q", "--json", dir / "r.json", "--save",
                                  dir / "p", "--svg", dir / "pipe"},
                                 dir / "err", sig, [&] { return holds_temporary(dir.path); });
        CHECK(holds_temporary(dir.path) == false);
        CHECK(got == status);
        CHECK(entries(dir.path) == std::vector<std::string>{"err", "pipe"});  // no r.json, no p/, no temporary
        std::string err = slurp(dir.path / "err");
        CHECK(std::count(err.begin(), err.end(), '\n') == 1);
        CHECK(err.rfind("symcheck: stopped by SIG", 0) == 0);
    }
}

TEST_CASE("a signal during training exits with one line and writes nothing", "[robustness][outputs][signals]") {
    temp_dir dir("out-signal-train");
    auto start = std::chrono::steady_clock::now();
    int got = run_and_signal({"--init", "glorot", "--iterations", "100000000", "--json", dir / "r.json"}, dir / "err",
                             SIGTERM, [&] { return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(300); });
    CHECK(got == 143);
    CHECK(slurp(dir.path / "err") == "symcheck: stopped by SIGTERM; no output written\n");
    CHECK(entries(dir.path) == std::vector<std::string>{"err"});
}
