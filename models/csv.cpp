// The CSV loader: column typing, one-hot text, k-class labels, missing-value policies, standardisation, in
// passes over the input (models/csv_reader.hpp): the first learns the columns, the last writes X and Y.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "engine/error.hpp"
#include "engine/files.hpp"
#include "models/csv_reader.hpp"
#include "models/data.hpp"

namespace symgrad {

namespace {

using csv_detail::block_checks;
using csv_detail::block_source;
using csv_detail::record;
using csv_detail::record_reader;
using csv_detail::trim;

constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

// "\rloading f.csv: 120 MB read" on stderr while a large file loads, only on a terminal.
class loading_progress {
public:
    loading_progress(bool wanted, std::string name) : on_(wanted && ::isatty(2) != 0), name_(std::move(name)) {}
    void read(std::size_t bytes) {
        if (!on_ || bytes < shown_ + (8u << 20)) return;  // every 8 MB, so small files stay silent
        shown_ = bytes;
        std::fprintf(stderr, "\rloading %s: %.0f MB read   ", name_.c_str(), double(bytes) / 1e6);
    }
    // Called every 65536 records while parsing: the share of the text parsed, at most every 100 ms.
    void parsing(std::size_t offset, std::size_t size) {
        auto now = std::chrono::steady_clock::now();
        if (!on_ || !shown_ || now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        std::fprintf(stderr, "\rloading %s: %.0f MB read, parsed %3.0f%%   ", name_.c_str(), double(shown_) / 1e6,
                     100.0 * double(offset) / double(size ? size : 1));
    }
    void building() {
        if (on_ && shown_) std::fprintf(stderr, "\rloading %s: %.0f MB read, parsed 100%%, building the data set", name_.c_str(), double(shown_) / 1e6);
    }
    void done() {
        if (on_ && shown_) std::fprintf(stderr, " done\n");
    }

private:
    bool on_;
    std::string name_;
    std::size_t shown_ = 0;
    std::chrono::steady_clock::time_point last_{};
};

std::string lower(std::string s) {
    for (auto& ch : s)
        if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
    return s;
}

// Shows a cell's text in a message: quoted, and cut short if long.
std::string shown(std::string_view s) {
    std::string t = s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s);
    return "'" + t + "'";
}


// The cells that count as missing, compared case-insensitively after trimming (pandas' usual spellings).
bool is_missing(std::string_view s) {
    static const std::set<std::string, std::less<>> tokens{"", "na", "n/a", "#n/a", "nan", "-nan", "+nan", "null", "none", "<na>"};
    if (s.size() > 12) return false;
    char buf[13];
    std::string_view t = trim(s);
    if (t.empty()) return true;
    if (std::string_view("nN#-+<").find(t[0]) == std::string_view::npos) return false;  // no token starts so
    for (std::size_t k = 0; k < t.size(); ++k) buf[k] = (t[k] >= 'A' && t[k] <= 'Z') ? char(t[k] - 'A' + 'a') : t[k];
    return tokens.find(std::string_view(buf, t.size())) != tokens.end();
}

bool looks_infinite(std::string_view s) {
    std::string_view v = trim(s);
    std::size_t sign = !v.empty() && (v[0] == '+' || v[0] == '-') ? 1 : 0;
    if (v.size() <= sign || (v[sign] != 'i' && v[sign] != 'I')) return false;  // the common case, without allocating
    std::string t = lower(std::string(v));
    if (!t.empty() && (t[0] == '+' || t[0] == '-')) t.erase(0, 1);
    return t == "inf" || t == "infinity";
}

// Decimal numbers only: [+-] digits [. digits] [e [+-] digits], at least one digit before the exponent.
bool looks_numeric(std::string_view s) {
    std::size_t i = 0, n = s.size(), digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
    if (i < n && s[i] == '.') {
        ++i;
        while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
    }
    if (digits == 0) return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        std::size_t exp_digits = 0;
        while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++exp_digits;
        if (exp_digits == 0) return false;
    }
    return i == n;
}

// Parses a looks_numeric() string. Returns false on overflow; an underflow gives the rounded tiny value.
bool parse_number(std::string_view s, double& value) {
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (b < e && *b == '+') ++b;
    auto r = std::from_chars(b, e, value);
    if (r.ec == std::errc()) return std::isfinite(value);
    if (r.ec != std::errc::result_out_of_range) return false;
    // Out of range: strtod tells overflow (HUGE_VAL) from underflow (a tiny or zero result).
    errno = 0;
    double v = std::strtod(std::string(s).c_str(), nullptr);
    if (std::isinf(v)) return false;
    value = v;
    return true;
}


// Mean and population standard deviation computed on values scaled into [-1, 1], so 1e308 cannot overflow;
// replaces each of the n values at x by (x - mean) / std, or by zeros when the values are constant.
void standardize(double* x, std::size_t n) {
    double scale = 0.0;
    for (std::size_t k = 0; k < n; ++k) scale = std::max(scale, std::fabs(x[k]));
    // Constant values give zeros exactly (the scaled mean may round a hair away from them).
    if (n == 0 || std::all_of(x, x + n, [&](double v) { return v == x[0]; })) return std::fill(x, x + n, 0.0);
    double count = double(n), mean = 0.0, var = 0.0;
    for (std::size_t k = 0; k < n; ++k) mean += (x[k] / scale) / count;
    for (std::size_t k = 0; k < n; ++k) {
        double d = x[k] / scale - mean;
        var += d * d / count;
    }
    double sd = std::sqrt(var);
    if (!(sd > 0.0)) return std::fill(x, x + n, 0.0);
    for (std::size_t k = 0; k < n; ++k) x[k] = (x[k] / scale - mean) / sd;
}

// Sum of x_k / n over the values that are not NaN (n of them): each term is at most DBL_MAX / n in size, so
// the mean of finite values stays finite.
double safe_mean(const double* x, std::size_t size, std::size_t n) {
    double m = 0.0;
    for (std::size_t k = 0; k < size; ++k)
        if (!std::isnan(x[k])) m += x[k] / double(n);
    return m;
}

std::string list_columns(const std::vector<std::string>& names) {
    std::string s;
    for (std::size_t k = 0; k < names.size(); ++k) s += (k ? ", " : "") + names[k];
    return s;
}

// Exact match first, then a unique case-insensitive one; npos when absent (or ambiguous).
std::size_t find_column(const std::vector<std::string>& names, const std::string& wanted) {
    for (std::size_t k = 0; k < names.size(); ++k)
        if (names[k] == wanted) return k;
    std::size_t found = npos;
    for (std::size_t k = 0; k < names.size(); ++k)
        if (lower(names[k]) == lower(wanted)) {
            if (found != npos) return npos;
            found = k;
        }
    return found;
}

bool ends_with_id(const std::string& name) {
    std::string l = lower(name);
    return l.size() >= 2 && l.compare(l.size() - 2, 2, "id") == 0;
}

}  // namespace

