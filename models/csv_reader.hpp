// CSV records (RFC 4180) read one at a time through a bounded buffer, from a regular file or from text in
// memory: the CSV loader's passes over its input (models/csv.cpp). Internal to models/.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace symgrad {
class collective;
}

namespace symgrad::csv_detail {

inline bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

// `s` without the spaces and tabs around it.
inline std::string_view trim(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && is_blank(s[b])) ++b;
    while (e > b && is_blank(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// The bytes of one input, readable again from the start for each pass.
class block_source {
public:
    virtual ~block_source() = default;
    virtual std::size_t read(char* to, std::size_t capacity) = 0;  // 0 at the end
    virtual void rewind() = 0;
};

// Text in memory (parse_csv, and streams that cannot be read twice); `text` must outlive the source.
std::unique_ptr<block_source> text_source(const std::string& text);
// A regular file, read block by block in each pass; nullptr when `path` is "-" or not a regular file (a
// stream, a device, a directory, a missing file: the caller reads those whole, with their own messages).
std::unique_ptr<block_source> regular_file_source(const std::string& path);
// Bytes [begin, end) of a regular file (a rank's share of a sharded load); "cannot open" names the path.
std::unique_ptr<block_source> file_range_source(const std::string& path, std::size_t begin, std::size_t end);

// What the first pass checks on every block as it arrives (the later passes read the same bytes again).
struct block_checks {
    bool on = true;
    std::size_t max_bytes = std::size_t(-1);         // "larger than the input limit" beyond this
    std::function<void(std::size_t)> progress;       // bytes read so far, after each block
};

// One record: its fields (quoted ones unescaped, unquoted ones trimmed of spaces and tabs), valid until the
// next call of record_reader::next, and the physical line (1-based) where it starts.
struct record {
    std::vector<std::string_view> fields;
    std::size_t line = 0;
    // The line where field `col` starts: the record's, plus the line breaks inside the fields before it.
    std::size_t field_line(std::size_t col) const;
};

// Reads records one after the other. Blank lines are skipped; \n, \r\n and a lone \r each end a line; quoted
// fields may hold commas, doubled quotes and line breaks. The buffer holds 128 KB, or one record if longer.
class record_reader {
public:
    // A source that starts mid-file (a shard) gives the line number of its first byte and skips no BOM.
    record_reader(block_source& source, std::string name, block_checks checks, std::size_t first_line = 1,
                  bool skip_bom = true);
    // The next record, or false at the end; input_error for a malformed quote or a failed check.
    bool next(record& r);
    // Reads (and checks) the rest of the input without parsing it: a parse error found early must not hide
    // a NUL byte or the size limit further on, which reading the whole file first used to report.
    void drain();
    std::size_t offset() const { return dropped_ + pos_; }  // bytes consumed so far
    std::size_t bytes_read() const { return dropped_ + end_; }
    std::size_t line() const { return line_; }  // of the next byte

private:
    enum class status { complete, more, finished };
    status parse(record& r, std::size_t& pos, std::size_t& line);
    status parse_quoted(std::size_t& i, std::size_t& line, std::size_t column);
    bool end_of_line(std::size_t& k, std::size_t& line) const;
    bool fill();
    void check_block(std::size_t from);

    block_source& source_;
    std::string name_;
    block_checks checks_;
    std::vector<char> buf_;
    std::size_t pos_ = 0, end_ = 0, dropped_ = 0, line_ = 1, newlines_ = 0;
    bool eof_ = false, started_ = false;
    std::string scratch_;  // the unescaped text of the record's quoted fields
    struct span {
        bool quoted;
        std::size_t offset, length;
    };
    std::vector<span> spans_;
};

// Where each rank's share of a sharded file may start (models/csv_shard.cpp, docs/data.md "Sharded loading"):
// rank r's cut is at byte size * r / N; starts[r] is the first record boundary at or after it (the position after
// a line break outside quotes, found for every rank by composing the quote automata of the ranks' byte ranges),
// or `size` when no boundary follows; lines[r] is the line number there.
struct shard_bounds {
    std::vector<std::size_t> starts, lines;
};
// Every rank reads its own byte range once; a NUL byte or a size beyond max_bytes is thrown, the same
// input_error on every rank (the one the first pass of load_csv would throw).
shard_bounds find_shard_bounds(const std::string& path, std::size_t size, std::size_t max_bytes, collective& peers);

inline std::size_t bits_of(double v) {
    std::uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return std::size_t(b);
}
inline double double_of(std::size_t b64) {
    std::uint64_t b = b64;
    double v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

// Strings and counts through collective::all_gather: length-prefixed, so any byte may appear in a string.
class packer {
public:
    packer& put(std::size_t v) { return put_text(std::to_string(v)); }
    packer& put(const std::string& s) { return put_text(std::to_string(s.size()) + ":" + s); }
    const std::string& bytes() const { return out_; }

private:
    packer& put_text(const std::string& s) {
        out_ += s;
        out_ += ';';
        return *this;
    }
    std::string out_;
};

class unpacker {
public:
    explicit unpacker(const std::string& in) : in_(in) {}
    std::size_t number();
    std::string text();

private:
    const std::string& in_;
    std::size_t pos_ = 0;
};

}  // namespace symgrad::csv_detail
