// The sharded CSV loader over 1, 2, 3, 5 and 7 thread ranks against load_csv on the whole file (the independent
// reference): the ranks' X and Y side by side equal load_csv's, with the same names, classes, notes, warnings and
// errors on every rank, including quoted line breaks across the cuts.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "engine/error.hpp"
#include "models/data.hpp"
#include "tests/thread_collective.hpp"

using namespace symgrad;

namespace {

const std::vector<std::size_t> rank_counts{1, 2, 3, 5, 7};

std::string write_csv(const std::string& name, const std::string& content) {
    auto dir = std::filesystem::temp_directory_path() / ("symgrad_csv_shard_tests_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string path = (dir / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), std::streamsize(content.size()));
    return path;
}

struct outcome {
    std::vector<dataset> parts;       // per rank
    std::vector<std::string> errors;  // per rank, empty when it loaded
};

outcome load_sharded(const std::string& path, const csv_options& options, std::size_t ranks) {
    outcome o{std::vector<dataset>(ranks), std::vector<std::string>(ranks)};
    testing::run_ranks(ranks, [&](collective& peers) {
        try {
            o.parts[peers.rank()] = load_csv_shard(path, options, peers);
        } catch (const input_error& e) {
            o.errors[peers.rank()] = e.what();
        }
    });
    return o;
}

// The ranks' columns side by side, in rank order.
std::vector<double> joined(const std::vector<dataset>& parts, bool labels) {
    const tensor& first = labels ? parts[0].Y : parts[0].X;
    std::vector<double> out;
    for (std::size_t f = 0; f < first.shape()[0]; ++f)
        for (const auto& d : parts) {
            const tensor& t = labels ? d.Y : d.X;
            REQUIRE(t.shape()[0] == first.shape()[0]);
            for (std::size_t j = 0; j < t.shape()[1]; ++j) out.push_back(t(f, j));
        }
    return out;
}

std::vector<double> flat(const tensor& t) { return std::vector<double>(t.begin(), t.end()); }

// Elements equal within `ulps` units in the last place (0: bitwise).
bool close(const std::vector<double>& a, const std::vector<double>& b, double ulps) {
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k) {
        if (ulps == 0.0 ? std::memcmp(&a[k], &b[k], sizeof(double)) != 0
                        : std::fabs(a[k] - b[k]) > ulps * std::numeric_limits<double>::epsilon() * std::max(1.0, std::fabs(b[k])))
            return false;
    }
    return true;
}

// load_csv on the whole file against every rank count: the same error on every rank, or the same data set.
// Returns load_csv's error ("" when it loaded).
std::string check_against_whole(const std::string& path, const csv_options& options = {}, double ulps = 0.0) {
    std::string whole_error;
    dataset whole;
    try {
        whole = load_csv(path, options);
    } catch (const input_error& e) {
        whole_error = e.what();
    }
    for (std::size_t n : rank_counts) {
        INFO(path << " on " << n << " ranks");
        outcome o = load_sharded(path, options, n);
        for (std::size_t r = 0; r < n; ++r) {
            INFO("rank " << r);
            REQUIRE(o.errors[r] == whole_error);
            if (!whole_error.empty()) continue;
            CHECK(o.parts[r].feature_names == whole.feature_names);
            CHECK(o.parts[r].class_names == whole.class_names);
            CHECK(o.parts[r].label_name == whole.label_name);
            CHECK(o.parts[r].notes == whole.notes);
            CHECK(o.parts[r].warnings == whole.warnings);
            CHECK(o.parts[r].rows_read == whole.rows_read);
            CHECK(o.parts[r].source == whole.source);
        }
        if (!whole_error.empty()) continue;
        // Each rank read a share, not the whole file: with enough samples, at least two ranks hold some.
        std::size_t holding = 0;
        for (const auto& d : o.parts) holding += d.samples() > 0;
        if (n > 1 && whole.samples() >= 4 * n) CHECK(holding >= 2);
        CHECK(close(joined(o.parts, false), flat(whole.X), ulps));
        CHECK(close(joined(o.parts, true), flat(whole.Y), 0.0));
    }
    return whole_error;
}

template <class... Args>
void loads_alike(Args&&... args) {
    CHECK(check_against_whole(std::forward<Args>(args)...) == "");
}

template <class... Args>
void fails_alike(Args&&... args) {
    CHECK(check_against_whole(std::forward<Args>(args)...) != "");
}

// A fixed pseudo-random sequence (no library generator: the same numbers everywhere).
struct lcg {
    std::uint64_t s = 12345;
    std::uint64_t next() { return (s = s * 6364136223846793005ull + 1442695040888963407ull) >> 33; }
};

std::string numeric_csv(std::size_t rows) {
    lcg g;
    std::string t = "a,b,c,y\n";
    for (std::size_t r = 0; r < rows; ++r)
        t += std::to_string(int(g.next() % 1000) - 500) + "," + std::to_string(double(g.next() % 100000) / 977.0) + "," +
             std::to_string(g.next() % 7) + "e-3," + std::to_string(g.next() % 2) + "\n";
    return t;
}

csv_options label(const std::string& name) {
    csv_options o;
    o.label = name;
    return o;
}

}  // namespace

