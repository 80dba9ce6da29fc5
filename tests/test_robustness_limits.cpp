// Limits a run cannot exceed (issue 13): endless or binary input fails within a second, oversized input is
// refused, stdin is read with '-', and the memory estimate is within 25% of the measured peak and refuses an
// over-budget run in seconds with the estimate and the budget.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_command.hpp"

using symgrad::testing::command_result;
using symgrad::testing::run_command;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

const std::string exe = SYMCHECK_EXE;

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void check_one_line_error(const command_result& r, const std::string& fragment) {
    INFO("stderr: " << r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("symcheck: error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find(fragment) != std::string::npos);
}

}  // namespace

TEST_CASE("endless binary streams as --data fail within a second, naming the NUL byte", "[robustness][limits]") {
    temp_dir dir("limits-fifo");
    REQUIRE(::mkfifo((dir / "feed").c_str(), 0600) == 0);
    const std::string fed = "-c \"'" + exe + "' --data '" + dir / "feed" + "' & cat /dev/urandom > '" + dir / "feed" +
                            "' 2>/dev/null; wait \\$!\"";
    const std::vector<std::pair<std::string, std::string>> cases{
        {exe, "--data /dev/zero"},
        {exe, "--data /dev/urandom"},
        {"/bin/sh", fed},  // a FIFO fed by /dev/urandom
    };
    for (const auto& [program, args] : cases) {
        INFO(args);
        auto start = std::chrono::steady_clock::now();
        auto r = run_command(program, args);
        CHECK(seconds_since(start) < 1.0);
        check_one_line_error(r, "contains a NUL byte");
    }
}

TEST_CASE("input beyond --max-input-size is refused with the limit named", "[robustness][limits]") {
    temp_dir dir("limits-size");
    std::ofstream out(dir / "d.csv");
    out << "x,y\n";
    for (int k = 0; k < 300; ++k) out << k << "," << k % 2 << "\n";  // about 1.9 KB
    out.close();
    check_one_line_error(run_command(exe, "--data '" + dir / "d.csv" + "' --max-input-size 1K"),
                         "larger than the input limit of 1000 bytes");
    check_one_line_error(run_command(exe, "--max-input-size 12x"), "--max-input-size: '12x' is not a size");
    CHECK(run_command(exe, "--data '" + dir / "d.csv" + "' --max-input-size 1M --iterations 1 --init glorot -q").status <= 1);
}

TEST_CASE("symcheck with --data - reads the CSV from standard input, like the file", "[robustness][limits]") {
    temp_dir dir("limits-stdin");
    std::ofstream(dir / "d.csv") << "a,b,y\n1,2,0\n3,4,1\n5,1,1\n2,2,0\n";
    const std::string common = " --iterations 3 --init glorot --json - ";
    auto from_file = run_command(exe, "--data '" + dir / "d.csv" + "'" + common);
    auto from_stdin = run_command("/bin/sh", "-c \"'" + exe + "' --data -" + common + " < '" + dir / "d.csv" + "'\"");
    REQUIRE(from_file.status <= 1);
    CHECK(from_stdin.status == from_file.status);
    std::string expected = std::regex_replace(from_file.out, std::regex("\"" + dir / "d.csv" + "\""), "\"<stdin>\"");
    CHECK(from_stdin.out == expected);
    check_one_line_error(run_command(exe, "--data -"), "<stdin>: empty file");  // run_command's stdin is /dev/null
}

namespace {

// The estimate symcheck prints when refusing a run: "need about X GB (estimated)".
double estimated_bytes(const std::string& args) {
    auto r = run_command(exe, args + " --max-memory 1");
    std::smatch m;
    REQUIRE(std::regex_search(r.err, m, std::regex("need about ([0-9.e+]+) GB \\(estimated\\)")));
    return std::stod(m[1]) * 1e9;
}

// Peak resident memory of one symcheck run, as the kernel counts it for the child (ru_maxrss, KB).
double measured_peak_bytes(const std::vector<std::string>& args) {
    pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> argv{const_cast<char*>(exe.c_str())};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(exe.c_str(), argv.data());
        ::_exit(127);
    }
    int status = 0;
    rusage usage{};
    ::wait4(pid, &status, 0, &usage);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) <= 1);
    return double(usage.ru_maxrss) * 1024.0;
}

}  // namespace

