// The catalogue of bad inputs, run through the symcheck binary: each must end with exit status 2 and one
// line on stderr, "symcheck: error: ...", naming the problem and the place; never a crash, hang or verdict.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "run_command.hpp"

using symgrad::testing::command_result;
using symgrad::testing::run_command;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

const std::string exe = SYMCHECK_EXE;

struct bad_case {
    std::string what;                   // the input, in words
    std::string args;                   // appended to the symcheck command
    std::vector<std::string> expected;  // substrings the one-line message must hold (problem and place)
};

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

std::string shell_quoted(const std::string& path) { return "'" + path + "'"; }

// Status exactly 2, nothing on stdout (no verdict, no report), stderr exactly one line with the prefix,
// and every expected fragment in it.
void check_refused(const bad_case& c) {
    INFO("case: " << c.what << "\nargs: " << c.args);
    command_result r = run_command(exe, c.args);
    INFO("stderr: " << r.err);
    CHECK(r.status == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("symcheck: error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.back() == '\n');
    for (const auto& e : c.expected) CHECK(r.err.find(e) != std::string::npos);
}

// numpy's .npy layout built by hand (magic, version 1.0, header dict padded to 64 bytes, raw data), so
// the bad variants below are exact and independent of the writer under test.
std::string npy_bytes(const std::string& descr, bool fortran, const std::string& shape,
                      const std::string& data) {
    std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                         ", 'shape': " + shape + ", }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += char(header.size() & 0xff);
    out += char(header.size() >> 8);
    return out + header + data;
}

std::string doubles(std::size_t n, double value) {
    std::string s(8 * n, '\0');
    for (std::size_t k = 0; k < n; ++k) std::memcpy(&s[8 * k], &value, 8);
    return s;
}

// A CSV whose label column holds n distinct values (0.5, 1.5, ...): a measurement, not classes.
std::string many_labels(int n) {
    std::string csv = "x,survived\n";
    for (int i = 0; i < n; ++i) csv += std::to_string(i) + "," + std::to_string(i) + ".5\n";
    return csv;
}

// A directory with valid W1 (4x6), b1 (4x1), W2 (1x4), b2 (1x1) for the titanic model with 4 hidden units.
void write_valid_parameters(const std::string& dir) {
    std::filesystem::create_directories(dir);
    write_bytes(dir + "/W1.npy", npy_bytes("<f8", false, "(4, 6)", doubles(24, 0.1)));
    write_bytes(dir + "/b1.npy", npy_bytes("<f8", false, "(4, 1)", doubles(4, 0.0)));
    write_bytes(dir + "/W2.npy", npy_bytes("<f8", false, "(1, 4)", doubles(4, 0.2)));
    write_bytes(dir + "/b2.npy", npy_bytes("<f8", false, "(1, 1)", doubles(1, 0.0)));
}

}  // namespace

TEST_CASE("symcheck refuses every malformed CSV with exit 2 and one line naming file, line and column",
          "[robustness][cli][csv]") {
    temp_dir dir("robust-csv");
    auto csv = [&](const std::string& name, const std::string& body) {
        write_bytes(dir / name, body);
        return "--init glorot --iterations 2 --data " + shell_quoted(dir / name);
    };
    const std::vector<bad_case> cases{
        {"an empty file", csv("empty.csv", ""), {"empty.csv", "empty file"}},
        {"only blank lines", csv("blank.csv", "\n\r\n  \n"), {"blank.csv", "empty file"}},
        {"a header and no rows", csv("header.csv", "a,b,survived\n"), {"header.csv:1", "header only"}},
        {"a ragged row", csv("ragged.csv", "a,b,survived\n1,2,0\n3,4\n"),
         {"ragged.csv:3", "2 fields", "header has 3"}},
        {"a binary file (PNG signature)", csv("image.csv", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16)),
         {"image.csv:3", "NUL byte", "binary"}},
        {"a value beyond the double range", csv("overflow.csv", "x,survived\n1,0\n1e309,1\n"),
         {"overflow.csv:3:1 (x)", "'1e309'", "overflows"}},
        {"Inf text in a numeric column", csv("inf.csv", "x,survived\n1,0\n-inf,1\n"),
         {"inf.csv:3:1 (x)", "infinite value '-inf'"}},
        // Labels other than 0/1 are classes since issue 12; a label with more values than classes is refused.
        {"a label with 101 distinct values", csv("label101.csv", many_labels(101)),
         {"label101.csv:102:2 (survived)", "'100.5'", "max_classes"}},
        {"a missing label (error policy)", csv("labelerr.csv", "x,survived\n1,0\n2,NA\n") + " --missing error",
         {"labelerr.csv:3:2 (survived)", "missing label 'NA'"}},
        {"a label missing in every row", csv("labelnone.csv", "x,survived\n1,\n2,NA\n"),
         {"labelnone.csv", "every one of the 2 rows"}},
        {"a missing label (mean policy; drop drops the row)", csv("labelna.csv", "x,survived\n1,0\n2,\n") + " --missing mean",
         {"labelna.csv:3:2", "missing label"}},
        {"an unterminated quote", csv("quote.csv", "name,survived\n1,0\n\"Smith, J,1\n2,1\n"),
         {"quote.csv:3:1", "unterminated quote"}},
        {"a quote closed by the next row's quote", csv("quote2.csv", "name,survived\n\"Smith, J,1\n\"Doe\",0\n"),
         {"quote2.csv:3:1", "after a closing quote"}},
        {"text after a closing quote", csv("afterquote.csv", "name,survived\n\"Smith\"x,1\n"),
         {"afterquote.csv:2:1", "after a closing quote"}},
        {"a duplicate column", csv("dup.csv", "x,X,survived\n1,2,0\n"), {"dup.csv:1:2", "duplicate column"}},
        {"an empty column name", csv("noname.csv", "x,,survived\n1,2,0\n"), {"noname.csv:1:2", "empty column name"}},
        {"a missing cell with --missing error", csv("na.csv", "x,survived\n1,0\nNaN,1\n") + " --missing error",
         {"na.csv:3:1 (x)", "missing value 'NaN'"}},
        {"a cell holding a line break, quoted back", csv("newline.csv", "\"a\nb\",\"A\nB\",survived\n1,2,0\n"),
         {"newline.csv:1:2", "duplicate column", "\\n"}},
        {"a directory given as the data file", "--data " + shell_quoted(dir.path.string()), {"is a directory"}},
        {"a file that does not exist", "--data " + shell_quoted(dir / "nope.csv"), {"nope.csv", "cannot open"}},
    };
    for (const auto& c : cases) check_refused(c);
}

