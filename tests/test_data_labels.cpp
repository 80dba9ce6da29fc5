// Labels with k classes (issue 12): text, integer and 0/1 label columns, their code order, Y's layout, the
// mapping note, missing labels, and the warnings that read Y (one class, a label leak) with k rows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/error.hpp"
#include "models/data.hpp"

using namespace symgrad;

namespace {

std::string write_csv(const std::string& name, const std::string& content) {
    auto dir = std::filesystem::temp_directory_path() / ("symgrad_label_tests_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    return path;
}

bool has(const std::vector<std::string>& lines, const std::string& fragment) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(fragment) != std::string::npos; });
}

// Y's rows, each as a vector, for comparisons written out by hand.
std::vector<std::vector<double>> rows(const tensor& Y) {
    std::vector<std::vector<double>> r(Y.shape()[0]);
    for (std::size_t i = 0; i < Y.shape()[0]; ++i)
        for (std::size_t j = 0; j < Y.shape()[1]; ++j) r[i].push_back(Y(i, j));
    return r;
}

csv_options label(const std::string& name) {
    csv_options o;
    o.label = name;
    return o;
}

// Eight penguins: species first (the label), island as text, measurements with an NA row, sex with two gaps,
// and one row whose species is missing.
const std::string penguins =
    "species,island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex\n"
    "Adelie,Torgersen,39.1,18.7,181,3750,male\n"
    "Adelie,Torgersen,NA,NA,NA,NA,\n"
    "Gentoo,Biscoe,46.1,13.2,211,4500,female\n"
    "Chinstrap,Dream,46.5,17.9,192,3500,female\n"
    ",Dream,50.0,19.5,196,3900,male\n"
    "Gentoo,Biscoe,50.0,16.3,230,5700,male\n"
    "Adelie,Dream,37.8,18.3,174,3400,NA\n"
    "Chinstrap,Dream,49.5,19.0,200,3800,male\n";

}  // namespace