missing_policy parse_missing_policy(const std::string& name) {
    std::string l = lower(name);
    if (l == "drop" || l == "drop_row") return missing_policy::drop_row;
    if (l == "mean" || l == "impute" || l == "impute_mean") return missing_policy::impute_mean;
    if (l == "error") return missing_policy::error;
    throw input_error("unknown missing-value policy '" + name + "'; choose drop, mean or error");
}

const char* to_string(missing_policy p) {
    switch (p) {
    case missing_policy::drop_row: return "drop";
    case missing_policy::impute_mean: return "mean";
    case missing_policy::error: return "error";
    }
    return "?";
}


namespace {

// The label's classes (docs/data.md): numbers that are all 0 or 1 keep those codes ("0", "1"); otherwise the
// distinct values are the classes, numbers in numeric order when every filled label is a number (named by their
// first spelling), else text in byte order. Fed one filled cell at a time, so the loader need not hold them.
class label_classes {
public:
    explicit label_classes(std::size_t max_classes) : max_(max_classes) {}
    // Records one filled label; false when it is a new value beyond the max_classes-th.
    bool add(std::string_view s) {
        auto it = spellings_.find(s);
        if (it != spellings_.end()) return true;
        if (spellings_.size() == max_) return false;
        spellings_.emplace(std::string(s));
        double v = 0.0;
        std::string_view t = trim(s);
        if (!looks_numeric(t) || !parse_number(t, v))
            numeric_ = false;
        else
            numbers_.emplace(v, std::string(t));  // keeps the first spelling of a value
        return true;
    }
    // Fixes the code order once every label was added.
    void finish() {
        names_.clear();
        if (numeric_ && std::all_of(numbers_.begin(), numbers_.end(), [](const auto& n) { return n.first == 0.0 || n.first == 1.0; })) {
            names_ = {"0", "1"};
            zero_one_ = true;
            return;
        }
        if (numeric_)
            for (const auto& n : numbers_) names_.push_back(n.second);
        else
            names_.assign(spellings_.begin(), spellings_.end());
        std::size_t c = 0;
        if (numeric_)
            for (const auto& n : numbers_) number_code_.emplace(n.first, c++);
        else
            for (const auto& name : names_) text_code_.emplace(name, c++);
    }
    // The code of a filled label; npos for a value add() never saw (the file changed between passes).
    std::size_t code(std::string_view s) const {
        if (!numeric_) {
            auto it = text_code_.find(s);
            return it == text_code_.end() ? npos : it->second;
        }
        double v = 0.0;
        if (!looks_numeric(trim(s)) || !parse_number(trim(s), v)) return npos;
        if (zero_one_) return v == 0.0 || v == 1.0 ? std::size_t(v) : npos;
        auto it = number_code_.find(v);
        return it == number_code_.end() ? npos : it->second;
    }
    const std::vector<std::string>& names() const { return names_; }
    bool zero_one() const { return zero_one_; }
    // "label 'species': 3 classes Adelie=0, Chinstrap=1, Gentoo=2" (the first 20 of many).
    std::string note(const std::string& label) const {
        std::string s = "label '" + label + "': " + std::to_string(names_.size()) + " class" +
                        (names_.size() == 1 ? "" : "es") + " ";
        for (std::size_t c = 0; c < names_.size() && c < 20; ++c) s += (c ? ", " : "") + names_[c] + "=" + std::to_string(c);
        return names_.size() > 20 ? s + " and " + std::to_string(names_.size() - 20) + " more" : s;
    }

private:
    std::size_t max_;
    bool numeric_ = true, zero_one_ = false;
    std::set<std::string, std::less<>> spellings_;
    std::map<double, std::string> numbers_;
    std::vector<std::string> names_;
    std::map<double, std::size_t> number_code_;
    std::map<std::string, std::size_t, std::less<>> text_code_;
};


// ---- The first pass: what every column holds ------------------------------------------------------------

// A column as the first pass saw it. Per cell it keeps one bit (missing or not), so the pass holds about an
// eighth of the file at most; distinct text values are kept for typing, one-hot levels and the identifier rule.
struct column_scan {
    std::string name;
    bool used = false;  // a feature candidate (neither the label nor ignored)
    std::size_t missing = 0;
    std::vector<std::uint64_t> missing_bits;  // bit r: data row r is missing here
    bool any_text = false, any_value = false;
    std::string first_bad;  // the first infinite or overflowing number's message, thrown if the column is numeric
    std::set<std::string, std::less<>> categories;  // distinct filled values (all of them unless categories_cut)
    bool categories_cut = false;  // numbers came before the first text cell: values collected in another pass
    bool id_named = false;          // a name ending in "id": its numbers are kept for the identifier rule
    std::vector<double> id_values;
    std::size_t first_missing_row = npos;
    std::string first_missing_place, first_missing_text;
    bool numeric() const { return any_value && !any_text; }
    bool missing_at(std::size_t r) const { return (missing_bits[r / 64] >> (r % 64)) & 1u; }
};

// "file:line:column (name)" of a cell.
std::string place(const std::string& path, const record& rec, std::size_t col, const std::string& name) {
    return path + ":" + std::to_string(rec.field_line(col)) + ":" + std::to_string(col + 1) + " (" + name + ")";
}

// Cell k of data row r (from 0) into its column's scan.
void scan_cell(column_scan& c, const record& rec, std::size_t k, std::size_t r, const std::string& path) {
    std::string_view s = rec.fields[k];
    if (r % 64 == 0) c.missing_bits.push_back(0);
    if (is_missing(s)) {
        ++c.missing;
        c.missing_bits[r / 64] |= std::uint64_t(1) << (r % 64);
        if (c.first_missing_row == npos) {
            c.first_missing_row = r;
            c.first_missing_place = place(path, rec, k, c.name);
            c.first_missing_text = shown(s);
        }
        return;
    }
    if (!c.used) return;
    const bool number = looks_numeric(s) || looks_infinite(s);
    double v = 0.0;
    if (number && c.first_bad.empty()) {
        if (looks_infinite(s))
            c.first_bad = place(path, rec, k, c.name) + ": infinite value " + shown(s) +
                          " in a numeric column; use a finite number or leave the cell empty";
        else if (!parse_number(s, v))
            c.first_bad = place(path, rec, k, c.name) + ": value " + shown(s) + " overflows a double (beyond 1.8e308)";
        else if (c.id_named)
            c.id_values.push_back(v);
    }
    // The values of a column are collected once it holds text; numbers before its first text cell are not
    // (a numeric column would keep them all), so such a column is read again (complete_categories).
    if (!number && !c.any_text && c.any_value) c.categories_cut = true;
    c.any_value = c.any_value || number;
    c.any_text = c.any_text || !number;
    if (c.any_text && !c.categories_cut && c.categories.find(s) == c.categories.end()) c.categories.emplace(s);
}

// What the first pass learns; errors found on the way wait for their turn (the order of checks of a loader
// that read everything first: parsing, then the header, ragged rows, columns, labels, values).
struct first_pass {
    std::string path;
    std::vector<std::string> names;
    std::size_t header_line = 0, records = 0;  // records counts the header
    std::size_t ragged_line = 0, ragged_fields = 0;
    std::size_t label = npos;
    std::exception_ptr columns_error;  // an unknown label or ignored column
    std::vector<column_scan> columns;
    label_classes classes;
    std::string label_error;  // the first missing label (policy drop excepted) or class beyond max_classes
    std::size_t bytes = 0;    // the input's size
    std::size_t rows() const { return records - 1; }
};

// The label column's index; `used` is false for it and for every ignored column.
std::size_t choose_columns(const first_pass& t, const csv_options& options, std::vector<bool>& used) {
    const std::size_t H = t.names.size();
    std::size_t label = options.label.empty() ? H - 1 : find_column(t.names, options.label);
    if (label == npos)
        throw input_error(t.path + ": no label column '" + options.label + "'; columns are: " + list_columns(t.names));
    used.assign(H, true);
    used[label] = false;
    for (const auto& ig : options.ignore) {
        std::size_t k = find_column(t.names, ig);
        if (k == npos)
            throw input_error(t.path + ": cannot ignore unknown column '" + ig + "'; columns are: " +
                              list_columns(t.names));
        if (k == label) throw input_error(t.path + ": column '" + t.names[k] + "' is the label; it cannot be ignored");
        used[k] = false;
    }
    return label;
}

void scan_header(first_pass& p, const record& rec, const csv_options& options) {
    p.header_line = rec.line;
    for (auto f : rec.fields) p.names.emplace_back(trim(f));
    p.columns.resize(p.names.size());
    for (std::size_t k = 0; k < p.names.size(); ++k) {
        p.columns[k].name = p.names[k];
        p.columns[k].id_named = options.drop_identifiers && ends_with_id(p.names[k]);
    }
    std::vector<bool> used;
    try {
        p.label = choose_columns(p, options, used);
        for (std::size_t k = 0; k < used.size(); ++k) p.columns[k].used = used[k];
    } catch (const input_error&) {
        p.columns_error = std::current_exception();
    }
}

void scan_label(first_pass& p, const record& rec, const csv_options& options) {
    std::string_view s = rec.fields[p.label];
    const std::string& name = p.names[p.label];
    if (is_missing(s) && options.missing != missing_policy::drop_row)
        p.label_error = place(p.path, rec, p.label, name) + ": missing label " + shown(s) +
                        "; labels are never imputed or dropped silently: remove or fill the row";
    else if (!is_missing(s) && !p.classes.add(s))
        p.label_error = place(p.path, rec, p.label, name) + ": label " + shown(s) +
                        " is one distinct value more than the " + std::to_string(options.max_classes) +
                        " classes allowed (max_classes): is the column a measurement? choose another label";
}

// One data row (r from 0): its cells into their columns' scans and its label into the classes.
void scan_row(first_pass& p, const record& rec, std::size_t r, const csv_options& options) {
    if (rec.fields.size() != p.names.size() || p.ragged_line) {
        if (!p.ragged_line) {
            p.ragged_line = rec.line;
            p.ragged_fields = rec.fields.size();
        }
        return;  // the file is refused: no need to look at its cells
    }
    for (std::size_t k = 0; k < p.names.size(); ++k)
        scan_cell(p.columns[k], rec, k, r, p.path);
    if (p.label != npos && p.label_error.empty()) scan_label(p, rec, options);
}

// The first pass over the whole input. A parse error is thrown after the rest was read and checked.
first_pass scan_input(block_source& source, const std::string& path, const csv_options& options, block_checks checks) {
    first_pass p{path, {}, 0, 0, 0, 0, npos, nullptr, {}, label_classes(options.max_classes), {}, 0};
    record_reader reader(source, path, std::move(checks));
    record rec;
    try {
        for (; reader.next(rec); ++p.records) {
            if (p.records == 0)
                scan_header(p, rec, options);
            else
                scan_row(p, rec, p.records - 1, options);
        }
    } catch (const input_error&) {
        reader.drain();
        throw;
    }
    p.bytes = reader.bytes_read();
    return p;
}

// The checks of the file's shape, in their order: empty, header only, header names, ragged rows, columns.
void check_structure(const first_pass& p) {
    if (p.records == 0) throw input_error(p.path + ": empty file; expected a header row and data rows");
    if (p.records == 1) throw input_error(p.path + ":" + std::to_string(p.header_line) + ": header only, no data rows");
    std::map<std::string, std::size_t> seen_names;  // lower-cased name -> column index
    for (std::size_t k = 0; k < p.names.size(); ++k) {
        const std::string& name = p.names[k];
        std::string where = p.path + ":" + std::to_string(p.header_line) + ":" + std::to_string(k + 1);
        if (name.empty()) throw input_error(where + ": empty column name in the header");
        auto [it, fresh] = seen_names.emplace(lower(name), k);
        if (!fresh)
            throw input_error(where + " (" + name + "): duplicate column name (column " + std::to_string(it->second + 1) +
                              " is '" + p.names[it->second] + "'; names are compared case-insensitively)");
    }
    if (p.ragged_line)
        throw input_error(p.path + ":" + std::to_string(p.ragged_line) + ": row has " + std::to_string(p.ragged_fields) +
                          " fields, header has " + std::to_string(p.names.size()));
    if (p.columns_error) std::rethrow_exception(p.columns_error);
}

// ---- Between the passes: labels, columns and rows decided -----------------------------------------------

// Fixes the classes: class_names, and a note with the mapping unless the labels are 0/1.
void decide_labels(first_pass& p, dataset& d) {
    if (!p.label_error.empty()) throw input_error(p.label_error);
    p.classes.finish();
    d.class_names = p.classes.names();
    if (!p.classes.zero_one()) d.notes.push_back(p.classes.note(d.label_name));
}

// Why a column looks like an identifier (names, tickets, a PassengerId), or empty when it does not.
std::string identifier_reason(const column_scan& c, std::size_t rows, const csv_options& options) {
    std::size_t filled = rows - c.missing;
    if (!c.numeric() && (c.categories.size() > options.max_categories ||
                         (c.categories.size() >= 3 && 2 * c.categories.size() > filled)))
        return "identifier-like text (" + std::to_string(c.categories.size()) + " distinct values in " +
               std::to_string(filled) + " filled cells)";
    if (!c.numeric() || !ends_with_id(c.name) || filled < 2) return "";
    std::vector<double> v = c.id_values;
    bool integers = std::all_of(v.begin(), v.end(), [](double x) { return x == std::floor(x); });
    std::sort(v.begin(), v.end());
    if (!integers || std::size_t(std::unique(v.begin(), v.end()) - v.begin()) != filled) return "";
    return "identifier-like (a name ending in 'id' and " + std::to_string(filled) + " distinct integers)";
}

// A feature column of the data set: where it is in the file, and, for text, its one-hot levels.
struct feature_column {
    const column_scan* scan = nullptr;
    std::size_t index = 0;  // in the file
    bool numeric = false;
    std::vector<std::string> levels;  // text: sorted values seen in the kept rows
    bool kept_missing = false;        // text: a kept row is missing here (a "<column>_missing" feature)
    std::size_t first_feature = 0;    // its first row of X
    std::size_t width() const { return numeric ? 1 : levels.size() + (kept_missing ? 1 : 0); }
};

// The used columns, typed, without the identifier-like ones (each left out with a note).
std::vector<feature_column> feature_columns(const first_pass& p, const csv_options& options, dataset& d) {
    std::vector<feature_column> columns;
    for (std::size_t k = 0; k < p.columns.size(); ++k) {
        const column_scan& c = p.columns[k];
        if (!c.used) continue;
        if (c.missing == p.rows())
            throw input_error(p.path + ": column " + std::to_string(k + 1) + " (" + c.name + ") is missing in all " +
                              std::to_string(p.rows()) + " rows; leave it out with ignore");
        if (c.numeric() && !c.first_bad.empty()) throw input_error(c.first_bad);
        std::string reason = options.drop_identifiers ? identifier_reason(c, p.rows(), options) : "";
        if (!reason.empty()) {
            d.notes.push_back("left out column '" + c.name + "': " + reason);
            continue;
        }
        columns.push_back({&c, k, c.numeric(), {}, false, 0});
    }
    if (columns.empty())
        throw input_error(p.path + ": no feature columns left besides the label '" + d.label_name + "'" +
                          (d.notes.empty() ? std::string() : " (" + d.notes.back() + ")"));
    return columns;
}

std::string missing_counts(const std::vector<feature_column>& columns) {
    std::string counts;
    for (const auto& c : columns)
        if (c.scan->missing) counts += (counts.empty() ? "" : ", ") + c.scan->name + " " + std::to_string(c.scan->missing);
    return counts;
}

// The warning when the drop policy cost more than half the rows: the column whose gaps cost the most rows,
// and what --ignore of it or the mean policy would keep instead.
void warn_if_most_rows_dropped(const std::vector<feature_column>& columns, const std::vector<std::size_t>& only_gap,
                               std::size_t rows, std::size_t labelled, std::size_t kept, dataset& d) {
    if (2 * kept >= rows) return;
    std::size_t worst = 0;
    for (std::size_t c = 1; c < columns.size(); ++c)
        if (columns[c].scan->missing > columns[worst].scan->missing) worst = c;
    const column_scan& w = *columns[worst].scan;
    d.warnings.push_back("dropping rows with missing values kept only " + std::to_string(kept) + " of " +
                         std::to_string(rows) + " rows; column '" + w.name + "' is missing in " +
                         std::to_string(w.missing) + " of them: --ignore " + w.name + " keeps " +
                         std::to_string(kept + only_gap[worst]) + " rows, --missing mean keeps " +
                         std::to_string(labelled));
}

// Under the error policy, the first missing cell of a feature column in reading order is the error.
void refuse_missing_cells(const std::vector<feature_column>& columns) {
    const column_scan* first = nullptr;
    for (const auto& c : columns)
        if (c.scan->first_missing_row != npos && (!first || c.scan->first_missing_row < first->first_missing_row))
            first = c.scan;
    if (first)
        throw input_error(first->first_missing_place + ": missing value " + first->first_missing_text +
                          " (the missing-value policy is error)");
}

// The data rows the missing-value policy keeps, as one bit per row: all of them, or those without a missing
// cell (and, under the drop policy, with a label); notes say how many were dropped and for which columns.
std::vector<std::uint64_t> rows_to_keep(const first_pass& p, const std::vector<feature_column>& columns,
                                        const csv_options& options, dataset& d, std::size_t& kept) {
    if (options.missing == missing_policy::error) refuse_missing_cells(columns);
    const std::size_t rows = p.rows();
    const column_scan& label = p.columns[p.label];
    std::vector<std::uint64_t> keep((rows + 63) / 64, 0);
    std::vector<std::size_t> only_gap(columns.size(), 0);  // rows whose one missing cell is in column c
    std::size_t unlabelled = 0;
    kept = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        std::size_t gaps = 0, gap_column = 0;
        for (std::size_t c = 0; c < columns.size(); ++c)
            if (columns[c].scan->missing_at(r)) ++gaps, gap_column = c;
        if (label.missing_at(r)) {
            ++unlabelled;
            continue;
        }
        if (gaps == 1) ++only_gap[gap_column];
        if (gaps == 0 || options.missing != missing_policy::drop_row) keep[r / 64] |= std::uint64_t(1) << (r % 64), ++kept;
    }
    if (kept == 0)
        throw input_error(p.path + ": every one of the " + std::to_string(rows) +
                          " rows has a missing value (missing cells: " + missing_counts(columns) +
                          "); use the mean policy or ignore the emptiest columns");
    if (unlabelled)
        d.notes.push_back("dropped " + std::to_string(unlabelled) + " of " + std::to_string(rows) + " rows whose label '" +
                          d.label_name + "' is missing");
    if (kept + unlabelled < rows)
        d.notes.push_back("dropped " + std::to_string(rows - unlabelled - kept) + " of " + std::to_string(rows) +
                          " rows with missing values (missing cells: " + missing_counts(columns) + ")");
    warn_if_most_rows_dropped(columns, only_gap, rows, rows - unlabelled, kept, d);
    return keep;
}