TEST_CASE("a numeric file splits into the whole file's samples on any number of ranks", "[csv_shard]") {
    loads_alike(write_csv("numeric.csv", numeric_csv(60)));
    csv_options standardized;
    standardized.standardize = true;
    // The means and deviations are sums grouped by rank (collective::sum's tree), not left to right: a few ulp.
    loads_alike(write_csv("numeric_std.csv", numeric_csv(60)), standardized, 8.0);
}

TEST_CASE("levels seen in one shard only, a k-class text label and a column numeric in some shards", "[csv_shard]") {
    lcg g;
    const char* fruit[] = {"pear", "fig", "plum"};
    const char* kinds[] = {"setosa", "versicolor", "virginica"};
    std::string t = "fruit,size,code,kind\napple," + std::to_string(g.next() % 9) + ",1,setosa\n";
    for (int r = 0; r < 40; ++r)
        t += std::string(fruit[g.next() % 3]) + "," + std::to_string(g.next() % 9) + "," + std::to_string(g.next() % 5) +
             "," + kinds[g.next() % 3] + "\n";
    t += "zebra,3,x7,virginica\n";  // a level and the text of 'code' only in the last shard
    loads_alike(write_csv("levels.csv", t), label("kind"));
    // A text column whose first cells are numbers (its values are collected in another pass), an id column of
    // shuffled distinct integers (the ranks' ranges overlap) and one with a duplicate across shards.
    std::string u = "PassengerId,OtherId,cabin,y\n";
    for (int r = 0; r < 30; ++r)
        u += std::to_string((r * 17) % 31) + "," + std::to_string(r == 29 ? 0 : r) + "," +
             (r == 20 ? std::string("B5") : std::to_string(r % 3)) + "," + std::to_string(r % 2) + "\n";
    loads_alike(write_csv("ids.csv", u));
}

// Gaps in a numeric and a text column; with `unlabelled`, one row has no label.
std::string missing_csv(bool unlabelled) {
    lcg g;
    std::string t = "x,color,z,y\n";
    for (int r = 0; r < 50; ++r) {
        std::string x = g.next() % 6 == 0 ? "" : std::to_string(double(g.next() % 1000) / 7.0);
        std::string color = g.next() % 8 == 0 ? "NA" : (g.next() % 2 ? "red" : "blue");
        std::string y = unlabelled && r == 33 ? "" : std::to_string(g.next() % 2);
        t += x + "," + color + "," + std::to_string(g.next() % 11) + "," + y + "\n";
    }
    return t;
}

TEST_CASE("missing values: dropped, imputed with the mean of every shard, or refused at the first", "[csv_shard]") {
    const std::string unlabelled = write_csv("unlabelled.csv", missing_csv(true));
    const std::string labelled = write_csv("labelled.csv", missing_csv(false));
    csv_options mean, refuse;
    mean.missing = missing_policy::impute_mean;
    refuse.missing = missing_policy::error;
    loads_alike(unlabelled);
    loads_alike(labelled);
    fails_alike(unlabelled, mean);  // the missing label is refused
    // The mean is a sum grouped by rank: within a few ulp of load_csv's (and its note's six decimals equal).
    loads_alike(labelled, mean, 4.0);
    fails_alike(labelled, refuse);
}