TEST_CASE("symcheck names the label column it cannot find and lists the columns there are",
          "[robustness][cli][csv]") {
    temp_dir dir("robust-label");
    write_bytes(dir / "d.csv", "age,fare,class\n1,2,0\n3,4,1\n");
    check_refused({"a missing label column", "--data " + shell_quoted(dir / "d.csv") + " --label survived",
                   {"d.csv", "no label column 'survived'", "age, fare, class"}});
    check_refused({"an unknown ignored column", "--data " + shell_quoted(dir / "d.csv") + " --ignore cabin",
                   {"d.csv", "unknown column 'cabin'"}});
}

TEST_CASE("symcheck reads a CSV with a UTF-8 BOM and CRLF line ends like the plain file",
          "[robustness][cli][csv]") {
    temp_dir dir("robust-bom");
    const std::string rows[] = {"x,sex,survived", "1.5,male,0", "2.5,female,1", "0.5,female,1", "3,male,0"};
    std::string plain, awkward = "\xEF\xBB\xBF";
    for (const auto& r : rows) plain += r + "\n", awkward += r + "\r\n";
    write_bytes(dir / "plain.csv", plain);
    write_bytes(dir / "awkward.csv", awkward);
    std::string common = " --init glorot --iterations 5 --quiet --json ";
    auto a = run_command(exe, "--data " + shell_quoted(dir / "plain.csv") + common + shell_quoted(dir / "a.json"));
    auto b = run_command(exe, "--data " + shell_quoted(dir / "awkward.csv") + common + shell_quoted(dir / "b.json"));
    INFO(a.err << b.err);
    REQUIRE(a.status == 0);
    REQUIRE(b.status == 0);
    // Same features, labels and training: the reports differ only in the file name they quote.
    std::string ja = slurp(dir.path / "a.json"), jb = slurp(dir.path / "b.json");
    for (std::string* j : {&ja, &jb})
        for (const char* name : {"plain.csv", "awkward.csv"})
            for (auto p = j->find(name); p != std::string::npos; p = j->find(name)) j->replace(p, std::strlen(name), "F");
    CHECK(ja == jb);
}