bool bit(const std::vector<std::uint64_t>& bits, std::size_t r) { return (bits[r / 64] >> (r % 64)) & 1u; }

// The file changed between two passes (appended to, rewritten): nothing read so far can be trusted.
[[noreturn]] void changed(const std::string& path) {
    throw input_error(path + ": the file changed while it was being read; load it again");
}

// Another pass: the distinct filled values of the given columns in the rows `keep` marks (all rows if null).
void collect_values(block_source& source, const first_pass& p, const std::vector<std::size_t>& which,
                    const std::vector<std::uint64_t>* keep, std::vector<std::set<std::string, std::less<>>>& values) {
    record_reader reader(source, p.path, block_checks{false, npos, {}});
    record rec;
    values.assign(which.size(), {});
    reader.next(rec);  // the header
    for (std::size_t r = 0; reader.next(rec); ++r) {
        if (r >= p.rows() || rec.fields.size() != p.names.size()) changed(p.path);
        if (keep && !bit(*keep, r)) continue;
        for (std::size_t w = 0; w < which.size(); ++w) {
            std::string_view s = rec.fields[which[w]];
            if (!is_missing(s) && values[w].find(s) == values[w].end()) values[w].emplace(s);
        }
    }
}

// Text columns whose first cells were numbers (and too many to keep) get their values from one more pass.
void complete_categories(block_source& source, first_pass& p) {
    std::vector<std::size_t> which;
    for (std::size_t k = 0; k < p.columns.size(); ++k)
        if (p.columns[k].used && p.columns[k].categories_cut && !p.columns[k].numeric()) which.push_back(k);
    if (which.empty()) return;
    std::vector<std::set<std::string, std::less<>>> values;
    collect_values(source, p, which, nullptr, values);
    for (std::size_t w = 0; w < which.size(); ++w) p.columns[which[w]].categories = std::move(values[w]);
}