TEST_CASE("quoted commas and line breaks, CRLF, no final line break, fewer rows than ranks", "[csv_shard]") {
    std::string t = "name,\"n, as text\",y\r\n";
    for (int r = 0; r < 25; ++r)
        t += (r % 4 == 0 ? "\"two\r\nlines\"" : r % 4 == 1 ? "\"a, b\"" : r % 4 == 2 ? "\"say \"\"hi\"\"\"" : "plain") +
             std::string(",") + std::to_string(r % 5) + "," + std::to_string(r % 2) + "\r\n";
    loads_alike(write_csv("quoted_crlf.csv", t));
    t.resize(t.size() - 2);
    loads_alike(write_csv("no_final_break.csv", t));
    loads_alike(write_csv("few_rows.csv", "a,y\n1,0\n2,1\n"));
    loads_alike(write_csv("one_row.csv", "\xEF\xBB\xBF\"a\",y\r\n\r\n1,0"));
    // A header with a quoted line break after blank lines (some cuts fall before or inside it), lone \r breaks.
    std::string v = "\n \n\"first\ncolumn\",y\r";
    for (int r = 0; r < 9; ++r) v += std::to_string(r * 3) + "," + std::to_string(r % 2) + "\r" + (r % 3 ? "" : "\r");
    loads_alike(write_csv("header_break.csv", v));
}

TEST_CASE("a quoted field whose line breaks hold fake records spans the cuts and is never split", "[csv_shard]") {
    // A literal quote in an unquoted field (12") first: counting quotes from the cut would take the inside of
    // the quoted field below for the outside.
    // The quoted field opens with a line break, as a closing quote could be followed by, and its lines look like
    // records with the header's three fields.
    std::string fake;
    for (int k = 0; k < 200; ++k) fake += "\n" + std::to_string(k) + ",fake," + std::to_string(k % 2);
    std::string t = "size,note,y\n12\",short,1\n7,\"" + fake + "\nend\",0\n";
    for (int r = 0; r < 12; ++r) t += std::to_string(r) + ",n" + std::to_string(r % 3) + "," + std::to_string(r % 2) + "\n";
    loads_alike(write_csv("boundary.csv", t));
    // Quoted line breaks everywhere: most cuts fall inside one.
    std::string u = "note,v,y\n";
    for (int r = 0; r < 40; ++r) u += "\"l1\nl2,\"\"x\"\"\nl3\"," + std::to_string(r % 7) + "," + std::to_string(r % 2) + "\n";
    loads_alike(write_csv("many_breaks.csv", u));
}

TEST_CASE("every rank throws the error load_csv gives for the first bad line of the file", "[csv_shard]") {
    const std::string good = numeric_csv(40);
    auto with_line = [&](std::size_t at, const std::string& line) {  // `line` replaces data row `at`
        std::size_t b = 0;
        for (std::size_t k = 0; k <= at; ++k) b = good.find('\n', b) + 1;
        return good.substr(0, b) + line + good.substr(good.find('\n', b) + 1);
    };
    fails_alike(write_csv("ragged_late.csv", with_line(37, "1,2\n")));
    // The first of two bad lines in file order (the second in another rank's range) is the one reported.
    const std::string first_bad = with_line(3, "1,2,3,\"0\"x\n");
    fails_alike(write_csv("two_bad.csv", first_bad.substr(0, first_bad.size() - 30) + "1,2\n" +
                                                     first_bad.substr(first_bad.size() - 30)));
    fails_alike(write_csv("after_quote.csv", with_line(20, "1,\"2\"z,3,0\n")));
    fails_alike(write_csv("unterminated.csv", with_line(38, "1,\"2,3,0\n")));
    fails_alike(write_csv("infinite.csv", with_line(25, "1,inf,3,0\n")));
    fails_alike(write_csv("nul.csv", with_line(30, std::string("1,2,3\0,0\n", 9))));
    fails_alike(write_csv("empty.csv", ""));
    fails_alike(write_csv("header_only.csv", "a,b,y\n\n"));
    fails_alike(write_csv("blank_lines.csv", "\n\n  \n"));
    fails_alike((std::filesystem::temp_directory_path() / "symgrad_no_such_file.csv").string());
    csv_options few = label("y");
    few.max_classes = 3;
    std::string classes = "x,y\n";
    for (int r = 0; r < 30; ++r) classes += std::to_string(r) + "," + std::to_string(r < 20 ? r % 3 : r % 5) + "\n";
    fails_alike(write_csv("classes.csv", classes), few);
    csv_options small;
    small.max_input_bytes = 100;
    fails_alike(write_csv("large.csv", good), small);
}

