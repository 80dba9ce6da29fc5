// The CSV loader on files each test writes itself: typing, one-hot, missing values, and every malformed input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "engine/error.hpp"
#include "models/data.hpp"

using namespace symgrad;

namespace {

// Shape and every element equal (xtensor's == does not decompose inside CHECK).
bool same(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

// Writes `content` byte for byte to a fresh file in this process's scratch directory; returns its path.
std::string write_csv(const std::string& name, const std::string& content) {
    auto dir = std::filesystem::temp_directory_path() / ("symgrad_csv_tests_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string path = (dir / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), std::streamsize(content.size()));
    return path;
}

// The message of the input_error load_csv throws, or "(no error)". Other exception types escape and fail.
std::string csv_error(const std::string& path, const csv_options& options = {}) {
    try {
        load_csv(path, options);
    } catch (const input_error& e) {
        return e.what();
    }
    return "(no error)";
}

csv_options with_label(const std::string& label) {
    csv_options o;
    o.label = label;
    return o;
}

std::size_t feature(const dataset& d, const std::string& name) {
    for (std::size_t k = 0; k < d.feature_names.size(); ++k)
        if (d.feature_names[k] == name) return k;
    FAIL("no feature " << name);
    return 0;
}

bool has_note(const dataset& d, const std::string& part) {
    for (const auto& n : d.notes)
        if (n.find(part) != std::string::npos) return true;
    return false;
}

// Modelled on Kaggle's train.csv: quoted names with commas and doubled quotes, gaps in Age, Cabin, Embarked.
// Lines: header 1, PassengerId 1..10 on lines 2..11, 17 on 12, 62 on 13, 889 on 14.
const char* kaggle_titanic =
    "PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked\n"
    "1,0,3,\"Braund, Mr. Owen Harris\",male,22,1,0,A/5 21171,7.25,,S\n"
    "2,1,1,\"Cumings, Mrs. John Bradley (Florence Briggs Thayer)\",female,38,1,0,PC 17599,71.2833,C85,C\n"
    "3,1,3,\"Heikkinen, Miss. Laina\",female,26,0,0,STON/O2. 3101282,7.925,,S\n"
    "4,1,1,\"Futrelle, Mrs. Jacques Heath (Lily May Peel)\",female,35,1,0,113803,53.1,C123,S\n"
    "5,0,3,\"Allen, Mr. William Henry\",male,35,0,0,373450,8.05,,S\n"
    "6,0,3,\"Moran, Mr. James\",male,,0,0,330877,8.4583,,Q\n"
    "7,0,1,\"McCarthy, Mr. Timothy J\",male,54,0,0,17463,51.8625,E46,S\n"
    "8,0,3,\"Palsson, Master. Gosta Leonard\",male,2,3,1,349909,21.075,,S\n"
    "9,1,3,\"Johnson, Mrs. Oscar W (Elisabeth Vilhelmina Berg)\",female,27,0,2,347742,11.1333,,S\n"
    "10,1,2,\"Nasser, Mrs. Nicholas (Adele Achem)\",female,14,1,0,237736,30.0708,,C\n"
    "17,0,3,\"Rice, Master. Eugene\",male,2,4,1,382652,29.125,,Q\n"
    "62,1,1,\"Icard, Miss. Amelie\",female,38,0,0,113572,80,B28,\n"
    "889,0,3,\"Johnston, Miss. Catherine Helen \"\"Carrie\"\"\",female,,1,2,W./C. 6607,23.45,,S\n";

}  // namespace

// --- reading well-formed files ---------------------------------------------------------------------

TEST_CASE("a CSV's numeric columns become rows of X and the last column the label", "[data][csv]") {
    auto path = write_csv("basic.csv", "a,b,y\n1,2.5,0\n-3,4e2,1\n");
    dataset d = load_csv(path);
    CHECK(d.feature_names == std::vector<std::string>{"a", "b"});
    CHECK(d.label_name == "y");
    CHECK(d.source == path);
    REQUIRE(d.X.shape()[0] == 2);
    REQUIRE(d.X.shape()[1] == 2);
    CHECK(d.X(0, 0) == 1.0);
    CHECK(d.X(0, 1) == -3.0);
    CHECK(d.X(1, 0) == 2.5);
    CHECK(d.X(1, 1) == 400.0);
    CHECK(d.Y(0, 0) == 0.0);
    CHECK(d.Y(0, 1) == 1.0);
}

TEST_CASE("a CSV's text column becomes one-hot rows named column_value in sorted order", "[data][csv]") {
    // Seven rows, three ports: few enough distinct values not to look like an identifier.
    auto path = write_csv("onehot.csv", "port,x,y\nS,1,0\nC,2,1\nQ,3,0\nS,4,1\nS,5,0\nC,6,1\nS,7,0\n");
    dataset d = load_csv(path);
    REQUIRE(d.feature_names == std::vector<std::string>{"port_C", "port_Q", "port_S", "x"});
    for (std::size_t j = 0; j < d.samples(); ++j) CHECK(d.X(0, j) + d.X(1, j) + d.X(2, j) == 1.0);
    CHECK(d.X(2, 0) == 1.0);
    CHECK(d.X(0, 1) == 1.0);
    CHECK(d.X(1, 2) == 1.0);
}

TEST_CASE("the label column is chosen by name, exactly or else case-insensitively", "[data][csv]") {
    auto path = write_csv("label.csv", "Survived,age\n1,30\n0,40\n");
    dataset exact = load_csv(path, with_label("Survived"));
    dataset any_case = load_csv(path, with_label("survived"));
    CHECK(exact.label_name == "Survived");
    CHECK(any_case.label_name == "Survived");
    CHECK(any_case.feature_names == std::vector<std::string>{"age"});
    CHECK(any_case.Y(0, 0) == 1.0);
}

TEST_CASE("a raw Kaggle Titanic CSV loads with only the label named", "[data][csv]") {
    auto path = write_csv("train.csv", kaggle_titanic);
    dataset d = load_csv(path, with_label("Survived"));
    // Identifier-like columns left out with a note; Q survives only via PassengerId 17 (6 lacks an age).
    CHECK(d.feature_names == std::vector<std::string>{"Pclass", "Sex_female", "Sex_male", "Age", "SibSp", "Parch",
                                                      "Fare", "Embarked_C", "Embarked_Q", "Embarked_S"});
    CHECK(has_note(d, "'PassengerId'"));
    CHECK(has_note(d, "'Name'"));
    CHECK(has_note(d, "'Ticket'"));
    CHECK(has_note(d, "'Cabin'"));
    CHECK(has_note(d, "dropped 3 of 13 rows"));
    REQUIRE(d.samples() == 10);  // 6, 62 and 889 lack Age or Embarked
    // Passenger 2 is the second kept row.
    CHECK(d.X(feature(d, "Pclass"), 1) == 1.0);
    CHECK(d.X(feature(d, "Sex_female"), 1) == 1.0);
    CHECK(d.X(feature(d, "Sex_male"), 1) == 0.0);
    CHECK(d.X(feature(d, "Age"), 1) == 38.0);
    CHECK(d.X(feature(d, "Fare"), 1) == 71.2833);
    CHECK(d.X(feature(d, "Embarked_C"), 1) == 1.0);
    std::vector<double> labels(d.Y.begin(), d.Y.end());
    CHECK(labels == std::vector<double>{0, 1, 1, 1, 0, 0, 0, 1, 1, 0});
}

TEST_CASE("the mean policy fills a numeric gap with the column mean and a text gap with a _missing category",
          "[data][csv]") {
    auto path = write_csv("train_mean.csv", kaggle_titanic);
    csv_options o = with_label("Survived");
    o.missing = missing_policy::impute_mean;
    dataset d = load_csv(path, o);
    REQUIRE(d.samples() == 13);
    // The 11 ages given in the file sum to 293.
    // The mean is a sum of 11 rounded quotients: at most ~11 ulps (2.5e-15) from the exact value.
    CHECK(d.X(feature(d, "Age"), 5) == Approx(293.0 / 11.0).epsilon(1e-14));
    CHECK(d.X(feature(d, "Age"), 12) == Approx(293.0 / 11.0).epsilon(1e-14));
    std::size_t port_missing = feature(d, "Embarked_missing");
    CHECK(d.X(port_missing, 11) == 1.0);  // PassengerId 62
    for (std::size_t j = 0; j < d.samples(); ++j) {
        CHECK(d.X(port_missing, j) + d.X(feature(d, "Embarked_C"), j) + d.X(feature(d, "Embarked_Q"), j) +
                  d.X(feature(d, "Embarked_S"), j) ==
              1.0);
    }
}

TEST_CASE("the error policy names the first missing cell's line and column", "[data][csv]") {
    auto path = write_csv("train_error.csv", kaggle_titanic);
    csv_options o = with_label("Survived");
    o.missing = missing_policy::error;
    CHECK(csv_error(path, o) == path + ":7:6 (Age): missing value '' (the missing-value policy is error)");
}

TEST_CASE("empty, NA, N/A, NaN, nan, null and None cells all count as missing", "[data][csv]") {
    auto path = write_csv("tokens.csv", "x,y\n1,0\n,1\nNA,0\nN/A,1\nNaN,0\nnan,1\nnull,0\nNone,1\n\"\",0\n5,1\n");
    dataset d = load_csv(path);
    REQUIRE(d.samples() == 2);
    CHECK(d.X(0, 0) == 1.0);
    CHECK(d.X(0, 1) == 5.0);
    CHECK(has_note(d, "dropped 8 of 10 rows"));
}

TEST_CASE("quoted fields keep commas, doubled quotes and line breaks, and later line numbers stay right",
          "[data][csv]") {
    auto path = write_csv("quotes.csv", "name,x,y\n\"a, b\",1,0\n\"say \"\"hi\"\"\",2,1\n\"two\nlines\",3,0\nz,inf,1\n");
    // The infinite x sits on physical line 6, after a field spanning lines 4 and 5.
    CHECK(csv_error(path).rfind(path + ":6:2 (x): infinite value 'inf'", 0) == 0);
    auto good = write_csv("quotes_ok.csv", "name,x,y\n\"a, b\",1,0\n\"say \"\"hi\"\"\",2,1\n\"two\nlines\",3,0\n");
    csv_options o;
    o.drop_identifiers = false;
    dataset d = load_csv(good, o);
    CHECK(d.feature_names == std::vector<std::string>{"name_a, b", "name_say \"hi\"", "name_two\nlines", "x"});
}

TEST_CASE("CRLF line ends and a UTF-8 byte order mark read the same as plain LF", "[data][csv]") {
    auto lf = write_csv("lf.csv", "sex,age,y\nmale,22,0\nfemale,38,1\n");
    auto crlf = write_csv("crlf.csv", "\xEF\xBB\xBFsex,age,y\r\nmale,22,0\r\nfemale,38,1\r\n");
    dataset a = load_csv(lf), b = load_csv(crlf);
    CHECK(b.feature_names == a.feature_names);
    CHECK(b.feature_names.front() == "sex_female");  // the BOM is not part of the first name
    CHECK(same(b.X, a.X));
    CHECK(same(b.Y, a.Y));
}

TEST_CASE("huge finite values like 1e308 are accepted and standardise to finite values", "[data][csv]") {
    auto path = write_csv("huge.csv", "x,y\n1e308,0\n-1e308,1\n1.7e308,0\n0,1\n");
    csv_options o;
    o.standardize = true;
    dataset d = load_csv(path, o);
    for (double v : d.X) CHECK(std::isfinite(v));
    // Reference z-scores of (1, -1, 1.7, 0) (the values over 1e308): mean 0.425, population std 0.98584
    double mean = 0.425, sd = std::sqrt((0.575 * 0.575 + 1.425 * 1.425 + 1.275 * 1.275 + 0.425 * 0.425) / 4);
    CHECK(d.X(0, 0) == Approx((1 - mean) / sd).epsilon(1e-12));  // scaling by 1.7e308 costs a few roundings
    CHECK(d.X(0, 1) == Approx((-1 - mean) / sd).epsilon(1e-12));
}

TEST_CASE("standardisation gives every feature mean 0 and std 1, and a constant one stays 0", "[data][csv]") {
    auto path = write_csv("std.csv", "a,c,y\n1,7,0\n2,7,1\n3,7,0\n10,7,1\n");
    csv_options o;
    o.standardize = true;
    dataset d = load_csv(path, o);
    double mean = 0, sq = 0;
    for (std::size_t j = 0; j < 4; ++j) mean += d.X(0, j) / 4;
    for (std::size_t j = 0; j < 4; ++j) sq += (d.X(0, j) - mean) * (d.X(0, j) - mean) / 4;
    CHECK(mean == Approx(0).margin(1e-14));  // sums of four O(1) numbers: a few ulps
    CHECK(sq == Approx(1).epsilon(1e-14));
    for (std::size_t j = 0; j < 4; ++j) CHECK(d.X(1, j) == 0.0);
    CHECK(has_note(d, "'c' is constant"));
}

TEST_CASE("ignored columns are left out, matched case-insensitively", "[data][csv]") {
    auto path = write_csv("ignore.csv", "id_code,a,b,y\nx1,1,2,0\nx2,3,4,1\n");
    csv_options o;
    o.ignore = {"ID_CODE", "b"};
    dataset d = load_csv(path, o);
    CHECK(d.feature_names == std::vector<std::string>{"a"});
}

TEST_CASE("turning off identifier detection keeps high-cardinality text columns", "[data][csv]") {
    auto path = write_csv("ids.csv", "name,a,y\np,1,0\nq,2,1\nr,3,0\n");
    CHECK(load_csv(path).feature_names == std::vector<std::string>{"a"});
    csv_options o;
    o.drop_identifiers = false;
    CHECK(load_csv(path, o).feature_names == std::vector<std::string>{"name_p", "name_q", "name_r", "a"});
}

TEST_CASE("missing-value policies parse from their command-line names", "[data][csv]") {
    CHECK(parse_missing_policy("drop") == missing_policy::drop_row);
    CHECK(parse_missing_policy("mean") == missing_policy::impute_mean);
    CHECK(parse_missing_policy("ERROR") == missing_policy::error);
    CHECK(parse_missing_policy(to_string(missing_policy::impute_mean)) == missing_policy::impute_mean);
    CHECK_THROWS_AS(parse_missing_policy("median"), input_error);
}

// --- malformed files: each gets one line naming the place ----------------------------------------------

TEST_CASE("a missing CSV file is an input error naming it", "[data][csv]") {
    std::string path = "/nonexistent_dir_symgrad/none.csv";
    CHECK(csv_error(path) == path + ": cannot open: No such file or directory");
    auto dir = std::filesystem::temp_directory_path().string();
    CHECK(csv_error(dir) == dir + ": is a directory, not a CSV file");
}

TEST_CASE("an empty CSV file, or one with only a BOM and blank lines, is an input error", "[data][csv]") {
    auto empty = write_csv("empty.csv", "");
    CHECK(csv_error(empty) == empty + ": empty file; expected a header row and data rows");
    auto blank = write_csv("blank.csv", "\xEF\xBB\xBF\r\n  \n\n");
    CHECK(csv_error(blank) == blank + ": empty file; expected a header row and data rows");
}

TEST_CASE("a CSV with a header and no rows is an input error", "[data][csv]") {
    auto path = write_csv("header_only.csv", "a,b,y\n\n");
    CHECK(csv_error(path) == path + ":1: header only, no data rows");
}

TEST_CASE("a ragged row names its line and both field counts", "[data][csv]") {
    auto path = write_csv("ragged.csv", "a,b,y\n1,2,0\n\n3,1\n");
    CHECK(csv_error(path) == path + ":4: row has 2 fields, header has 3");
    auto longer = write_csv("ragged2.csv", "a,b,y\r\n1,2,0,9\r\n");
    CHECK(csv_error(longer) == longer + ":2: row has 4 fields, header has 3");
}

TEST_CASE("an unterminated quote names the line and column where it starts", "[data][csv]") {
    auto path = write_csv("unterminated.csv", "name,a,y\nx,1,0\n\"open,2,1\nmore,3,0\n");
    CHECK(csv_error(path) == path + ":3:1: unterminated quote (the quoted field starting here never ends)");
}

TEST_CASE("text after a closing quote is an input error naming its place", "[data][csv]") {
    auto path = write_csv("after_quote.csv", "name,a,y\n\"x\"z,1,0\n");
    CHECK(csv_error(path).rfind(path + ":2:1: unexpected character 'z' after a closing quote", 0) == 0);
}

TEST_CASE("a label other than 0 or 1 makes the label's values classes (tests/test_data_labels.cpp has the rules)",
          "[data][csv]") {
    auto path = write_csv("label2.csv", "a,y\n1,0\n2,1\n3,yes\n");
    CHECK(load_csv(path).class_names == std::vector<std::string>{"0", "1", "yes"});
    auto half = write_csv("label_half.csv", "y,a\n0.5,1\n0.25,2\n");
    CHECK(load_csv(half, with_label("y")).class_names == std::vector<std::string>{"0.25", "0.5"});
}

TEST_CASE("a missing label drops its row with a note under the drop policy", "[data][csv]") {
    auto path = write_csv("label_drop.csv", "a,y\n1,0\n2,NA\n3,1\n");
    dataset d = load_csv(path);
    CHECK(d.samples() == 2);
    CHECK(d.rows_read == 3);
    CHECK(d.Y(0, 0) == 0.0);
    CHECK(d.Y(0, 1) == 1.0);
    CHECK(std::find(d.notes.begin(), d.notes.end(), "dropped 1 of 3 rows whose label 'y' is missing") != d.notes.end());
}

TEST_CASE("a missing label is an error under the mean and error policies", "[data][csv]") {
    auto path = write_csv("label_gap.csv", "a,y\n1,0\n2,NA\n3,1\n");
    for (auto policy : {missing_policy::impute_mean, missing_policy::error}) {
        csv_options o;
        o.missing = policy;
        CHECK(csv_error(path, o) == path +
                                        ":3:2 (y): missing label 'NA'; labels are never imputed or dropped silently: "
                                        "remove or fill the row");
    }
}

TEST_CASE("an absent label column names the file and lists the columns", "[data][csv]") {
    auto path = write_csv("nolabel.csv", "PassengerId,Pclass,Sex\n1,3,male\n");
    CHECK(csv_error(path, with_label("Survived")) ==
          path + ": no label column 'Survived'; columns are: PassengerId, Pclass, Sex");
}

TEST_CASE("ignoring an unknown column names it and lists the columns", "[data][csv]") {
    auto path = write_csv("ignore_bad.csv", "a,b,y\n1,2,0\n");
    csv_options o;
    o.ignore = {"cabin"};
    CHECK(csv_error(path, o) == path + ": cannot ignore unknown column 'cabin'; columns are: a, b, y");
    o.ignore = {"y"};
    CHECK(csv_error(path, o) == path + ": column 'y' is the label; it cannot be ignored");
}

TEST_CASE("a CSV with NUL bytes is reported as looking binary", "[data][csv]") {
    auto path = write_csv("binary.csv", std::string("a,y\n1,0\n\x89PNG\0\0\x01", 15));
    CHECK(csv_error(path) == path + ":3: contains a NUL byte (offset 12); the file looks binary, not a text CSV");
}

TEST_CASE("Inf text in a numeric column is an error naming the cell", "[data][csv]") {
    auto path = write_csv("inf.csv", "a,b,y\n1,2,0\n3,-Infinity,1\n");
    CHECK(csv_error(path) ==
          path + ":3:2 (b): infinite value '-Infinity' in a numeric column; use a finite number or leave the cell empty");
    auto lower_inf = write_csv("inf2.csv", "a,y\ninf,0\n");
    CHECK(csv_error(lower_inf).rfind(lower_inf + ":2:1 (a): infinite value 'inf'", 0) == 0);
}

TEST_CASE("a number that overflows a double is an error naming the cell", "[data][csv]") {
    auto path = write_csv("overflow.csv", "a,b,y\n1,2,0\n3,4,1\n5,-1e999,0\n");
    CHECK(csv_error(path) == path + ":4:2 (b): value '-1e999' overflows a double (beyond 1.8e308)");
}

TEST_CASE("a tiny value that underflows reads as its rounded value, not an error", "[data][csv]") {
    auto path = write_csv("underflow.csv", "a,y\n1e-400,0\n4.9e-324,1\n");
    dataset d = load_csv(path);
    CHECK(d.X(0, 0) == 0.0);
    CHECK(d.X(0, 1) > 0.0);  // the smallest subnormal
}

TEST_CASE("a column missing in every row is an error suggesting ignore", "[data][csv]") {
    auto path = write_csv("all_missing.csv", "a,b,y\n1,,0\n2,NA,1\n");
    for (auto policy : {missing_policy::drop_row, missing_policy::impute_mean}) {
        csv_options o;
        o.missing = policy;
        CHECK(csv_error(path, o) == path + ": column 2 (b) is missing in all 2 rows; leave it out with ignore");
    }
}

TEST_CASE("dropping rows that leaves none is an error listing the missing counts", "[data][csv]") {
    auto path = write_csv("none_left.csv", "a,b,y\n1,,0\n,2,1\n");
    CHECK(csv_error(path) == path +
                                 ": every one of the 2 rows has a missing value (missing cells: a 1, b 1); use the "
                                 "mean policy or ignore the emptiest columns");
}

TEST_CASE("a duplicate or empty header name is an input error naming the column", "[data][csv]") {
    auto dup = write_csv("dup.csv", "Age,age,y\n1,2,0\n");
    CHECK(csv_error(dup) == dup + ":1:2 (age): duplicate column name (column 1 is 'Age'; names are compared "
                                  "case-insensitively)");
    auto empty = write_csv("empty_name.csv", "a,,y\n1,2,0\n");
    CHECK(csv_error(empty) == empty + ":1:2: empty column name in the header");
}

TEST_CASE("a CSV whose only column is the label has no features and says so", "[data][csv]") {
    auto path = write_csv("label_only.csv", "y\n0\n1\n");
    CHECK(csv_error(path) == path + ": no feature columns left besides the label 'y'");
}

TEST_CASE("a column and a one-hot value with the same feature name are an input error", "[data][csv]") {
    auto path = write_csv("clash.csv", "sex,sex_male,y\nmale,1,0\nfemale,0,1\nmale,1,0\n");
    CHECK(csv_error(path) == path + ": two features are both named 'sex_male' (a column and a one-hot value share "
                                    "the name); rename one column");
}

TEST_CASE("CSV text parsed from memory reads like the file and names its source in errors", "[data][csv]") {
    auto path = write_csv("memory.csv", "a,y\n1,0\n2,1\n");
    dataset from_file = load_csv(path);
    dataset from_text = parse_csv("a,y\n1,0\n2,1\n", "inline");
    CHECK(same(from_text.X, from_file.X));
    CHECK(same(from_text.Y, from_file.Y));
    CHECK(from_text.source == "inline");
    CHECK_THROWS_WITH(parse_csv("a,y\n1,0\n2\n", "inline"), "inline:3: row has 1 fields, header has 2");
}

TEST_CASE("a file of many buffers, with quoted line breaks, CRLF and a field longer than the buffer, loads every "
          "value where it belongs", "[data][csv][stream]") {
    // 30000 rows (about 1 MB): every 7th row's text spans two lines; one ignored cell holds 300 KB.
    std::string csv = "x,kind,note,y\r\n";
    for (int i = 0; i < 30000; ++i) {
        std::string kind = i % 7 == 0 ? "\"a,\r\nb\"" : (i % 2 ? "odd" : "\"even\"");
        std::string note = i == 12345 ? "\"" + std::string(300000, 'z') + "\"" : "n";
        csv += std::to_string(i) + ".5," + kind + "," + note + "," + std::to_string(i % 3 == 0) + "\r\n";
    }
    auto path = write_csv("many_blocks.csv", csv);
    csv_options o;
    o.ignore = {"note"};
    dataset d = load_csv(path, o);
    REQUIRE(d.samples() == 30000);
    CHECK(d.feature_names == std::vector<std::string>{"x", "kind_a,\r\nb", "kind_even", "kind_odd"});
    bool all_right = true;
    for (std::size_t j = 0; j < 30000; ++j) {
        int i = int(j);
        double kind_a = i % 7 == 0, kind_odd = i % 7 != 0 && i % 2, kind_even = i % 7 != 0 && !(i % 2);
        all_right = all_right && d.X(0, j) == i + 0.5 && d.X(1, j) == kind_a && d.X(2, j) == kind_even &&
                    d.X(3, j) == kind_odd && d.Y(0, j) == double(i % 3 == 0);
    }
    CHECK(all_right);
    // A bad value in the last row is named at its physical line: 1 header + 30000 rows + 4286 quoted breaks.
    auto bad = write_csv("many_blocks_bad.csv", csv + "inf,odd,n,1\r\n");
    CHECK(csv_error(bad, o).rfind(bad + ":34288:1 (x): infinite value 'inf'", 0) == 0);
}

TEST_CASE("a column whose first thousands of cells are numbers and later ones text counts all its values",
          "[data][csv][stream]") {
    std::string csv = "code,a,y\n";
    for (int i = 0; i < 2100; ++i) csv += (i < 2000 ? std::to_string(i) : std::string("x")) + "," + std::to_string(i % 5) + "," + std::to_string(i % 2) + "\n";
    dataset d = load_csv(write_csv("late_text.csv", csv));
    CHECK(has_note(d, "left out column 'code': identifier-like text (2001 distinct values in 2100 filled cells)"));
}

TEST_CASE("one-hot levels come from the kept rows only, also when the file is read in passes",
          "[data][csv][stream]") {
    csv_options o;
    o.drop_identifiers = false;
    dataset d = load_csv(write_csv("levels_kept.csv", "a,c,y\n1,p,0\nNA,q,1\n3,p,1\n4,r,0\n"), o);
    CHECK(d.feature_names == std::vector<std::string>{"a", "c_p", "c_r"});
    CHECK(d.samples() == 3);
}

TEST_CASE("a malformed quote early in a file does not hide a NUL byte further on, as when the file was read "
          "whole first", "[data][csv][stream]") {
    std::string csv = "name,a,y\n\"x\"z,1,0\n";
    for (int i = 0; i < 20000; ++i) csv += "n,1,0\n";  // 120 KB: the NUL byte lies beyond the first blocks
    const std::size_t offset = csv.size(), line = 20003;
    auto path = write_csv("quote_then_nul.csv", csv + std::string("n,\0,1\n", 6));
    CHECK(csv_error(path) == path + ":" + std::to_string(line) + ": contains a NUL byte (offset " +
                                 std::to_string(offset + 2) + "); the file looks binary, not a text CSV");
}