TEST_CASE("a text label with three species gives a one-hot Y with a row per class in sorted order",
          "[data][labels]") {
    dataset d = load_csv(write_csv("penguins.csv", penguins), label("species"));
    CHECK(d.class_names == std::vector<std::string>{"Adelie", "Chinstrap", "Gentoo"});
    // Kept rows 1, 3, 4, 6, 8: Adelie, Gentoo, Chinstrap, Gentoo, Chinstrap.
    CHECK(rows(d.Y) == std::vector<std::vector<double>>{{1, 0, 0, 0, 0}, {0, 0, 1, 0, 1}, {0, 1, 0, 1, 0}});
    CHECK(d.rows_read == 8);
    CHECK(has(d.notes, "label 'species': 3 classes Adelie=0, Chinstrap=1, Gentoo=2"));
    CHECK(has(d.notes, "dropped 1 of 8 rows whose label 'species' is missing"));
    CHECK(has(d.notes, "dropped 2 of 8 rows with missing values (missing cells: bill_length_mm 1, bill_depth_mm 1, "
                       "flipper_length_mm 1, body_mass_g 1, sex 2)"));
    CHECK(d.feature_names == std::vector<std::string>{"island_Biscoe", "island_Dream", "island_Torgersen",
                                                      "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                                      "body_mass_g", "sex_female", "sex_male"});
    CHECK(d.X(3, 0) == 39.1);
    CHECK(d.X(3, 4) == 49.5);
}

TEST_CASE("CSV text in memory gives the same k-class labels as the file", "[data][labels]") {
    dataset a = load_csv(write_csv("penguins2.csv", penguins), label("species"));
    dataset b = parse_csv(penguins, "inline", label("species"));
    CHECK(b.class_names == a.class_names);
    CHECK(rows(b.Y) == rows(a.Y));
}

TEST_CASE("a yes/no label gives one row of 0/1 with yes coded 1", "[data][labels]") {
    dataset d = load_csv(write_csv("alive.csv", "a,alive\n1,yes\n2,no\n3,yes\n"));
    CHECK(d.class_names == std::vector<std::string>{"no", "yes"});
    CHECK(rows(d.Y) == std::vector<std::vector<double>>{{1, 0, 1}});
    CHECK(has(d.notes, "label 'alive': 2 classes no=0, yes=1"));
}

TEST_CASE("0/1 labels keep their codes, their class names are 0 and 1, and no mapping is noted", "[data][labels]") {
    dataset d = load_csv(write_csv("zero_one.csv", "a,y\n1,1.0\n2,0e0\n3,1\n"));
    CHECK(d.class_names == std::vector<std::string>{"0", "1"});
    CHECK(rows(d.Y) == std::vector<std::vector<double>>{{1, 0, 1}});
    CHECK_FALSE(has(d.notes, "label 'y'"));
    dataset ones = load_csv(write_csv("all_ones.csv", "a,y\n1,1\n2,1\n"));
    CHECK(ones.class_names == std::vector<std::string>{"0", "1"});
    CHECK(has(ones.warnings, "every one of the 2 samples has label 1 in 'y'"));
}

TEST_CASE("integer labels are ordered numerically, not as text", "[data][labels]") {
    dataset d = load_csv(write_csv("ints.csv", "a,y\n1,10\n2,9\n3,2\n4,9\n"));
    CHECK(d.class_names == std::vector<std::string>{"2", "9", "10"});
    CHECK(rows(d.Y) == std::vector<std::vector<double>>{{0, 0, 1, 0}, {0, 1, 0, 1}, {1, 0, 0, 0}});
    CHECK(has(d.notes, "label 'y': 3 classes 2=0, 9=1, 10=2"));
}

TEST_CASE("two spellings of one number are one class, named by the first", "[data][labels]") {
    dataset d = load_csv(write_csv("spellings.csv", "a,y\n1,1\n2,1.0\n3,2\n"));
    CHECK(d.class_names == std::vector<std::string>{"1", "2"});
    CHECK(rows(d.Y) == std::vector<std::vector<double>>{{0, 0, 1}});
}

TEST_CASE("text labels are ordered as byte strings, and a number among text makes every label text",
          "[data][labels]") {
    dataset d = load_csv(write_csv("bytes.csv", "a,y\n1,b\n2,B\n3,a\n"));
    CHECK(d.class_names == std::vector<std::string>{"B", "a", "b"});
    CHECK(rows(d.Y) == std::vector<std::vector<double>>{{0, 1, 0}, {0, 0, 1}, {1, 0, 0}});
    dataset mixed = load_csv(write_csv("mixed.csv", "a,y\n1,10\n2,9\n3,x\n"));
    CHECK(mixed.class_names == std::vector<std::string>{"10", "9", "x"});
}

TEST_CASE("a label with one distinct value loads with the one-class warning", "[data][labels]") {
    dataset d = load_csv(write_csv("one_value.csv", "a,y\n1,yes\n2,yes\n3,yes\n"));
    CHECK(d.class_names == std::vector<std::string>{"yes"});
    CHECK(rows(d.Y) == std::vector<std::vector<double>>{{0, 0, 0}});
    CHECK(has(d.warnings, "every one of the 3 samples has label yes in 'y': there is nothing to learn"));
}

TEST_CASE("a label with more distinct values than max_classes is refused at the first value beyond",
          "[data][labels]") {
    auto path = write_csv("too_many.csv", "a,y\n1,p\n2,q\n3,r\n4,p\n5,s\n");
    csv_options o;
    o.max_classes = 3;
    CHECK_THROWS_WITH(load_csv(path, o), path + ":6:2 (y): label 's' is one distinct value more than the 3 classes "
                                                "allowed (max_classes): is the column a measurement? choose another label");
    std::string prices = "a,price\n";
    for (int i = 0; i < 101; ++i) prices += std::to_string(i) + "," + std::to_string(100 + i) + ".5\n";
    CHECK_THROWS_WITH(load_csv(write_csv("prices.csv", prices)), Catch::Contains("prices.csv:102:2 (price): label '200.5'"));
}

TEST_CASE("a missing label is still an error under the mean policy with k classes", "[data][labels]") {
    auto path = write_csv("missing_k.csv", "a,y\n1,p\n2,q\n3,\n4,r\n");
    csv_options o;
    o.missing = missing_policy::impute_mean;
    CHECK_THROWS_WITH(load_csv(path, o), path + ":4:2 (y): missing label ''; labels are never imputed or dropped "
                                                "silently: remove or fill the row");
}

TEST_CASE("a feature that puts each of three classes in its own interval is warned about as a leak",
          "[data][labels]") {
    // 'score' separates all three classes; 'split' separates p from q and r but not q from r; 'noise' none.
    std::string csv = "score,split,noise,y\n";
    const char* cls[] = {"p", "q", "r"};
    for (int i = 0; i < 15; ++i)
        csv += std::to_string(10 * (i % 3) + i / 3) + "," + (i % 3 == 0 ? "0" : "1") + "," + std::to_string((i * 7) % 11) +
               "," + cls[i % 3] + "\n";
    dataset d = load_csv(write_csv("leak3.csv", csv));
    REQUIRE(d.warnings.size() == 1);
    CHECK(d.warnings[0].find("feature 'score' predicts the label 'y' perfectly in all 15 samples") != std::string::npos);
}

TEST_CASE("three classes where one has fewer than five samples give no leak warning", "[data][labels]") {
    std::string csv = "score,y\n";
    for (int i = 0; i < 14; ++i) csv += std::to_string(i) + "," + (i < 5 ? "p" : i < 10 ? "q" : "r") + "\n";
    CHECK(load_csv(write_csv("leak_few.csv", csv)).warnings.empty());
}

TEST_CASE("the embedded titanic names its classes 0 and 1", "[data][labels]") {
    CHECK(titanic().class_names == std::vector<std::string>{"0", "1"});
}