TEST_CASE("symcheck refuses bad .npy parameter files with exit 2 and one line naming the file",
          "[robustness][cli][npy]") {
    temp_dir dir("robust-npy");
    // Each case: a valid directory with one file spoiled.
    auto spoiled = [&](const std::string& name, const std::string& file, const std::string& bytes) {
        std::string d = dir / name;
        write_valid_parameters(d);
        if (bytes.empty())
            std::filesystem::remove(d + "/" + file);
        else
            write_bytes(d + "/" + file, bytes);
        return "--iterations 0 --load " + shell_quoted(d);
    };
    std::string w1 = npy_bytes("<f8", false, "(4, 6)", doubles(24, 0.1));
    const std::vector<bad_case> cases{
        {"a truncated file", spoiled("trunc", "W1.npy", w1.substr(0, w1.size() - 5)),
         {"W1.npy", "truncated", "192 data bytes", "187"}},
        {"a file cut inside the header", spoiled("cut", "W1.npy", w1.substr(0, 20)), {"W1.npy", "truncated"}},
        {"float32 data", spoiled("f4", "W1.npy", npy_bytes("<f4", false, "(4, 6)", std::string(96, '\0'))),
         {"W1.npy", "dtype '<f4'", "float64"}},
        {"int64 data", spoiled("i8", "b2.npy", npy_bytes("<i8", false, "(1, 1)", std::string(8, '\0'))),
         {"b2.npy", "dtype '<i8'"}},
        {"Fortran order", spoiled("fortran", "W1.npy", npy_bytes("<f8", true, "(4, 6)", doubles(24, 0.1))),
         {"W1.npy", "Fortran order"}},
        {"the wrong shape", spoiled("shape", "W1.npy", npy_bytes("<f8", false, "(3, 6)", doubles(18, 0.1))),
         {"W1.npy", "(3, 6)", "(4x6)"}},
        {"three dimensions", spoiled("rank3", "W1.npy", npy_bytes("<f8", false, "(4, 6, 1)", doubles(24, 0.1))),
         {"W1.npy", "3 dimensions"}},
        {"a NaN weight", spoiled("nan", "W2.npy", npy_bytes("<f8", false, "(1, 4)", doubles(4, std::nan("")))),
         {"W2.npy", "is NaN"}},
        {"not a .npy file at all", spoiled("text", "b1.npy", "W1 = [[0.1, 0.2]]\n"), {"b1.npy", "not a .npy file"}},
        {"a garbage header", spoiled("garbage", "W1.npy", npy_bytes("<f8", false, "(4, six)", doubles(24, 0.1))),
         {"W1.npy", "garbage .npy header"}},
        {"a missing file", spoiled("missing", "b1.npy", ""), {"b1.npy", "missing", "b1", "(4x1)"}},
        {"a missing directory", "--iterations 0 --load " + shell_quoted(dir / "absent"), {"absent", "not a directory"}},
    };
    for (const auto& c : cases) check_refused(c);
}