// Each text column's levels: the values seen in the kept rows (one more pass when rows were dropped).
void choose_levels(block_source& source, const first_pass& p, std::vector<feature_column>& columns,
                   const std::vector<std::uint64_t>& keep, std::size_t kept) {
    std::vector<std::size_t> which, position;
    for (std::size_t c = 0; c < columns.size(); ++c)
        if (!columns[c].numeric) which.push_back(columns[c].index), position.push_back(c);
    std::vector<std::set<std::string, std::less<>>> values;
    if (kept < p.rows() && !which.empty()) collect_values(source, p, which, &keep, values);
    for (std::size_t w = 0; w < which.size(); ++w) {
        feature_column& c = columns[position[w]];
        const auto& levels = values.empty() ? c.scan->categories : values[w];
        c.levels.assign(levels.begin(), levels.end());
        for (std::size_t r = 0; r < p.rows() && !c.kept_missing; ++r) c.kept_missing = bit(keep, r) && c.scan->missing_at(r);
    }
}

// ---- The last pass: X and Y written in place ----------------------------------------------------------

// X (features x kept rows, numeric rows to be written, one-hot rows zeroed), the feature names and the
// source column of each feature.
tensor allocate_features(std::vector<feature_column>& columns, std::size_t kept, dataset& d,
                         std::vector<std::string>& source_column) {
    std::size_t count = 0;
    for (auto& c : columns) {
        c.first_feature = count;
        count += c.width();
    }
    tensor X = tensor::from_shape({count, kept});
    for (const auto& c : columns) {
        const std::string& name = c.scan->name;
        if (c.numeric) d.feature_names.push_back(name);
        for (const auto& level : c.levels) d.feature_names.push_back(name + "_" + level);
        if (c.kept_missing) d.feature_names.push_back(name + "_missing");
        if (!c.numeric) std::fill(X.data() + c.first_feature * kept, X.data() + (c.first_feature + c.width()) * kept, 0.0);
        source_column.resize(d.feature_names.size(), name);
    }
    return X;
}

