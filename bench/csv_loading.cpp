// Peak memory and time of loading a CSV (issue 13: at most ~3x the file), next to a baseline that only reads
// the file into a string (1x), in the same run. Not a test.
// Usage: bench_csv_loading [megabytes per file (default 100)] [scratch directory (default /tmp)] [keep]
// ("keep" leaves the two CSVs in the scratch directory, to load them with another loader).
// Each measurement runs in a child process of its own (fork), whose peak resident set (getrusage's
// ru_maxrss) is its own; "base" is the peak of a child that loads nothing, subtracted in the ratio column.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/files.hpp"
#include "models/data.hpp"

using namespace symgrad;

namespace {

// Ten numeric columns ("123.456") and a 0/1 label: X is about as large as the text.
std::string numeric_row(std::size_t i) {
    std::string row;
    for (int c = 0; c < 10; ++c) row += std::to_string(double((i * 7919 + std::size_t(c) * 104729) % 100000) / 100.0).substr(0, 6) + ",";
    return row + std::to_string(i % 2) + "\n";
}

// Six text columns of 3 to 8 levels, two numbers and a 0/1 label (so older loaders read it too): one-hot X is
// several times the text.
std::string categorical_row(std::size_t i) {
    static const char* colours[] = {"red", "green", "blue", "black", "white"};
    static const char* towns[] = {"Southampton", "Cherbourg", "Queenstown"};
    std::string row = std::string(colours[i % 5]) + "," + towns[(i / 5) % 3] + ",c" + std::to_string(i % 8) + ",k" +
                      std::to_string((i / 3) % 4) + "," + (i % 2 ? "male" : "female") + ",g" +
                      std::to_string((i / 7) % 6) + "," + std::to_string(20 + i % 50) + "," +
                      std::to_string(7 + i % 90) + ".25," + (i % 3 ? "1" : "0") + "\n";
    return row;
}

void write_csv(const std::string& path, const std::string& header, std::size_t bytes,
               const std::function<std::string(std::size_t)>& row) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << header;
    std::size_t written = header.size();
    for (std::size_t i = 0; written < bytes; ++i) {
        std::string r = row(i);
        out << r;
        written += r.size();
    }
}

struct measurement {
    double seconds = 0.0;
    double peak_mb = 0.0;
    double x_mb = 0.0;  // X and Y of the loaded data set
};

// Runs `work` in a child process; its wall time, peak RSS and the data set's size come back through a pipe.
measurement in_child(const std::function<double()>& work) {
    int fds[2];
    if (::pipe(fds) != 0) std::exit(1);
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        auto start = std::chrono::steady_clock::now();
        measurement m;
        m.x_mb = work();
        m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        rusage u{};
        ::getrusage(RUSAGE_SELF, &u);
        m.peak_mb = double(u.ru_maxrss) / 1024.0;  // kilobytes on Linux
        ssize_t ignored = ::write(fds[1], &m, sizeof m);
        (void)ignored;
        ::_exit(0);
    }
    ::close(fds[1]);
    measurement m;
    if (::read(fds[0], &m, sizeof m) != ssize_t(sizeof m)) std::fprintf(stderr, "a measurement failed\n");
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    return m;
}

// The file's size in MiB.
double file_mb(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    return double(in.tellg()) / (1024.0 * 1024.0);  // MiB, like ru_maxrss / 1024
}

void report(const char* what, const measurement& m, double base, double size_mb) {
    std::printf("%-28s %9.1f %8.2f %9.1f %8.2fx %9.1f\n", what, size_mb, m.seconds, m.peak_mb,
                (m.peak_mb - base) / size_mb, m.x_mb);
}

void measure(const std::string& name, const std::string& path, const csv_options& options, double base) {
    double size = file_mb(path);
    report((name + ": string (1x)").c_str(), in_child([&] { return double(read_whole_file(path, "a CSV file").size() * 0); }),
           base, size);
    report((name + ": load_csv").c_str(), in_child([&] {
               dataset d = load_csv(path, options);
               return double(d.X.size() + d.Y.size()) * 8.0 / (1024.0 * 1024.0);
           }),
           base, size);
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t megabytes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100;
    const std::string dir = argc > 2 ? argv[2] : "/tmp";
    const std::string numeric = dir + "/bench_csv_numeric.csv", categorical = dir + "/bench_csv_categorical.csv";
    write_csv(numeric, "a,b,c,d,e,f,g,h,i,j,y\n", megabytes << 20, numeric_row);
    write_csv(categorical, "colour,town,cabin,deck,sex,group,age,fare,survived\n", megabytes << 20, categorical_row);
    double base = in_child([] { return 0.0; }).peak_mb;
    std::printf("peak resident memory of a child process per load; base (a child loading nothing) %.1f MB\n", base);
    std::printf("%-28s %9s %8s %9s %9s %9s\n", "input", "file MB", "time s", "peak MB", "(peak-base)/file", "X+Y MB");
    measure("numeric-heavy", numeric, {}, base);
    measure("categorical-heavy", categorical, {}, base);
    if (argc > 3 && std::string(argv[3]) == "keep") return 0;
    std::remove(numeric.c_str());
    std::remove(categorical.c_str());
}
