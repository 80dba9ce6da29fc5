// symcheck end to end: exit statuses, the JSON report's documented fields, trace, SVG, DOT, .npy in/out.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

using nlohmann::json;
using symgrad::testing::run_command;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {
const std::string exe = SYMCHECK_EXE;

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}
}  // namespace

TEST_CASE("symcheck with a zero initialisation exits 1 and reports the layer frozen", "[symcheck][cli]") {
    auto r = run_command(exe, "--init zeros --iterations 20");
    CHECK(r.status == 1);
    CHECK(r.out.find("frozen") != std::string::npos);
    CHECK(r.out.find("parameters moving: b2") != std::string::npos);
    CHECK(r.err.empty());
}

TEST_CASE("symcheck with Glorot initialisation exits 0 with a healthy verdict", "[symcheck][cli]") {
    auto r = run_command(exe, "--init glorot --iterations 20");
    CHECK(r.status == 0);
    CHECK(r.out.find("healthy") != std::string::npos);
}

TEST_CASE("symcheck --version prints the version CMake's project() declares", "[symcheck][cli]") {
    auto r = run_command(exe, "--version");
    CHECK(r.status == 0);
    CHECK(r.out == std::string("symcheck ") + SYMGRAD_VERSION + "\n");
    CHECK(std::string(SYMGRAD_VERSION).find('.') != std::string::npos);  // a real version, not an empty define
}

TEST_CASE("symcheck rejects bad usage with exit 2 and one line naming the flag", "[symcheck][cli]") {
    for (const char* args : {"--bogus", "--lr -1", "--lr nan", "--hidden 0", "--iterations -3", "--activation swish",
                             "--init foo", "--optimizer sgd2", "--tolerance -1"}) {
        INFO(args);
        auto r = run_command(exe, args);
        CHECK(r.status == 2);
        CHECK(r.err.rfind("symcheck: error: ", 0) == 0);
        CHECK(count(r.err, "\n") == 1);
        CHECK(r.out.empty());
    }
}

TEST_CASE("symcheck --json holds the documented fields for every run", "[symcheck][cli][json]") {
    temp_dir dir("json");
    auto r = run_command(exe, "--init zeros --init constant:0.5 --init normal:0.01 --iterations 30 --quiet --json '" +
                                  dir / "r.json" + "'");
    REQUIRE(r.status == 1);
    json j = json::parse(slurp(dir / "r.json"));
    CHECK(j["verdict"] == "frozen");
    CHECK(j["exit_status"] == 1);
    CHECK(j["data"]["samples"] == 2201);
    CHECK(j["data"]["positives"] == 711);
    REQUIRE(j["runs"].size() == 3);
    const char* expected[] = {"frozen", "symmetric", "healthy"};
    for (std::size_t i = 0; i < 3; ++i) {
        const json& run = j["runs"][i];
        INFO(run["init"]);
        CHECK(run["verdict"] == expected[i]);
        REQUIRE(run["layers"].size() == 1);
        const json& layer = run["layers"][0];
        CHECK(layer["units"] == 4);
        CHECK(layer.contains("name"));
        std::size_t units_in_classes = 0;
        for (const auto& c : layer["classes"]) units_in_classes += c.size();
        CHECK(units_in_classes == 4);
        CHECK(layer["effective_width"] == layer["classes"].size());
        REQUIRE(run["trace"].size() == 31);
        CHECK(run["trace"][0]["iteration"] == 0);
        CHECK(run["trace"][30]["iteration"] == 30);
        CHECK(run["trace"][30]["cost"] == run["final_cost"]);
        CHECK(run["trace"][30]["effective_width"] == layer["effective_width"]);
    }
    CHECK(j["runs"][1]["layers"][0]["effective_width"] == 1);
    CHECK(j["runs"][0]["moved"]["W1"] == false);
    CHECK(j["runs"][0]["moved"]["b2"] == true);
    CHECK(j["runs"][1]["moved"]["W1"] == true);
}