TEST_CASE("the memory estimate is within 25% of the measured peak at three sizes", "[robustness][limits][memory]") {
    const std::vector<std::vector<std::string>> sizes{
        {"--hidden", "100", "--optimizer", "gd"},
        {"--hidden", "1500", "--optimizer", "adam"},
        {"--hidden", "1000,1000", "--optimizer", "momentum"},
    };
    for (const auto& size : sizes) {
        std::vector<std::string> args = size;
        for (const char* a : {"--iterations", "1", "--init", "glorot", "-q"}) args.push_back(a);
        std::string joined;
        for (const auto& a : args) joined += a + " ";
        double estimate = estimated_bytes(joined);
        double peak = measured_peak_bytes(args);
        INFO(joined << ": estimate " << estimate / 1e6 << " MB, measured peak " << peak / 1e6 << " MB");
        CHECK(estimate >= 0.75 * peak);
        CHECK(estimate <= 1.25 * peak);
    }
}

TEST_CASE("a run over the memory budget fails in seconds with the estimate and the budget", "[robustness][limits][memory]") {
    auto start = std::chrono::steady_clock::now();
    auto r = run_command(exe, "--hidden 30000,30000 --iterations 0 --max-memory 2G");
    CHECK(seconds_since(start) < 2.0);
    check_one_line_error(r, "model too large");
    CHECK(r.err.find("need about 25 GB (estimated), more than the budget of 2 GB (--max-memory)") != std::string::npos);
    auto by_default = run_command(exe, "--hidden 1000000000");
    check_one_line_error(by_default, "memory available now; set the budget with --max-memory");
    check_one_line_error(run_command(exe, "--max-memory 0"), "--max-memory: '0' is not a size");
}

TEST_CASE("a CSV over 8 MB shows its loading progress on a terminal and nothing elsewhere", "[robustness][limits]") {
    if (std::system("command -v script >/dev/null 2>&1") != 0) {
        WARN("util-linux 'script' (a pseudo-terminal) is missing: the progress case is skipped");
        return;
    }
    temp_dir dir("limits-progress");
    {
        std::ofstream out(dir / "big.csv");
        out << "a,b,c,y\n";
        for (int k = 0; k < 1000000; ++k) out << k % 97 << "," << (k * 7) % 13 << "," << (k % 3 ? "x" : "z") << "," << k % 2 << "\n";
    }
    REQUIRE(std::filesystem::file_size(dir / "big.csv") > (8u << 20));
    const std::string args = "--data '" + dir / "big.csv" + "' --hidden 2 --iterations 0 --init glorot --lookahead 0";
    auto on_terminal = run_command("/usr/bin/script", "-qec \"'" + exe + "' " + args + "\" /dev/null");
    CHECK(on_terminal.out.find("loading " + dir / "big.csv" + ": 8 MB read") != std::string::npos);
    CHECK(on_terminal.out.find("building the data set done") != std::string::npos);
    auto piped = run_command(exe, args);
    CHECK(piped.status <= 1);
    CHECK(piped.err.empty());
    auto quiet = run_command("/usr/bin/script", "-qec \"'" + exe + "' " + args + " -q\" /dev/null");
    CHECK(quiet.out.find("loading") == std::string::npos);
}

TEST_CASE("a parameter file that is a device is refused at once instead of read without end", "[robustness][limits]") {
    temp_dir dir("limits-npy");
    std::filesystem::create_symlink("/dev/zero", dir.path / "W1.npy");
    auto start = std::chrono::steady_clock::now();
    auto r = run_command(exe, "--load '" + dir.path.string() + "' --iterations 0");
    CHECK(seconds_since(start) < 1.0);
    check_one_line_error(r, "W1.npy: not a regular file; a .npy file is expected");
}
