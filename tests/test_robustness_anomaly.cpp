// Diverging and non-finite runs through the symcheck binary: an anomaly report naming the node, its op and
// shape and the iteration, exit status 2, and never a verdict.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "run_command.hpp"

using symgrad::testing::command_result;
using symgrad::testing::run_command;
using symgrad::testing::temp_dir;

namespace {

const std::string exe = SYMCHECK_EXE;

void check_anomaly(const command_result& r) {
    INFO("stderr: " << r.err << "stdout: " << r.out);
    CHECK(r.status == 2);
    CHECK(r.out.empty());  // no report, so no verdict
    CHECK(r.err.rfind("symcheck: error: anomaly: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

// A .npy file of `rows` x `cols` float64 values all equal to `value`, in numpy's layout.
void write_filled_npy(const std::string& path, std::size_t rows, std::size_t cols, double value) {
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) + header;
    for (std::size_t k = 0; k < rows * cols; ++k) {
        char raw[8];
        std::memcpy(raw, &value, 8);
        bytes.append(raw, 8);
    }
    std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("a learning rate so large that training diverges is reported as an anomaly with exit 2 for every optimiser",
          "[robustness][anomaly]") {
    // With tanh hidden units and the clamped BCE nothing overflows even at 1e300 (every step saturates the
    // sigmoid instead), so these runs are caught by the divergence rule, at the first update.
    for (const char* optimizer : {"gd", "momentum", "adam"})
        for (const char* lr : {"1e6", "1e12", "1e300"}) {
            INFO(optimizer << " at lr " << lr);
            auto r = run_command(exe, std::string("--init glorot --iterations 50 --optimizer ") + optimizer + " --lr " + lr);
            check_anomaly(r);
            CHECK(r.err.find("training diverged in run 'glorot' at iteration 1:") != std::string::npos);
            CHECK(r.err.find("node 'A2' (sigmoid, (1x2201))") != std::string::npos);
            CHECK(r.err.find("lower --lr") != std::string::npos);
        }
}

TEST_CASE("a rise of the cost that training recovers from is not called divergence", "[robustness][anomaly]") {
    // Adam at lr 0.1 from normal(0, 0.01) raises the cost at iteration 1 and then trains normally: the
    // probabilities never reach the clamp, so a verdict is given. The trace shows the rise really happened.
    temp_dir dir("robust-rise");
    auto r = run_command(exe, "--init normal:0.01 --optimizer adam --lr 0.1 --iterations 300 --trace '" + dir / "t.csv" + "'");
    INFO(r.err);
    CHECK((r.status == 0 || r.status == 1));
    CHECK(r.err.empty());
    CHECK(r.out.find("healthy") != std::string::npos);
    std::ifstream trace(dir / "t.csv");
    std::string line;
    std::getline(trace, line);  // run,iteration,cost,effective_width
    std::vector<double> costs;
    while (std::getline(trace, line)) {
        auto a = line.find(','), b = line.find(',', a + 1), c = line.find(',', b + 1);
        costs.push_back(std::stod(line.substr(b + 1, c - b - 1)));
    }
    REQUIRE(costs.size() == 301);
    CHECK(*std::max_element(costs.begin(), costs.end()) > costs.front());  // it rose
    CHECK(costs.back() < costs.front());                                   // and came back down
}

TEST_CASE("turning anomaly detection off with --no-detect-anomaly lets a diverged run finish with a verdict", "[robustness][anomaly]") {
    auto r = run_command(exe, "--init glorot --iterations 20 --lr 1e6 --no-detect-anomaly");
    INFO(r.err);
    CHECK((r.status == 0 || r.status == 1));
    CHECK(r.err.empty());
}

TEST_CASE("parameters that overflow in the forward pass name the first non-finite node, its op, shape and pass",
          "[robustness][anomaly]") {
    temp_dir dir("robust-inf");
    write_filled_npy(dir / "W1.npy", 4, 6, 1e308);  // W1 X sums up to three 1e308 terms per sample: Inf
    write_filled_npy(dir / "b1.npy", 4, 1, 0.0);
    write_filled_npy(dir / "W2.npy", 1, 4, 0.5);
    write_filled_npy(dir / "b2.npy", 1, 1, 0.0);
    auto r = run_command(exe, "--iterations 5 --load '" + dir.path.string() + "'");
    check_anomaly(r);
    CHECK(r.err.find("value of node") != std::string::npos);
    CHECK(r.err.find("(matmul, (4x2201)) is Inf") != std::string::npos);
    CHECK(r.err.find("in pass 0") != std::string::npos);
}

TEST_CASE("the default check and --detect-anomaly full name the same first non-finite node", "[robustness][anomaly]") {
    temp_dir dir("robust-inf-full");
    write_filled_npy(dir / "W1.npy", 4, 6, 1e308);
    write_filled_npy(dir / "b1.npy", 4, 1, 0.0);
    write_filled_npy(dir / "W2.npy", 1, 4, 0.5);
    write_filled_npy(dir / "b2.npy", 1, 1, 0.0);
    const std::string load = "--iterations 5 --load '" + dir.path.string() + "'";
    auto results = run_command(exe, load);
    auto full = run_command(exe, load + " --detect-anomaly full");
    check_anomaly(full);
    CHECK(full.err.find("(matmul, (4x2201)) is Inf at (0,0) in pass 0") != std::string::npos);
    CHECK(results.err == full.err);
    // Diverging at a huge learning rate: the same message both ways too.
    auto diverged = run_command(exe, "--init glorot --iterations 50 --lr 1e12 --detect-anomaly=full");
    check_anomaly(diverged);
    CHECK(diverged.err == run_command(exe, "--init glorot --iterations 50 --lr 1e12").err);
}

TEST_CASE("symcheck refuses an unknown --detect-anomaly mode, and --no-detect-anomaly next to it", "[robustness][anomaly]") {
    auto bad = run_command(exe, "--detect-anomaly sometimes");
    CHECK(bad.status == 2);
    CHECK(bad.err == "symcheck: error: --detect-anomaly 'sometimes': unknown (choices: results, full)\n");
    auto both = run_command(exe, "--detect-anomaly full --no-detect-anomaly");
    CHECK(both.status == 2);
    CHECK(both.err == "symcheck: error: --detect-anomaly and --no-detect-anomaly exclude each other\n");
}

TEST_CASE("a CSV holding 1e308 loads, and its overflow in training is reported as an anomaly, not a verdict",
          "[robustness][anomaly][csv]") {
    temp_dir dir("robust-huge");
    std::ofstream(dir / "huge.csv") << "x,z,survived\n1e308,1e308,0\n-1e308,1,1\n1e308,1e308,1\n0,0,0\n";
    auto r = run_command(exe, "--init constant:1 --iterations 5 --data '" + dir / "huge.csv" + "'");
    check_anomaly(r);
    CHECK(r.err.find("is Inf") != std::string::npos);
    // Standardised, the same file is ordinary data.
    auto s = run_command(exe, "--init glorot --iterations 5 --standardize --data '" + dir / "huge.csv" + "'");
    INFO(s.err);
    CHECK((s.status == 0 || s.status == 1));
}