TEST_CASE("symcheck refuses out-of-range and malformed flags with exit 2 and one line naming the flag",
          "[robustness][cli][flags]") {
    const std::vector<bad_case> cases{
        {"zero width", "--hidden 0", {"--hidden", "at least 1"}},
        {"negative width", "--hidden -4", {"--hidden", "'-4'"}},
        {"an empty width", "--hidden 4,,2", {"--hidden", "''"}},
        {"a width that is not a number", "--hidden four", {"--hidden", "'four'"}},
        {"an absurd width", "--hidden 99999999999", {"--hidden", "too large"}},
        // 10^9 units x 2201 samples is 17.6 TB of activations: refused at once, not a thrashing allocator.
        {"a width no machine can hold", "--hidden 1000000000", {"model too large", "1000000000", "GB"}},
        {"layers no machine can hold", "--hidden 100000,100000,100000 --init zeros", {"model too large"}},
        {"negative iterations", "--iterations -3", {"--iterations", "'-3'"}},
        {"fractional iterations", "--iterations 2.5", {"--iterations", "'2.5'"}},
        {"zero learning rate", "--lr 0", {"--lr", "positive finite"}},
        {"negative learning rate", "--lr -1", {"--lr", "positive finite"}},
        {"NaN learning rate", "--lr nan", {"--lr", "positive finite"}},
        {"infinite learning rate", "--lr inf", {"--lr", "positive finite"}},
        {"learning rate beyond double", "--lr 1e400", {"--lr", "'1e400'"}},
        {"learning rate with junk", "--lr 0.1x", {"--lr", "'0.1x'"}},
        {"unknown initialiser", "--init foo", {"init 'foo'"}},
        {"bad initialiser parameter", "--init constant:abc", {"init 'constant:abc'"}},
        {"override of an unknown tensor", "--init glorot,W9=zeros", {"W9"}},
        {"unknown activation", "--activation swish", {"activation 'swish'", "tanh, sigmoid, relu"}},
        {"unknown optimiser", "--optimizer sgd2", {"--optimizer", "'sgd2'"}},
        {"negative tolerance", "--tolerance -1", {"--tolerance", ">= 0"}},
        {"NaN tolerance", "--tolerance nan", {"--tolerance"}},
        {"tolerance and exact together", "--tolerance 0.1 --exact", {"--exact", "--tolerance"}},
        {"negative seed", "--seed -1", {"--seed", "'-1'"}},
        {"zero trace interval", "--trace-every 0", {"--trace-every", "at least 1"}},
        {"unknown missing-value policy", "--missing sometimes", {"missing-value policy 'sometimes'"}},
        {"an unknown flag", "--bogus", {"bogus", "--help"}},
        {"a flag without its value", "--lr", {"lr", "missing"}},
        {"a stray positional argument", "titanic", {"titanic"}},
        {"--load with --init", "--load x --init zeros", {"--load", "--init"}},
        {"--label with the embedded data", "--label survived", {"--label"}},
        {"an empty --json path", "--json ''", {"--json", "file name"}},
    };
    for (const auto& c : cases) check_refused(c);
}

TEST_CASE("symcheck refuses output paths it cannot write before training, leaving nothing behind",
          "[robustness][cli][files]") {
    temp_dir dir("robust-out");
    write_bytes(dir / "plain", "a regular file\n");
    std::filesystem::create_directories(dir / "adir");
    const std::string under_file = dir / "plain/r.out";  // a path under a regular file: ENOTDIR, even as root
    const std::vector<bad_case> cases{
        {"--json into a missing directory", "--json " + shell_quoted(dir / "nodir/r.json"), {"--json", "'" + dir / "nodir" + "' does not exist"}},
        {"--json naming a directory", "--json " + shell_quoted(dir / "adir"), {"--json", "adir", "is a directory"}},
        {"--json under a regular file", "--json " + shell_quoted(under_file), {"--json", "plain/r.out", "'" + dir / "plain" + "' is not a directory"}},
        {"--trace under a regular file", "--trace " + shell_quoted(under_file), {"--trace", "plain/r.out"}},
        {"--svg naming a directory", "--svg " + shell_quoted(dir / "adir"), {"--svg", "is a directory"}},
        {"--dot into a missing directory", "--dot " + shell_quoted(dir / "nodir/g.dot"), {"--dot", "nodir' does not exist"}},
        {"--save under a regular file", "--save " + shell_quoted(dir / "plain/params"), {"--save", "plain/params"}},
        {"--save naming a regular file", "--save " + shell_quoted(dir / "plain"), {"--save", "plain"}},
    };
    for (auto c : cases) {
        c.args += " --init glorot --iterations 2";
        check_refused(c);
    }
    // Nothing was created: the directory holds exactly what the test put there.
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"adir", "plain"});
    CHECK(std::filesystem::is_empty(dir.path / "adir"));
    CHECK(slurp(dir.path / "plain") == "a regular file\n");
}

TEST_CASE("an existing output file survives a run that fails, and no temporary is left beside it",
          "[robustness][cli][files]") {
    temp_dir dir("robust-keep");
    write_bytes(dir / "r.json", "previous report\n");
    // The JSON path is fine, the SVG path is not: the run must fail before touching either.
    auto r = run_command(exe, "--init glorot --iterations 2 --json " + shell_quoted(dir / "r.json") + " --svg " +
                                  shell_quoted(dir / "nodir/f.svg"));
    CHECK(r.status == 2);
    CHECK(slurp(dir.path / "r.json") == "previous report\n");
    std::size_t entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
        INFO(e.path());
        CHECK(e.path().filename() == "r.json");
        ++entries;
    }
    CHECK(entries == 1);
}