// One kept row's cells into column j of X (a number, NaN for a missing one, or a one-hot 1) and its label into Y.
void write_sample(const record& rec, const std::vector<feature_column>& columns, const first_pass& p, std::size_t j,
                  tensor& X, tensor& Y) {
    const std::size_t n = X.shape()[1];
    for (const auto& c : columns) {
        std::string_view s = rec.fields[c.index];
        double* row = X.data() + c.first_feature * n;
        double v = std::numeric_limits<double>::quiet_NaN();
        if (c.numeric) {
            if (!is_missing(s) && (!looks_numeric(s) || !parse_number(s, v))) changed(p.path);
            row[j] = v;
            continue;
        }
        const bool gap = is_missing(s);
        auto level = gap ? c.levels.end() : std::lower_bound(c.levels.begin(), c.levels.end(), s);
        if (gap ? !c.kept_missing : level == c.levels.end() || *level != s) changed(p.path);
        row[std::size_t(level - c.levels.begin()) * n + j] = 1.0;
    }
    std::size_t code = p.classes.code(rec.fields[p.label]);
    if (code == npos) changed(p.path);
    if (Y.shape()[0] == 1)
        Y(0, j) = double(code);
    else
        Y(code, j) = 1.0;
}

// The last pass: every kept row written straight into X and Y, allocated once at their final size.
void fill_samples(block_source& source, const first_pass& p, const std::vector<feature_column>& columns,
                  const std::vector<std::uint64_t>& keep, tensor& X, tensor& Y, loading_progress* progress) {
    record_reader reader(source, p.path, block_checks{false, npos, {}});
    record rec;
    reader.next(rec);  // the header
    std::size_t r = 0, j = 0;
    for (; reader.next(rec); ++r) {
        if (r >= p.rows() || rec.fields.size() != p.names.size()) changed(p.path);
        if (bit(keep, r)) write_sample(rec, columns, p, j++, X, Y);
        if (progress && r % 65536 == 0) progress->parsing(reader.offset(), p.bytes);
    }
    if (r != p.rows() || j != X.shape()[1]) changed(p.path);
}

