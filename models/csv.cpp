// The CSV loader: RFC 4180 records, column typing, one-hot text, missing-value policies, standardisation.
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
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "engine/error.hpp"
#include "engine/files.hpp"
#include "models/data.hpp"

namespace symgrad {

namespace {

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

// A field as a view into the table's text (quoted fields are unescaped in place): 8 bytes per cell, so a
// large file's cells take about twice its text, not twenty times. Texts of 4 GiB and more are refused.
struct cell {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
};

// Line breaks in a field (\r\n, \n and a lone \r each count once): only quoted fields hold any.
std::size_t line_breaks(std::string_view s) {
    std::size_t n = 0;
    for (std::size_t k = 0; k < s.size(); ++k)
        if (s[k] == '\n' || (s[k] == '\r' && (k + 1 == s.size() || s[k + 1] != '\n'))) ++n;
    return n;
}

// Every record's cells, one after the other: record r is cells[first[r]] .. cells[first[r + 1] - 1].
struct records_view {
    std::vector<cell> cells;
    std::vector<std::size_t> first{0};
    std::vector<std::uint32_t> lines;  // physical line where each record starts (1-based)
    std::size_t size() const { return first.size() - 1; }
    std::size_t fields(std::size_t r) const { return first[r + 1] - first[r]; }
    const cell& at(std::size_t r, std::size_t col) const { return cells[first[r] + col]; }
    // The line where a field starts: its record's, plus the line breaks inside the fields before it.
    std::size_t line(std::size_t r, std::size_t col, const std::string& text) const {
        std::size_t l = lines[r];
        for (std::size_t k = 0; k < col; ++k) l += line_breaks(std::string_view(text).substr(at(r, k).offset, at(r, k).length));
        return l;
    }
};

std::string lower(std::string s) {
    for (auto& ch : s)
        if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
    return s;
}

bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

std::string_view trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && is_blank(s[b])) ++b;
    while (e > b && is_blank(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// Shows a cell's text in a message: quoted, and cut short if long.
std::string shown(std::string_view s) {
    std::string t = s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s);
    return "'" + t + "'";
}


// Splits the text into records. Quoted fields may hold commas, doubled quotes and line breaks; blank lines
// are skipped; \n, \r\n and a lone \r all end a line. A quoted field is unescaped in place (its text only
// shrinks), so every cell is a view into `text`.
records_view parse_records(const std::string& path, std::string& text, std::size_t start, loading_progress* progress) {
    records_view records;
    const std::size_t n = text.size();
    // Sized once from the separators (an upper bound): growing by doubling would hold the old and the new
    // array together, up to three times the cells' memory.
    const std::size_t line_ends = std::size_t(std::count(text.begin(), text.end(), '\n')) + 1;
    records.cells.reserve(std::size_t(std::count(text.begin(), text.end(), ',')) + line_ends);
    records.first.reserve(line_ends + 1);
    records.lines.reserve(line_ends);
    std::size_t i = start;
    std::size_t line = 1;
    auto end_of_line = [&](std::size_t& k) {  // k at '\r' or '\n': step past one line end
        if (text[k] == '\r' && k + 1 < n && text[k + 1] == '\n') ++k;
        ++k;
        ++line;
    };
    while (i < n) {
        std::size_t k = i;
        while (k < n && is_blank(text[k])) ++k;
        if (k == n) break;
        if (text[k] == '\n' || text[k] == '\r') {  // blank line
            end_of_line(k);
            i = k;
            continue;
        }
        std::size_t column = 0;
        records.lines.push_back(std::uint32_t(line));
        for (;;) {
            cell c;
            ++column;
            std::size_t k2 = i;
            while (k2 < n && is_blank(text[k2])) ++k2;
            if (k2 < n && text[k2] == '"') {
                std::size_t quote_line = line;
                std::size_t w = k2;  // the unescaped text is written from the opening quote on
                c.offset = std::uint32_t(w);
                i = k2 + 1;
                for (;;) {
                    if (i >= n)
                        throw input_error(path + ":" + std::to_string(quote_line) + ":" + std::to_string(column) +
                                          ": unterminated quote (the quoted field starting here never ends)");
                    char ch = text[i];
                    if (ch == '"') {
                        if (i + 1 < n && text[i + 1] == '"') {
                            text[w++] = '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    if (ch == '\r' || ch == '\n') {
                        std::size_t before = i;
                        end_of_line(i);
                        for (std::size_t q = before; q < i; ++q) text[w++] = text[q];
                        continue;
                    }
                    text[w++] = ch;
                    ++i;
                }
                c.length = std::uint32_t(w - c.offset);
                while (i < n && is_blank(text[i])) ++i;
                if (i < n && text[i] != ',' && text[i] != '\r' && text[i] != '\n')
                    throw input_error(path + ":" + std::to_string(line) + ":" + std::to_string(column) +
                                      ": unexpected character '" + std::string(1, text[i]) +
                                      "' after a closing quote (a quote inside a quoted field is written \"\")");
            } else {
                std::size_t b = i;
                while (i < n && text[i] != ',' && text[i] != '\r' && text[i] != '\n') ++i;
                std::string_view field = trim(std::string_view(text).substr(b, i - b));
                c.offset = std::uint32_t(field.data() - text.data());
                c.length = std::uint32_t(field.size());
            }
            records.cells.push_back(c);
            if (i < n && text[i] == ',') {
                ++i;
                continue;
            }
            if (i < n) end_of_line(i);
            break;
        }
        records.first.push_back(records.cells.size());
        if (progress && records.size() % 65536 == 0) progress->parsing(i, n);
    }
    return records;
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

struct column_info {
    std::size_t index = 0;  // in the file, 0-based
    std::string name;
    bool numeric = false;
    std::size_t missing = 0;
    std::vector<double> values;       // numeric: per data row (NaN where missing)
    std::set<std::string_view> categories;  // text: distinct filled values (views into the table's text)
    // Text, over the kept rows (encode_text_columns): the sorted values, and per kept row its value's index
    // (levels.size() for a missing cell), so the one-hot rows are built after the text is freed.
    std::vector<std::string> levels;
    std::vector<std::uint32_t> codes;
    bool kept_missing = false;
};

// Mean and population standard deviation computed on values scaled into [-1, 1], so 1e308 cannot overflow;
// returns (x - mean) / std for each value, or zeros when the values are constant.
std::vector<double> standardized(const std::vector<double>& x) {
    double scale = 0.0;
    for (double v : x) scale = std::max(scale, std::fabs(v));
    std::vector<double> z(x.size(), 0.0);
    // Constant values give zeros exactly (the scaled mean may round a hair away from them).
    if (x.empty() || std::all_of(x.begin(), x.end(), [&](double v) { return v == x[0]; })) return z;
    double n = double(x.size());
    double mean = 0.0;
    for (double v : x) mean += (v / scale) / n;
    double var = 0.0;
    for (double v : x) {
        double d = v / scale - mean;
        var += d * d / n;
    }
    double sd = std::sqrt(var);
    if (!(sd > 0.0)) return z;
    for (std::size_t k = 0; k < x.size(); ++k) z[k] = (x[k] / scale - mean) / sd;
    return z;
}

// Sum of x_k / n: each term is at most DBL_MAX / n in size, so the mean of finite values stays finite.
double safe_mean(const std::vector<double>& x) {
    double n = double(x.size()), m = 0.0;
    for (double v : x) m += v / n;
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

// The records of a file with its header read: what every step after parsing looks cells up in.
struct csv_table {
    std::string path;
    std::string content;    // the file's text, quoted fields unescaped in place
    records_view records;  // [0] is the header; data row r (1-based) is record r
    std::vector<std::string> names;
    std::size_t rows() const { return records.size() - 1; }
    std::string_view text(std::size_t r, std::size_t col) const {
        const cell& c = records.at(r, col);
        return std::string_view(content).substr(c.offset, c.length);
    }
    // "file:line:column (name)" of a data cell; r is the record index (1 = first data row).
    std::string place(std::size_t r, std::size_t col) const {
        return path + ":" + std::to_string(records.line(r, col, content)) + ":" + std::to_string(col + 1) + " (" +
               names[col] + ")";
    }
};

// A NUL byte means a binary file: refuse it naming the line, before any parsing.
void check_not_binary(const std::string& text, const std::string& path) {
    std::size_t nul = text.find('\0');
    if (nul == std::string::npos) return;
    std::size_t line = 1 + std::size_t(std::count(text.begin(), text.begin() + std::ptrdiff_t(nul), '\n'));
    throw input_error(path + ":" + std::to_string(line) + ": contains a NUL byte (offset " + std::to_string(nul) +
                      "); the file looks binary, not a text CSV");
}

// The records and header of the text: non-empty, named columns that differ case-insensitively, no ragged row.
csv_table read_table(std::string text, const std::string& path, loading_progress* progress) {
    check_not_binary(text, path);
    std::size_t start = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // UTF-8 byte order mark
    if (text.size() > std::numeric_limits<std::uint32_t>::max())
        throw input_error(path + ": a CSV of 4 GiB or more is not supported; split it");
    csv_table t{path, std::move(text), {}, {}};
    t.records = parse_records(path, t.content, start, progress);
    if (t.records.size() == 0) throw input_error(path + ": empty file; expected a header row and data rows");
    const std::size_t header_line = t.records.lines[0];
    if (t.records.size() == 1)
        throw input_error(path + ":" + std::to_string(header_line) + ": header only, no data rows");
    std::map<std::string, std::size_t> seen_names;  // lower-cased name -> column index
    for (std::size_t k = 0; k < t.records.fields(0); ++k) {
        std::string name(trim(t.text(0, k)));
        std::string place = path + ":" + std::to_string(header_line) + ":" + std::to_string(k + 1);
        if (name.empty()) throw input_error(place + ": empty column name in the header");
        auto [it, fresh] = seen_names.emplace(lower(name), k);
        if (!fresh)
            throw input_error(place + " (" + name + "): duplicate column name (column " + std::to_string(it->second + 1) +
                              " is '" + t.names[it->second] + "'; names are compared case-insensitively)");
        t.names.push_back(name);
    }
    const std::size_t H = t.names.size();
    for (std::size_t r = 1; r < t.records.size(); ++r)
        if (t.records.fields(r) != H)
            throw input_error(path + ":" + std::to_string(t.records.lines[r]) + ": row has " +
                              std::to_string(t.records.fields(r)) + " fields, header has " + std::to_string(H));
    return t;
}

// The label column's index; `used` is false for it and for every ignored column.
std::size_t choose_columns(const csv_table& t, const csv_options& options, std::vector<bool>& used) {
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
    // The code of a filled label that add() saw.
    std::size_t code(std::string_view s) const {
        if (!numeric_) return text_code_.find(s)->second;
        double v = 0.0;
        parse_number(trim(s), v);
        return zero_one_ ? std::size_t(v) : number_code_.find(v)->second;
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

// Every data row's class code, or NaN for a missing label under the drop policy (its row is dropped with a
// note); a missing label under another policy is an error (labels are never imputed), and so is a label with
// more than max_classes distinct values (a measurement, not a class). Sets d.class_names and notes the mapping.
std::vector<double> read_labels(const csv_table& t, std::size_t label, const csv_options& options, dataset& d) {
    label_classes classes(options.max_classes);
    for (std::size_t r = 1; r <= t.rows(); ++r) {
        std::string_view s = t.text(r, label);
        if (is_missing(s) && options.missing != missing_policy::drop_row)
            throw input_error(t.place(r, label) + ": missing label " + shown(s) +
                              "; labels are never imputed or dropped silently: remove or fill the row");
        if (!is_missing(s) && !classes.add(s))
            throw input_error(t.place(r, label) + ": label " + shown(s) + " is one distinct value more than the " +
                              std::to_string(options.max_classes) +
                              " classes allowed (max_classes): is the column a measurement? choose another label");
    }
    classes.finish();
    d.class_names = classes.names();
    if (!classes.zero_one()) d.notes.push_back(classes.note(d.label_name));
    std::vector<double> y(t.rows(), std::numeric_limits<double>::quiet_NaN());
    for (std::size_t r = 1; r <= t.rows(); ++r)
        if (!is_missing(t.text(r, label))) y[r - 1] = double(classes.code(t.text(r, label)));
    return y;
}

// Column k typed over all rows: numeric when every filled cell is a number, else text (its categories).
column_info type_column(const csv_table& t, std::size_t k) {
    const std::size_t rows = t.rows();
    column_info c;
    c.index = k;
    c.name = t.names[k];
    bool any_text = false, any_value = false;
    for (std::size_t r = 1; r <= rows; ++r) {
        std::string_view s = t.text(r, k);
        if (is_missing(s))
            ++c.missing;
        else if (looks_numeric(s) || looks_infinite(s))
            any_value = true;
        else
            any_text = true;
    }
    if (c.missing == rows)
        throw input_error(t.path + ": column " + std::to_string(k + 1) + " (" + c.name + ") is missing in all " +
                          std::to_string(rows) + " rows; leave it out with ignore");
    c.numeric = any_value && !any_text;
    if (!c.numeric) {
        for (std::size_t r = 1; r <= rows; ++r)
            if (!is_missing(t.text(r, k))) c.categories.insert(t.text(r, k));
        return c;
    }
    c.values.assign(rows, std::numeric_limits<double>::quiet_NaN());
    for (std::size_t r = 1; r <= rows; ++r) {
        std::string_view s = t.text(r, k);
        if (is_missing(s)) continue;
        if (looks_infinite(s))
            throw input_error(t.place(r, k) + ": infinite value " + shown(s) +
                              " in a numeric column; use a finite number or leave the cell empty");
        if (!parse_number(s, c.values[r - 1]))
            throw input_error(t.place(r, k) + ": value " + shown(s) + " overflows a double (beyond 1.8e308)");
    }
    return c;
}

// Why a column looks like an identifier (names, tickets, a PassengerId), or empty when it does not.
std::string identifier_reason(const column_info& c, std::size_t rows, const csv_options& options) {
    std::size_t filled = rows - c.missing;
    if (!c.numeric && (c.categories.size() > options.max_categories ||
                       (c.categories.size() >= 3 && 2 * c.categories.size() > filled)))
        return "identifier-like text (" + std::to_string(c.categories.size()) + " distinct values in " +
               std::to_string(filled) + " filled cells)";
    if (!c.numeric || !ends_with_id(c.name) || filled < 2) return "";
    std::set<double> distinct;
    bool integers = true;
    for (double v : c.values)
        if (!std::isnan(v)) {
            integers = integers && v == std::floor(v);
            distinct.insert(v);
        }
    if (!integers || distinct.size() != filled) return "";
    return "identifier-like (a name ending in 'id' and " + std::to_string(filled) + " distinct integers)";
}

// The used columns, typed, without the identifier-like ones (each left out with a note).
std::vector<column_info> feature_columns(const csv_table& t, const std::vector<bool>& used,
                                         const csv_options& options, dataset& d) {
    std::vector<column_info> columns;
    for (std::size_t k = 0; k < t.names.size(); ++k) {
        if (!used[k]) continue;
        column_info c = type_column(t, k);
        std::string reason = options.drop_identifiers ? identifier_reason(c, t.rows(), options) : "";
        if (!reason.empty()) {
            d.notes.push_back("left out column '" + c.name + "': " + reason);
            continue;
        }
        columns.push_back(std::move(c));
    }
    if (columns.empty())
        throw input_error(t.path + ": no feature columns left besides the label '" + d.label_name + "'" +
                          (d.notes.empty() ? std::string() : " (" + d.notes.back() + ")"));
    return columns;
}

std::string missing_counts(const std::vector<column_info>& columns) {
    std::string counts;
    for (const auto& c : columns)
        if (c.missing) counts += (counts.empty() ? "" : ", ") + c.name + " " + std::to_string(c.missing);
    return counts;
}

// The warning when the drop policy cost more than half the rows: the column whose gaps cost the most rows,
// and what --ignore of it or the mean policy would keep instead.
void warn_if_most_rows_dropped(const std::vector<column_info>& columns, const std::vector<std::size_t>& only_gap,
                               std::size_t rows, std::size_t labelled, std::size_t kept, dataset& d) {
    if (2 * kept >= rows) return;
    std::size_t worst = 0;
    for (std::size_t c = 1; c < columns.size(); ++c)
        if (columns[c].missing > columns[worst].missing) worst = c;
    const column_info& w = columns[worst];
    d.warnings.push_back("dropping rows with missing values kept only " + std::to_string(kept) + " of " +
                         std::to_string(rows) + " rows; column '" + w.name + "' is missing in " +
                         std::to_string(w.missing) + " of them: --ignore " + w.name + " keeps " +
                         std::to_string(kept + only_gap[worst]) + " rows, --missing mean keeps " +
                         std::to_string(labelled));
}

// The data rows (0-based) the missing-value policy keeps: all of them, or those without a missing cell (and,
// under the drop policy, with a label); notes say how many were dropped and for which columns.
std::vector<std::size_t> rows_to_keep(const csv_table& t, const std::vector<column_info>& columns,
                                      const std::vector<double>& y, const csv_options& options, dataset& d) {
    const std::size_t rows = t.rows();
    std::vector<std::size_t> kept;
    std::vector<std::size_t> only_gap(columns.size(), 0);  // rows whose one missing cell is in column c
    std::size_t unlabelled = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        std::size_t gaps = 0, gap_column = 0;
        for (std::size_t c = 0; c < columns.size(); ++c)
            if (is_missing(t.text(r + 1, columns[c].index))) {
                if (options.missing == missing_policy::error)
                    throw input_error(t.place(r + 1, columns[c].index) + ": missing value " +
                                      shown(t.text(r + 1, columns[c].index)) + " (the missing-value policy is error)");
                ++gaps;
                gap_column = c;
            }
        if (std::isnan(y[r])) {
            ++unlabelled;
            continue;
        }
        if (gaps == 1) ++only_gap[gap_column];
        if (gaps == 0 || options.missing != missing_policy::drop_row) kept.push_back(r);
    }
    if (kept.empty())
        throw input_error(t.path + ": every one of the " + std::to_string(rows) +
                          " rows has a missing value (missing cells: " + missing_counts(columns) +
                          "); use the mean policy or ignore the emptiest columns");
    if (unlabelled)
        d.notes.push_back("dropped " + std::to_string(unlabelled) + " of " + std::to_string(rows) + " rows whose label '" +
                          d.label_name + "' is missing");
    if (kept.size() + unlabelled < rows)
        d.notes.push_back("dropped " + std::to_string(rows - unlabelled - kept.size()) + " of " + std::to_string(rows) +
                          " rows with missing values (missing cells: " + missing_counts(columns) + ")");
    warn_if_most_rows_dropped(columns, only_gap, rows, rows - unlabelled, kept.size(), d);
    return kept;
}

// The feature rows, each copied into X (features x kept rows) as soon as it is built, so the data set is never
// held twice while loading; count_features sizes X beforehand.
class feature_rows {
public:
    feature_rows(std::size_t count, std::size_t samples) : X(tensor::from_shape({count, samples})) {}
    void push_back(const std::vector<double>& row) { std::copy(row.begin(), row.end(), data(size_++)); }
    std::size_t size() const { return size_; }
    std::size_t samples() const { return X.shape()[1]; }
    double* data(std::size_t f) { return X.data() + f * samples(); }
    const double* data(std::size_t f) const { return X.data() + f * samples(); }
    tensor X;

private:
    std::size_t size_ = 0;
};

// Encodes every text column over the kept rows (levels and codes) and returns the number of features: one
// per numeric column, one per value of a text column and one for its missing cells, if any.
std::size_t encode_text_columns(const csv_table& t, std::vector<column_info>& columns,
                                const std::vector<std::size_t>& kept) {
    std::size_t count = 0;
    for (auto& c : columns) {
        if (c.numeric) {
            ++count;
            continue;
        }
        std::set<std::string_view> values;
        for (std::size_t r : kept) {
            std::string_view s = t.text(r + 1, c.index);
            if (is_missing(s))
                c.kept_missing = true;
            else
                values.insert(s);
        }
        std::map<std::string_view, std::uint32_t> index;
        for (auto v : values) {
            index.emplace(v, std::uint32_t(c.levels.size()));
            c.levels.emplace_back(v);
        }
        c.codes.reserve(kept.size());
        for (std::size_t r : kept) {
            std::string_view s = t.text(r + 1, c.index);
            c.codes.push_back(is_missing(s) ? std::uint32_t(c.levels.size()) : index.at(s));
        }
        c.categories.clear();  // views into the text, which is freed next
        count += c.levels.size() + (c.kept_missing ? 1 : 0);
    }
    return count;
}

// A numeric column as one feature row over the kept rows, missing cells filled with the column's mean.
void add_numeric_feature(const column_info& c, const std::vector<std::size_t>& kept, feature_rows& features,
                         dataset& d) {
    std::vector<double> present;
    for (std::size_t r : kept)
        if (!std::isnan(c.values[r])) present.push_back(c.values[r]);
    double fill = safe_mean(present);
    std::vector<double> row;
    for (std::size_t r : kept) row.push_back(std::isnan(c.values[r]) ? fill : c.values[r]);
    if (present.size() < kept.size())
        d.notes.push_back("filled " + std::to_string(kept.size() - present.size()) + " missing cells of '" + c.name +
                          "' with its mean " + std::to_string(fill));
    features.push_back(std::move(row));
    d.feature_names.push_back(c.name);
}

// A text column one-hot encoded over the kept rows, values in sorted order; missing cells get a
// "<column>_missing" category of their own, never an invented value.
void add_one_hot_features(const column_info& c, feature_rows& features, dataset& d) {
    const std::size_t level_count = c.levels.size();
    for (std::size_t level = 0; level < level_count + (c.kept_missing ? 1 : 0); ++level) {
        std::vector<double> row(c.codes.size());
        for (std::size_t j = 0; j < c.codes.size(); ++j) row[j] = c.codes[j] == level ? 1.0 : 0.0;
        features.push_back(row);
        d.feature_names.push_back(c.name + "_" + (level < level_count ? c.levels[level] : std::string("missing")));
    }
    std::string levels;
    for (const auto& v : c.levels) levels += (levels.empty() ? "" : ", ") + v;
    d.notes.push_back("one-hot encoded text column '" + c.name + "' as " + std::to_string(level_count) + " levels (" +
                      (level_count <= 8 ? levels : std::string("values sorted")) + ")" +
                      (c.kept_missing ? " and a '" + c.name + "_missing' feature for its missing cells" : ""));
}

// Notes a constant feature; refuses two features with one name (a column and a one-hot value).
void check_features(const feature_rows& features, const std::string& path, dataset& d) {
    std::set<std::string> feature_names;
    for (std::size_t f = 0; f < features.size(); ++f) {
        const double* row = features.data(f);
        if (std::all_of(row, row + features.samples(), [&](double v) { return v == row[0]; }))
            d.notes.push_back("feature '" + d.feature_names[f] + "' is constant (" + std::to_string(row[0]) +
                              ") in every kept row; it carries no information");
        if (!feature_names.insert(d.feature_names[f]).second)
            throw input_error(path + ": two features are both named '" + d.feature_names[f] +
                              "' (a column and a one-hot value share the name); rename one column");
    }
}

// A feature whose values separate the classes completely (each class's values in an interval of its own, e.g.
// every 1 above every 0) predicts the label perfectly: usually the label in other words (seaborn's 'alive' next
// to 'survived'). One warning per source column. At least 5 samples of every class present: in fewer, any
// varying feature separates them by chance.
void warn_label_leaks(const feature_rows& features, const std::vector<std::string>& source_column,
                      const std::vector<std::size_t>& codes, dataset& d) {
    std::vector<std::size_t> count(d.class_names.size(), 0);
    for (std::size_t c : codes) ++count[c];
    std::size_t present = 0;
    for (std::size_t n : count) {
        if (n > 0 && n < 5) return;
        present += n > 0;
    }
    if (present < 2) return;
    std::set<std::string> warned;
    for (std::size_t f = 0; f < features.size(); ++f) {
        std::vector<std::pair<double, double>> range(count.size(), {INFINITY, -INFINITY});  // (lo, hi) per class
        const double* row = features.data(f);
        for (std::size_t j = 0; j < codes.size(); ++j) {
            range[codes[j]].first = std::min(range[codes[j]].first, row[j]);
            range[codes[j]].second = std::max(range[codes[j]].second, row[j]);
        }
        range.erase(std::remove_if(range.begin(), range.end(), [](const auto& r) { return r.first > r.second; }), range.end());
        std::sort(range.begin(), range.end());
        bool separated = true;
        for (std::size_t c = 1; c < range.size(); ++c) separated = separated && range[c - 1].second < range[c].first;
        if (!separated || !warned.insert(source_column[f]).second) continue;
        d.warnings.push_back("feature '" + d.feature_names[f] + "' predicts the label '" + d.label_name +
                             "' perfectly in all " + std::to_string(codes.size()) +
                             " samples: it is probably the label in other words; leave it out with --ignore " +
                             source_column[f]);
    }
}

// Labels of a single class leave nothing to separate.
void warn_single_class(const std::vector<std::size_t>& codes, dataset& d) {
    if (std::any_of(codes.begin(), codes.end(), [&](std::size_t c) { return c != codes[0]; })) return;
    d.warnings.push_back("every one of the " + std::to_string(codes.size()) + " samples has label " +
                         d.class_names[codes[0]] + " in '" + d.label_name +
                         "': there is nothing to learn; check the label column (--label)");
}

// Y from the kept rows' class codes: 1 x samples of codes for up to two classes, k x samples one-hot for more.
tensor label_matrix(const std::vector<std::size_t>& codes, std::size_t classes) {
    tensor Y = tensor::from_shape({classes >= 3 ? classes : 1, codes.size()});
    Y.fill(0.0);
    for (std::size_t j = 0; j < codes.size(); ++j) {
        if (classes >= 3)
            Y(codes[j], j) = 1.0;
        else
            Y(0, j) = double(codes[j]);
    }
    return Y;
}

dataset parse_table(std::string text, const std::string& path, const csv_options& options,
                    loading_progress* progress) {
    csv_table table = read_table(std::move(text), path, progress);
    if (progress) progress->building();
    std::vector<bool> used;
    const std::size_t label = choose_columns(table, options, used);
    dataset d;
    d.source = path;
    d.label_name = table.names[label];
    d.rows_read = table.rows();
    for (std::size_t k = 0; k < used.size(); ++k)
        if (!used[k] && k != label) d.notes.push_back("left out column '" + table.names[k] + "' as asked (ignore)");
    const std::vector<double> y = read_labels(table, label, options, d);
    std::vector<column_info> columns = feature_columns(table, used, options, d);
    const std::vector<std::size_t> kept = rows_to_keep(table, columns, y, options, d);

    const std::size_t feature_count = encode_text_columns(table, columns, kept);
    table.content = std::string();  // every cell is a number or a code now: free the text before X exists
    table.records = records_view();
    feature_rows features(feature_count, kept.size());
    std::vector<std::string> source_column;  // per feature
    for (auto& c : columns) {
        if (c.numeric)
            add_numeric_feature(c, kept, features, d);
        else
            add_one_hot_features(c, features, d);
        source_column.resize(features.size(), c.name);
        std::vector<double>().swap(c.values);  // in X now
        std::vector<std::uint32_t>().swap(c.codes);
    }
    check_features(features, path, d);
    std::vector<std::size_t> codes(kept.size());
    for (std::size_t j = 0; j < kept.size(); ++j) codes[j] = std::size_t(y[kept[j]]);
    warn_single_class(codes, d);
    warn_label_leaks(features, source_column, codes, d);
    for (std::size_t f = 0; f < features.size(); ++f) {
        double* row = features.data(f);
        if (options.standardize) {
            std::vector<double> z = standardized(std::vector<double>(row, row + kept.size()));
            std::copy(z.begin(), z.end(), row);
        }
        if (!std::all_of(row, row + kept.size(), [](double v) { return std::isfinite(v); }))
            throw input_error(path + ": feature '" + d.feature_names[f] + "' is not finite after preprocessing");
    }
    d.X = std::move(features.X);
    d.Y = label_matrix(codes, d.class_names.size());
    return d;
}

}  // namespace

dataset parse_csv(const std::string& text, const std::string& path, const csv_options& options) {
    return parse_table(text, path, options, nullptr);
}

dataset load_csv(const std::string& path, const csv_options& options) {
    std::string name = path == "-" ? "<stdin>" : path;
    loading_progress progress(options.progress, name);
    std::string text = read_whole_file(path, "a CSV file", options.max_input_bytes, true,
                                       [&](std::size_t bytes) { progress.read(bytes); });
    dataset d = parse_table(std::move(text), name, options, &progress);
    progress.done();
    return d;
}

}  // namespace symgrad
