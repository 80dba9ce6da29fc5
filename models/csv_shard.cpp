// Where the ranks of a sharded CSV load split the file: each reads its own byte range once, through the quote
// automaton of models/csv_reader.cpp's parser, and the ranges' automata composed in rank order tell every rank
// where the first record boundary after its cut lies, even inside a quoted field with line breaks.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "engine/collective.hpp"
#include "engine/error.hpp"
#include "engine/files.hpp"
#include "models/csv_reader.hpp"

namespace symgrad::csv_detail {

std::size_t unpacker::number() {
    std::size_t end = in_.find(';', pos_);
    if (end == std::string::npos) throw std::logic_error("csv shard: truncated message");
    std::size_t v = std::stoull(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return v;
}

std::string unpacker::text() {
    std::size_t colon = in_.find(':', pos_);
    if (colon == std::string::npos) throw std::logic_error("csv shard: truncated message");
    std::size_t n = std::stoull(in_.substr(pos_, colon - pos_));
    std::string s = in_.substr(colon + 1, n);
    pos_ = colon + 1 + n + 1;  // the ';' after it
    return s;
}

namespace {

constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
constexpr std::size_t block_size = std::size_t(1) << 16;  // the record reader's: the size checks fall per block

// The parser's states between bytes: at a record's start (after a line break outside quotes), at a field's
// start (after a comma), in an unquoted field, in a quoted one, after a quote inside one (closing, or the first
// of a doubled quote), after a closing quote (blanks until a comma or a line break), and after a syntax error.
enum state : std::uint8_t { at_record, at_field, unquoted, quoted, quote_seen, after_quote, broken, states };
enum byte_class : std::uint8_t { quote_byte, comma_byte, break_byte, blank_byte, other_byte };

constexpr std::uint8_t next_state[states][5] = {
    // quote        comma      line break   blank         other
    {quoted, at_field, at_record, at_record, unquoted},          // at_record (blanks before a blank line)
    {quoted, at_field, at_record, at_field, unquoted},           // at_field
    {unquoted, at_field, at_record, unquoted, unquoted},         // unquoted: a quote inside is text
    {quote_seen, quoted, quoted, quoted, quoted},                // quoted
    {quoted, at_field, at_record, after_quote, broken},          // quote_seen
    {broken, at_field, at_record, after_quote, broken},          // after_quote
    {broken, broken, broken, broken, broken},                    // broken: the parser throws here
};

byte_class classify(char ch) {
    switch (ch) {
    case '"': return quote_byte;
    case ',': return comma_byte;
    case '\n':
    case '\r': return break_byte;
    case ' ':
    case '\t': return blank_byte;
    default: return other_byte;
    }
}

// What one rank learns from its range [a, b): per state at a, the state at b and the first record boundary
// (with the line breaks before it in the range); the line breaks and '\n' bytes in the range; the first NUL.
struct range_scan {
    std::array<std::size_t, states> end{}, found{}, breaks_before{};
    std::size_t breaks = 0, newlines = 0, nul = none, newlines_before_nul = 0;
};

// The bytes [from, to) of the file (clipped to its size `size`), for the scan's look-behind and look-ahead.
class byte_reader {
public:
    byte_reader(const std::string& path) : in_(path, std::ios::binary), path_(path) {
        if (!in_) throw input_error(path + ": cannot open: " + std::strerror(errno));
    }
    std::string read(std::size_t from, std::size_t to) {
        std::string s(to - from, '\0');
        in_.clear();
        in_.seekg(std::streamoff(from));
        in_.read(s.data(), std::streamsize(s.size()));
        if (in_.bad()) throw input_error(path_ + ": cannot read: " + std::strerror(errno));
        s.resize(std::size_t(in_.gcount()));
        return s;
    }
    const std::string& path() const { return path_; }

private:
    std::ifstream in_;
    std::string path_;
};

// The automaton run from every state at once: a tuple of 7 states (one per start state), numbered as met. Its
// transitions are built on first use; a file meets a few dozen tuples, so each byte costs one table look-up.
class tuple_automaton {
public:
    using tuple = std::array<std::uint8_t, states>;
    tuple_automaton() {
        tuple identity;
        for (std::uint8_t s = 0; s < states; ++s) identity[s] = s;
        id(identity);
    }
    std::uint32_t step(std::uint32_t t, byte_class k) {
        std::uint32_t& next = next_[t][k];
        if (next == unknown) {
            tuple moved;
            for (std::size_t s = 0; s < states; ++s) moved[s] = next_state[tuples_[t][s]][k];
            const std::uint32_t n = id(moved);  // may grow next_: `next` is not used after this
            next_[t][k] = n;
            return n;
        }
        return next;
    }
    const tuple& at(std::uint32_t t) const { return tuples_[t]; }

private:
    static constexpr std::uint32_t unknown = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t id(const tuple& t) {
        for (std::uint32_t k = 0; k < tuples_.size(); ++k)
            if (tuples_[k] == t) return k;
        tuples_.push_back(t);
        next_.push_back({unknown, unknown, unknown, unknown, unknown});
        return std::uint32_t(tuples_.size() - 1);
    }
    std::vector<tuple> tuples_;
    std::vector<std::array<std::uint32_t, 5>> next_;
};

// Runs the automaton from every state at once over [a, b). A record boundary at q: a line break ends at q - 1
// (a "\r\n" is one) and the state at q is at_record.
range_scan scan_range(byte_reader& in, std::size_t a, std::size_t b, std::size_t size) {
    range_scan out;
    out.found.fill(none);
    tuple_automaton automaton;
    std::uint32_t t = 0;
    std::size_t unfound = states;
    const std::size_t chunk = std::size_t(1) << 20;
    bool break_before = false;  // a line break ended at q - 1
    if (a > 0 && a < b) {
        std::string edge = in.read(a - 1, std::min(a + 1, size));
        break_before = edge[0] == '\n' || (edge[0] == '\r' && (edge.size() < 2 || edge[1] != '\n'));
    }
    for (std::size_t c = a; c < b; c += chunk) {
        const std::size_t d = std::min(b, c + chunk);
        const std::string bytes = in.read(c, std::min(d + 1, size));  // one byte more, for "\r\n" at d - 1
        if (bytes.size() < d - c) throw input_error(in.path() + ": the file changed while it was being read; load it again");
        for (std::size_t q = c; q < d; ++q) {
            const char ch = bytes[q - c];
            if (break_before && unfound)
                for (std::size_t s = 0; s < states; ++s)
                    if (out.found[s] == none && automaton.at(t)[s] == at_record)
                        out.found[s] = q, out.breaks_before[s] = out.breaks, --unfound;
            t = automaton.step(t, classify(ch));
            if (ch == '\0' && out.nul == none) out.nul = q, out.newlines_before_nul = out.newlines;
            break_before = ch == '\n' || (ch == '\r' && (q + 1 - c >= bytes.size() || bytes[q + 1 - c] != '\n'));
            out.newlines += ch == '\n';
            out.breaks += break_before;
        }
    }
    for (std::size_t s = 0; s < states; ++s) out.end[s] = automaton.at(t)[s];
    return out;
}

std::string pack(const range_scan& r) {
    packer p;
    for (std::size_t s = 0; s < states; ++s) p.put(r.end[s]).put(r.found[s]).put(r.breaks_before[s]);
    p.put(r.breaks).put(r.newlines).put(r.nul).put(r.newlines_before_nul);
    return p.bytes();
}

range_scan unpack(const std::string& bytes) {
    unpacker u(bytes);
    range_scan r;
    for (std::size_t s = 0; s < states; ++s) r.end[s] = u.number(), r.found[s] = u.number(), r.breaks_before[s] = u.number();
    r.breaks = u.number(), r.newlines = u.number(), r.nul = u.number(), r.newlines_before_nul = u.number();
    return r;
}

// The first pass of load_csv checks each 64 KB block as it arrives: a NUL byte, then the size limit, then
// 4 GiB. The same message here: a NUL in a block up to the first one past a limit wins. `scanned` is how far
// the ranks looked (not beyond that block).
std::string input_check(const std::string& path, std::size_t size, std::size_t max_bytes, std::size_t nul,
                        std::size_t nul_line) {
    const std::size_t limit = std::min<std::size_t>(max_bytes, std::numeric_limits<std::uint32_t>::max());
    const std::size_t last_block = size > limit ? limit / block_size : none;
    if (nul != none && (last_block == none || nul / block_size <= last_block)) return nul_byte_message(path, nul_line, nul);
    if (last_block == none) return "";
    if (std::min((last_block + 1) * block_size, size) > max_bytes) return too_large_message(path, max_bytes);
    return path + ": a CSV of 4 GiB or more is not supported; split it";
}

}  // namespace

// Rank r's cut is size * r / N (rank 0's after a UTF-8 byte order mark, which the parser skips). A file over the
// limit is scanned only up to the block where load_csv would stop, for the NUL that may come first.
shard_bounds find_shard_bounds(const std::string& path, std::size_t size, std::size_t max_bytes, collective& peers) {
    const std::size_t N = peers.size(), r = peers.rank();
    const std::size_t limit = std::min<std::size_t>(max_bytes, std::numeric_limits<std::uint32_t>::max());
    const std::size_t scanned = size > limit ? std::min(size, (limit / block_size + 1) * block_size) : size;
    std::string mine;
    std::string error = first_failure<std::exception>(peers, [&] {  // any rank's failure thrown by all
        byte_reader in(path);
        const std::size_t bom = in.read(0, std::min<std::size_t>(3, size)) == "\xEF\xBB\xBF" ? 3 : 0;
        auto cut = [&](std::size_t k) { return std::max(bom, scanned * k / N); };
        mine = pack(scan_range(in, cut(r), cut(r + 1), size));
    });
    if (!error.empty()) throw input_error(error);
    std::vector<range_scan> all;
    for (const auto& bytes : peers.all_gather(mine)) all.push_back(unpack(bytes));
    std::size_t newlines = 0;
    for (const auto& s : all) {
        if (s.nul != none) break;
        newlines += s.newlines;
    }
    std::size_t nul = none, nul_line = 0;
    for (const auto& s : all)
        if (s.nul != none) {
            nul = s.nul, nul_line = 1 + newlines + s.newlines_before_nul;
            break;
        }
    if (std::string e = input_check(path, size, max_bytes, nul, nul_line); !e.empty()) throw input_error(e);
    // The state at each cut, rank by rank from at_record at the start; then each rank's first boundary, or the
    // next rank's when its range holds none.
    shard_bounds b;
    b.starts.assign(N + 1, size);
    b.lines.assign(N + 1, 0);
    std::vector<std::size_t> found(N, none), line(N, 0);
    std::size_t state = at_record, breaks = 0;
    for (std::size_t k = 0; k < N; ++k) {
        found[k] = all[k].found[state];
        line[k] = 1 + breaks + all[k].breaks_before[state];
        state = all[k].end[state];
        breaks += all[k].breaks;
    }
    for (std::size_t k = N; k-- > 0;) {
        b.starts[k] = found[k] != none ? found[k] : b.starts[k + 1];
        b.lines[k] = found[k] != none ? line[k] : b.lines[k + 1];
    }
    b.starts.pop_back();
    b.lines.pop_back();
    return b;
}

}  // namespace symgrad::csv_detail