// A numeric feature's missing cells (impute_mean) filled with the mean of its kept cells, with a note.
void fill_missing_numbers(const feature_column& c, tensor& X, dataset& d) {
    const std::size_t n = X.shape()[1];
    double* row = X.data() + c.first_feature * n;
    std::size_t present = std::size_t(std::count_if(row, row + n, [](double v) { return !std::isnan(v); }));
    if (present == n) return;
    double fill = safe_mean(row, n, present);
    std::replace_if(row, row + n, [](double v) { return std::isnan(v); }, fill);
    d.notes.push_back("filled " + std::to_string(n - present) + " missing cells of '" + c.scan->name +
                      "' with its mean " + std::to_string(fill));
}

void note_one_hot(const feature_column& c, dataset& d) {
    std::string levels;
    for (const auto& v : c.levels) levels += (levels.empty() ? "" : ", ") + v;
    const std::string& name = c.scan->name;
    d.notes.push_back("one-hot encoded text column '" + name + "' as " + std::to_string(c.levels.size()) + " levels (" +
                      (c.levels.size() <= 8 ? levels : std::string("values sorted")) + ")" +
                      (c.kept_missing ? " and a '" + name + "_missing' feature for its missing cells" : ""));
}

// Notes a constant feature; refuses two features with one name (a column and a one-hot value).
void check_features(const tensor& X, const std::string& path, dataset& d) {
    std::set<std::string> feature_names;
    const std::size_t n = X.shape()[1];
    for (std::size_t f = 0; f < X.shape()[0]; ++f) {
        const double* row = X.data() + f * n;
        if (std::all_of(row, row + n, [&](double v) { return v == row[0]; }))
            d.notes.push_back("feature '" + d.feature_names[f] + "' is constant (" + std::to_string(row[0]) +
                              ") in every kept row; it carries no information");
        if (!feature_names.insert(d.feature_names[f]).second)
            throw input_error(path + ": two features are both named '" + d.feature_names[f] +
                              "' (a column and a one-hot value share the name); rename one column");
    }
}

