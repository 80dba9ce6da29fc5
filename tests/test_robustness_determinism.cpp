// Same command, same seed, same bytes: every output file of two identical runs on CSV input and on loaded
// parameters (the titanic case is in test_symcheck_cli.cpp), and a different seed does change them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "run_command.hpp"

using symgrad::testing::run_command;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

const std::string exe = SYMCHECK_EXE;
const char* const outputs[] = {"r.json", "t.csv", "f.svg", "g.dot", "p/normal_0.01/W1.npy", "p/he/b2.npy"};

// A small raw CSV with text, gaps and a quoted field, like a downloaded file.
void write_csv(const std::string& path) {
    std::ofstream out(path);
    out << "PassengerId,Survived,Pclass,Name,Sex,Age,Fare,Embarked\n";
    const char* sexes[] = {"male", "female"};
    const char* ports[] = {"S", "C", "Q", ""};
    for (int i = 1; i <= 60; ++i)
        out << i << "," << (i * 7 % 3 == 0) << "," << 1 + i % 3 << ",\"Person, No. " << i << "\"," << sexes[i % 2] << ","
            << (i % 9 == 0 ? std::string() : std::to_string(5 + i % 50)) << "," << 7.25 + 1.5 * (i % 11) << ","
            << ports[i % 4] << "\n";
}

void run_into(const std::string& dir, const std::string& args) {
    std::filesystem::create_directories(dir);
    auto r = run_command(exe, args + " --quiet --json '" + dir + "/r.json' --trace '" + dir + "/t.csv' --svg '" + dir +
                                  "/f.svg' --dot '" + dir + "/g.dot' --save '" + dir + "/p'");
    INFO(r.err);
    REQUIRE((r.status == 0 || r.status == 1));
}

}  // namespace

TEST_CASE("two identical runs on a CSV file write byte-identical files", "[robustness][determinism]") {
    temp_dir dir("det-csv");
    write_csv(dir / "people.csv");
    std::string args = "--data '" + dir / "people.csv" + "' --label Survived --missing mean --standardize "
                       "--init normal:0.01 --init he --optimizer adam --lr 0.01 --iterations 30 --seed 11";
    run_into(dir / "a", args);
    run_into(dir / "b", args);
    for (const char* f : outputs) {
        INFO(f);
        std::string a = slurp(dir.path / "a" / f), b = slurp(dir.path / "b" / f);
        CHECK(!a.empty());
        CHECK(a == b);
    }
}

TEST_CASE("another seed gives other weights, so the identical-runs test can fail", "[robustness][determinism]") {
    temp_dir dir("det-seed");
    write_csv(dir / "people.csv");
    std::string args = "--data '" + dir / "people.csv" + "' --label Survived --missing mean --standardize "
                       "--init normal:0.01 --init he --iterations 30 --seed ";
    run_into(dir / "a", args + "11");
    run_into(dir / "b", args + "12");
    CHECK(slurp(dir.path / "a/p/normal_0.01/W1.npy") != slurp(dir.path / "b/p/normal_0.01/W1.npy"));
    CHECK(slurp(dir.path / "a/r.json") != slurp(dir.path / "b/r.json"));
}

TEST_CASE("two identical runs from loaded parameters write byte-identical files", "[robustness][determinism]") {
    temp_dir dir("det-load");
    // Parameters saved by a first run, then trained further twice from the same files.
    auto first = run_command(exe, "--init glorot --iterations 3 --quiet --save '" + dir / "start" + "'");
    REQUIRE(first.status == 0);
    for (const char* run : {"a", "b"}) {
        std::string d = dir / run;
        std::filesystem::create_directories(d);
        auto r = run_command(exe, "--load '" + dir / "start" + "' --optimizer momentum --iterations 20 --quiet --json '" +
                                      d + "/r.json' --trace '" + d + "/t.csv' --save '" + d + "/p'");
        REQUIRE((r.status == 0 || r.status == 1));
    }
    for (const char* f : {"r.json", "t.csv", "p/W1.npy", "p/b1.npy", "p/W2.npy", "p/b2.npy"}) {
        INFO(f);
        std::string a = slurp(dir.path / "a" / f);
        CHECK(!a.empty());
        CHECK(a == slurp(dir.path / "b" / f));
    }
}