TEST_CASE("symcheck --json - prints only JSON on stdout", "[symcheck][cli][json]") {
    auto r = run_command(exe, "--init glorot --iterations 5 --json -");
    CHECK(r.status == 0);
    CHECK_NOTHROW(json::parse(r.out));
}

TEST_CASE("symcheck writes the trace CSV, the SVG figure and the DOT graph", "[symcheck][cli]") {
    temp_dir dir("outputs");
    auto r = run_command(exe, "--init zeros --init glorot --iterations 12 --quiet --trace '" + dir / "t.csv" +
                                  "' --svg '" + dir / "f.svg" + "' --dot '" + dir / "g.dot" + "'");
    REQUIRE(r.status == 1);
    std::string csv = slurp(dir / "t.csv");
    CHECK(csv.rfind("run,iteration,cost,effective_width\n", 0) == 0);
    CHECK(count(csv, "\n") == 1 + 2 * 13);
    CHECK(csv.find("zeros,12,") != std::string::npos);
    std::string svg = slurp(dir / "f.svg");
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
    CHECK(count(svg, "<polyline") == 4);  // 2 runs x (cost, effective width)
    CHECK(svg.find(">glorot</text>") != std::string::npos);
    CHECK(svg.find("iteration</text>") != std::string::npos);
    std::string dot = slurp(dir / "g.dot");
    CHECK(dot.rfind("digraph", 0) == 0);
    CHECK(dot.find("W1") != std::string::npos);
    CHECK(dot.find("tanh") != std::string::npos);
}

TEST_CASE("symcheck saves parameters as .npy and diagnoses them loaded back with zero iterations", "[symcheck][cli][npy]") {
    temp_dir dir("npy");
    auto saved = run_command(exe, "--init constant:0.5 --iterations 10 --quiet --save '" + dir / "p" + "'");
    REQUIRE(saved.status == 1);
    for (const char* f : {"W1.npy", "b1.npy", "W2.npy", "b2.npy"}) CHECK(std::filesystem::exists(dir.path / "p" / f));
    auto loaded = run_command(exe, "--load '" + dir / "p" + "' --iterations 0 --json -");
    REQUIRE(loaded.status == 1);
    json j = json::parse(loaded.out);
    CHECK(j["runs"][0]["verdict"] == "symmetric");
    CHECK(j["runs"][0]["layers"][0]["effective_width"] == 1);
    CHECK(j["runs"][0]["trace"].size() == 1);
}

TEST_CASE("symcheck --print-weights prints W1 and W2 for the first iterations", "[symcheck][cli]") {
    auto r = run_command(exe, "--init zeros --iterations 5 --print-weights 2");
    CHECK(r.status == 1);
    CHECK(count(r.out, "W1 =") == 2);
    CHECK(count(r.out, "W2 =") == 2);
    CHECK(r.out.find("iteration 1 ") != std::string::npos);
    CHECK(r.out.find("iteration 2 ") == std::string::npos);
}

TEST_CASE("symcheck output files are byte-identical across two identical runs", "[symcheck][cli]") {
    temp_dir dir("determinism");
    std::string args = "--init normal:0.01 --init he --iterations 25 --seed 7 --quiet";
    for (const char* run : {"a", "b"}) {
        std::string d = dir / run;
        std::filesystem::create_directories(d);
        auto r = run_command(exe, args + " --json '" + d + "/r.json' --trace '" + d + "/t.csv' --svg '" + d +
                                      "/f.svg' --dot '" + d + "/g.dot' --save '" + d + "/p'");
        REQUIRE(r.status == 0);
    }
    for (const char* f : {"r.json", "t.csv", "f.svg", "g.dot", "p/normal_0.01/W1.npy", "p/he/W2.npy"}) {
        INFO(f);
        std::string a = slurp(dir.path / "a" / f), b = slurp(dir.path / "b" / f);
        CHECK(!a.empty());
        CHECK(a == b);
    }
}