// Sample j's class: its 0/1 code with one row of labels, else the row holding its one-hot 1.
std::size_t class_of(const tensor& Y, std::size_t j) {
    if (Y.shape()[0] == 1) return std::size_t(Y(0, j));
    std::size_t c = 0;
    while (Y(c, j) != 1.0) ++c;
    return c;
}

// A feature whose values separate the classes completely (each class's values in an interval of its own, e.g.
// every 1 above every 0) predicts the label perfectly: usually the label in other words (seaborn's 'alive' next
// to 'survived'). One warning per source column. At least 5 samples of every class present: in fewer, any
// varying feature separates them by chance.
void warn_label_leaks(const tensor& X, const tensor& Y, const std::vector<std::string>& source_column, dataset& d) {
    const std::size_t n = X.shape()[1];
    std::vector<std::size_t> count(d.class_names.size(), 0);
    for (std::size_t j = 0; j < n; ++j) ++count[class_of(Y, j)];
    std::size_t present = 0;
    for (std::size_t c : count) {
        if (c > 0 && c < 5) return;
        present += c > 0;
    }
    if (present < 2) return;
    std::set<std::string> warned;
    for (std::size_t f = 0; f < X.shape()[0]; ++f) {
        std::vector<std::pair<double, double>> range(count.size(), {INFINITY, -INFINITY});  // (lo, hi) per class
        const double* row = X.data() + f * n;
        for (std::size_t j = 0; j < n; ++j) {
            auto& r = range[class_of(Y, j)];
            r = {std::min(r.first, row[j]), std::max(r.second, row[j])};
        }
        range.erase(std::remove_if(range.begin(), range.end(), [](const auto& r) { return r.first > r.second; }), range.end());
        std::sort(range.begin(), range.end());
        bool separated = true;
        for (std::size_t c = 1; c < range.size(); ++c) separated = separated && range[c - 1].second < range[c].first;
        if (!separated || !warned.insert(source_column[f]).second) continue;
        d.warnings.push_back("feature '" + d.feature_names[f] + "' predicts the label '" + d.label_name +
                             "' perfectly in all " + std::to_string(n) +
                             " samples: it is probably the label in other words; leave it out with --ignore " +
                             source_column[f]);
    }
}

