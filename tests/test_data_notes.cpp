// Data transparency (issue 13): what the CSV loader did and what looks wrong reaches the dataset's notes and
// warnings, and symcheck's text report and JSON; a seaborn-style Titanic names the column that cost the rows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/data.hpp"
#include "run_command.hpp"

using namespace symgrad;
using symgrad::testing::run_command;
using symgrad::testing::temp_dir;

namespace {

const std::string exe = SYMCHECK_EXE;

bool has(const std::vector<std::string>& lines, const std::string& fragment) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(fragment) != std::string::npos; });
}

// 891 passengers shaped like seaborn's titanic.csv: 'deck' filled in one row of five, 'age' missing in one of
// nine, and 'alive' saying yes/no next to 'survived'.
std::string seaborn_like_titanic() {
    std::string csv = "survived,pclass,sex,age,fare,deck,alive\n";
    for (int i = 0; i < 891; ++i) {
        bool survived = (i * 7) % 19 < 7;
        csv += std::string(survived ? "1" : "0") + "," + std::to_string(1 + i % 3) + "," + (i % 2 ? "male" : "female") +
               "," + (i % 9 == 4 ? std::string() : std::to_string(18 + i % 50)) + "," + std::to_string(7 + (i * 13) % 90) +
               ".25," + (i % 5 == 0 ? std::string(1, char('A' + i % 7)) : std::string()) + "," +
               (survived ? "yes" : "no") + "\n";
    }
    return csv;
}

std::string write(const temp_dir& dir, const std::string& name, const std::string& text) {
    std::ofstream(dir / name, std::ios::binary) << text;
    return dir / name;
}

}  // namespace

TEST_CASE("the seaborn-style Titanic run names the column that cost the rows and how to keep them",
          "[data][notes][cli]") {
    temp_dir dir("notes-seaborn");
    std::string path = write(dir, "titanic.csv", seaborn_like_titanic());
    auto r = run_command(exe, "--data '" + path + "' --label survived --iterations 1 --init glorot");
    INFO(r.out << r.err);
    REQUIRE(r.status <= 1);
    CHECK(r.out.find("data: dropped 731 of 891 rows with missing values (missing cells: age 99, deck 712)") !=
          std::string::npos);
    CHECK(r.out.find("warning: dropping rows with missing values kept only 160 of 891 rows; column 'deck' is missing "
                     "in 712 of them: --ignore deck keeps 792 rows, --missing mean keeps 891") != std::string::npos);
    CHECK(r.out.find("warning: feature 'alive_no' predicts the label 'survived' perfectly in all 160 samples: it is "
                     "probably the label in other words; leave it out with --ignore alive") != std::string::npos);
    CHECK(r.out.find("data: one-hot encoded text column 'sex' as 2 levels (female, male)") != std::string::npos);

    auto j = run_command(exe, "--data '" + path + "' --label survived --ignore deck,alive --iterations 1 --init glorot --json -");
    auto report = nlohmann::json::parse(j.out);
    CHECK(report["data"]["samples"] == 792);
    CHECK(report["data"]["rows_read"] == 891);
    auto notes = report["data"]["notes"].get<std::vector<std::string>>();
    CHECK(has(notes, "left out column 'deck' as asked"));
    CHECK(has(notes, "left out column 'alive' as asked"));
    CHECK(has(notes, "dropped 99 of 891 rows with missing values (missing cells: age 99)"));
    CHECK(report["data"].count("warnings") == 0);  // nothing left to warn about
}

TEST_CASE("the mean policy keeps every row and notes each imputation and the missing category", "[data][notes]") {
    temp_dir dir("notes-mean");
    csv_options o;
    o.missing = missing_policy::impute_mean;
    dataset d = load_csv(write(dir, "m.csv", "a,c,y\n1,x,0\n,y,1\n3,,0\n4,x,1\n"), o);
    CHECK(d.samples() == 4);
    CHECK(has(d.notes, "filled 1 missing cells of 'a' with its mean"));
    CHECK(has(d.notes, "one-hot encoded text column 'c' as 2 levels (x, y) and a 'c_missing' feature"));
    CHECK(d.warnings.empty());
}

TEST_CASE("a NaN cell drops its row with a note naming the column", "[data][notes]") {
    temp_dir dir("notes-nan");
    dataset d = load_csv(write(dir, "n.csv", "a,b,y\n1,2,0\nNaN,3,1\n4,5,1\n"));
    CHECK(d.samples() == 2);
    CHECK(has(d.notes, "dropped 1 of 3 rows with missing values (missing cells: a 1)"));
}

TEST_CASE("labels of a single class and constant columns are reported", "[data][notes]") {
    temp_dir dir("notes-class");
    dataset d = load_csv(write(dir, "z.csv", "a,k,y\n1,7,0\n2,7,0\n3,7,0\n"));
    CHECK(has(d.warnings, "every one of the 3 samples has label 0 in 'y': there is nothing to learn"));
    CHECK(has(d.notes, "feature 'k' is constant"));
}

TEST_CASE("a perfect predictor needs five samples of each class to be called a leak", "[data][notes]") {
    temp_dir dir("notes-leak");
    CHECK(load_csv(write(dir, "few.csv", "a,y\n1,0\n2,1\n3,0\n4,1\n")).warnings.empty());
    std::string csv = "score,noise,y\n";
    for (int i = 0; i < 12; ++i) csv += std::to_string(i) + "," + std::to_string((i * 5) % 7) + "," + (i >= 6 ? "1" : "0") + "\n";
    dataset d = load_csv(write(dir, "leak.csv", csv));
    REQUIRE(d.warnings.size() == 1);
    CHECK(d.warnings[0].find("feature 'score' predicts the label 'y' perfectly in all 12 samples") != std::string::npos);
}

TEST_CASE("symcheck warns when there are fewer samples than parameters", "[data][notes][cli]") {
    temp_dir dir("notes-params");
    std::string path = write(dir, "one.csv", "a,b,y\n1,2,0\n3,1,1\n");
    auto r = run_command(exe, "--data '" + path + "' --iterations 1 --init glorot");
    CHECK(r.status <= 1);
    CHECK(r.out.find("warning: only 2 samples for 17 parameters: the model can memorise every label") != std::string::npos);
}

TEST_CASE("the embedded data gives no data lines, so the demo's report is unchanged", "[data][notes][cli]") {
    auto r = run_command(exe, "--iterations 1 --init glorot");
    CHECK(r.out.find("\ndata: ") == std::string::npos);
    CHECK(r.out.find("\nwarning: ") == std::string::npos);
}

TEST_CASE("symcheck trains on a yes/no label and reports its classes among the data lines", "[data][notes][cli]") {
    temp_dir dir("notes-yesno");
    std::string csv = "a,b,alive\n";
    for (int i = 0; i < 40; ++i)
        csv += std::to_string(i % 7) + "," + std::to_string((i * 3) % 11) + "," + (i % 3 ? "yes" : "no") + "\n";
    auto r = run_command(exe, "--data '" + write(dir, "yes_no.csv", csv) + "' --iterations 1 --init glorot");
    INFO(r.out << r.err);
    REQUIRE(r.status <= 1);
    CHECK(r.out.find("data: label 'alive': 2 classes no=0, yes=1") != std::string::npos);
}