TEST_CASE("warnings and notes count every shard: leaks, constants, single class, identifiers", "[csv_shard]") {
    std::string t = "PassengerId,Name,leak,const,y\n";
    for (int r = 0; r < 30; ++r)
        t += std::to_string(r + 1) + ",name" + std::to_string(r) + "," + std::to_string(r % 2 ? 5 + r : -r) + ",4," +
             std::to_string(r % 2) + "\n";
    loads_alike(write_csv("warnings.csv", t));
    // Identifier-like text with more than max_categories values on one rank (only their count is agreed) and
    // names repeated across shards; a ticket column whose first cells are numbers.
    std::string u = "Name,Ticket,v,y\n";
    for (int r = 0; r < 150; ++r)
        u += "n" + std::to_string((r * 7) % 110) + "," + (r < 60 ? std::to_string(r) : "T" + std::to_string(r % 90)) +
             "," + std::to_string(r % 4) + "," + std::to_string(r % 2) + "\n";
    loads_alike(write_csv("names.csv", u));
    loads_alike(write_csv("single.csv", "a,y\n1,1\n2,1\n3,1\n4,1\n5,1\n6,1\n"));
}

namespace {

// Thread ranks that rewrite the file once, between two collectives (all ranks wait at a barrier meanwhile):
// after the `after`-th all_gather, as if another program wrote it while the ranks were loading.
class rewriting_collective final : public collective {
public:
    rewriting_collective(collective& inner, std::size_t after, std::string path, std::string text)
        : inner_(inner), after_(after), path_(std::move(path)), text_(std::move(text)) {}
    std::size_t rank() const override { return inner_.rank(); }
    std::size_t size() const override { return inner_.size(); }
    void sum(double* data, std::size_t n) override { inner_.sum(data, n); }
    void max(double* data, std::size_t n) override { inner_.max(data, n); }
    std::vector<std::string> all_gather(const std::string& mine) override {
        std::vector<std::string> all = inner_.all_gather(mine);
        if (++calls_ == after_) {
            if (rank() == 0) write_csv(path_, text_);
            double barrier = 0.0;
            inner_.sum(&barrier, 1);
        }
        return all;
    }

private:
    collective& inner_;
    std::size_t after_, calls_ = 0;
    std::string path_, text_;
};

}  // namespace

TEST_CASE("a file rewritten between the passes is refused by every rank", "[csv_shard]") {
    const std::string text = numeric_csv(40);
    std::string other = text;
    other.replace(other.find('\n') + 1, 1, "x");  // the first value becomes text
    const std::string expected = write_csv("rewritten.csv", text) + ": the file changed while it was being read; load it again";
    for (std::size_t n : {2, 3}) {
        const std::string path = write_csv("rewritten.csv", text);
        std::vector<std::string> errors(n);
        // The 6th all_gather merges the first pass: the rewrite lands before the pass that writes X.
        testing::run_ranks(n, [&](collective& peers) {
            rewriting_collective rewriting(peers, 6, path, other);
            try {
                load_csv_shard(path, {}, rewriting);
            } catch (const input_error& e) {
                errors[peers.rank()] = e.what();
            }
        });
        for (const auto& e : errors) CHECK(e == expected);
    }
}