// Labels of a single class leave nothing to separate.
void warn_single_class(const tensor& Y, dataset& d) {
    const std::size_t n = Y.shape()[1], first = class_of(Y, 0);
    for (std::size_t j = 1; j < n; ++j)
        if (class_of(Y, j) != first) return;
    d.warnings.push_back("every one of the " + std::to_string(n) + " samples has label " + d.class_names[first] +
                         " in '" + d.label_name + "': there is nothing to learn; check the label column (--label)");
}

// After the last pass: gaps filled, notes in column order, the checks and warnings, standardisation.
void finish_features(const std::vector<feature_column>& columns, const std::vector<std::string>& source_column,
                     const csv_options& options, dataset& d) {
    for (const auto& c : columns) {
        if (c.numeric)
            fill_missing_numbers(c, d.X, d);
        else
            note_one_hot(c, d);
    }
    check_features(d.X, d.source, d);
    warn_single_class(d.Y, d);
    warn_label_leaks(d.X, d.Y, source_column, d);
    const std::size_t n = d.X.shape()[1];
    for (std::size_t f = 0; f < d.X.shape()[0]; ++f) {
        double* row = d.X.data() + f * n;
        if (options.standardize) standardize(row, n);
        if (!std::all_of(row, row + n, [](double v) { return std::isfinite(v); }))
            throw input_error(d.source + ": feature '" + d.feature_names[f] + "' is not finite after preprocessing");
    }
}

// The loader: a first pass learns the columns, the decisions follow in the order of docs/data.md, and a last
// pass writes X and Y (one or two more passes only for text columns in special cases; see choose_levels).
dataset load_table(block_source& source, const std::string& path, const csv_options& options, block_checks checks,
                   loading_progress* progress) {
    first_pass p = scan_input(source, path, options, std::move(checks));
    check_structure(p);
    dataset d;
    d.source = path;
    d.label_name = p.names[p.label];
    d.rows_read = p.rows();
    for (std::size_t k = 0; k < p.names.size(); ++k)
        if (!p.columns[k].used && k != p.label) d.notes.push_back("left out column '" + p.names[k] + "' as asked (ignore)");
    decide_labels(p, d);
    complete_categories(source, p);
    std::vector<feature_column> columns = feature_columns(p, options, d);
    std::size_t kept = 0;
    const std::vector<std::uint64_t> keep = rows_to_keep(p, columns, options, d, kept);
    choose_levels(source, p, columns, keep, kept);
    std::vector<std::string> source_column;  // per feature
    d.X = allocate_features(columns, kept, d, source_column);
    const std::size_t k = d.class_names.size();
    d.Y = tensor::from_shape({k >= 3 ? k : 1, kept});
    d.Y.fill(0.0);
    fill_samples(source, p, columns, keep, d.X, d.Y, progress);
    if (progress) progress->building();
    finish_features(columns, source_column, options, d);
    return d;
}

}  // namespace

dataset parse_csv(const std::string& text, const std::string& path, const csv_options& options) {
    auto source = csv_detail::text_source(text);
    return load_table(*source, path, options, block_checks{true, npos, {}}, nullptr);
}

// A regular file is read block by block in each pass; a stream (stdin, a FIFO, a device) can be read only
// once, so its text is kept in memory for the passes.
dataset load_csv(const std::string& path, const csv_options& options) {
    std::string name = path == "-" ? "<stdin>" : path;
    loading_progress progress(options.progress, name);
    std::unique_ptr<block_source> source = csv_detail::regular_file_source(path);
    std::string text;
    block_checks checks{true, options.max_input_bytes, [&](std::size_t bytes) { progress.read(bytes); }};
    if (!source) {
        text = read_whole_file(path, "a CSV file", options.max_input_bytes, true, checks.progress);
        source = csv_detail::text_source(text);
        checks.progress = nullptr;
    }
    dataset d = load_table(*source, name, options, std::move(checks), &progress);
    progress.done();
    return d;
}

}  // namespace symgrad
