// CSV records through a bounded buffer: block sources (a file read once per pass, or text in memory), the
// first pass's checks on every block (NUL bytes, the size limit), and the restartable record parser.
#include "models/csv_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.hpp"
#include "engine/files.hpp"

namespace symgrad::csv_detail {

namespace {

constexpr std::size_t block_size = std::size_t(1) << 16;

class memory_source : public block_source {
public:
    explicit memory_source(const std::string& text) : text_(text) {}
    std::size_t read(char* to, std::size_t capacity) override {
        std::size_t n = std::min(capacity, text_.size() - pos_);
        std::memcpy(to, text_.data() + pos_, n);
        pos_ += n;
        return n;
    }
    void rewind() override { pos_ = 0; }

private:
    const std::string& text_;
    std::size_t pos_ = 0;
};

// Read-only through an ifstream (engine/files.cpp owns every way of opening a file for writing).
// The whole file, or bytes [begin, end) of it.
class file_source : public block_source {
public:
    file_source(const std::string& path, std::size_t begin = 0, std::size_t end = std::size_t(-1))
        : in_(path, std::ios::binary), path_(path), begin_(begin), end_(end) {
        if (!in_) throw input_error(path + ": cannot open: " + std::strerror(errno));
        if (begin_ > 0) rewind();
    }
    std::size_t read(char* to, std::size_t capacity) override {
        capacity = std::min(capacity, end_ - pos_);
        in_.read(to, std::streamsize(capacity));
        if (in_.bad()) throw input_error(path_ + ": cannot read: " + std::strerror(errno));
        pos_ += std::size_t(in_.gcount());
        if (in_.gcount() == 0 && capacity > 0 && end_ != std::size_t(-1))  // a shard's range ends early
            throw input_error(path_ + ": the file changed while it was being read; load it again");
        return std::size_t(in_.gcount());
    }
    void rewind() override {
        in_.clear();
        if (!in_.seekg(std::streamoff(begin_))) throw input_error(path_ + ": cannot read it again: " + std::strerror(errno));
        pos_ = begin_;
    }

private:
    std::ifstream in_;
    std::string path_;
    std::size_t begin_, end_, pos_ = 0;
};

}  // namespace

std::unique_ptr<block_source> text_source(const std::string& text) { return std::make_unique<memory_source>(text); }

std::unique_ptr<block_source> regular_file_source(const std::string& path) {
    struct stat st {};
    if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return nullptr;
    return std::make_unique<file_source>(path);
}

std::unique_ptr<block_source> file_range_source(const std::string& path, std::size_t begin, std::size_t end) {
    return std::make_unique<file_source>(path, begin, end);
}

std::size_t record::field_line(std::size_t col) const {
    std::size_t l = line;
    for (std::size_t k = 0; k < col && k < fields.size(); ++k) {
        std::string_view s = fields[k];
        for (std::size_t q = 0; q < s.size(); ++q)
            if (s[q] == '\n' || (s[q] == '\r' && (q + 1 == s.size() || s[q + 1] != '\n'))) ++l;
    }
    return l;
}

record_reader::record_reader(block_source& source, std::string name, block_checks checks, std::size_t first_line,
                             bool skip_bom)
    : source_(source), name_(std::move(name)), checks_(std::move(checks)), buf_(2 * block_size), line_(first_line),
      started_(!skip_bom) {
    source_.rewind();
}

// A NUL byte means a binary file; past the limit, a stream that never ends. Both named at once.
void record_reader::check_block(std::size_t from) {
    if (!checks_.on) return;
    const char* b = buf_.data() + from;
    const char* e = buf_.data() + end_;
    const char* nul = static_cast<const char*>(std::memchr(b, '\0', std::size_t(e - b)));
    if (nul) {
        std::size_t line = 1 + newlines_ + std::size_t(std::count(b, nul, '\n'));
        throw input_error(nul_byte_message(name_, line, dropped_ + std::size_t(nul - buf_.data())));
    }
    newlines_ += std::size_t(std::count(b, e, '\n'));
    if (bytes_read() > checks_.max_bytes)
        throw input_error(too_large_message(name_, checks_.max_bytes));
    if (bytes_read() > std::numeric_limits<std::uint32_t>::max())
        throw input_error(name_ + ": a CSV of 4 GiB or more is not supported; split it");
    if (checks_.progress) checks_.progress(bytes_read());
}

// Keeps the unread bytes (the record being parsed) and reads one more block; false at the end.
bool record_reader::fill() {
    if (eof_) return false;
    if (pos_ > 0) {
        std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
        dropped_ += pos_;
        end_ -= pos_;
        pos_ = 0;
    }
    if (buf_.size() - end_ < block_size) buf_.resize(2 * buf_.size());  // one record longer than the buffer
    std::size_t got = source_.read(buf_.data() + end_, block_size);
    if (got == 0) return !(eof_ = true);
    end_ += got;
    check_block(end_ - got);
    return true;
}

void record_reader::drain() {
    while (fill()) pos_ = end_;
}

bool record_reader::next(record& r) {
    if (!started_) {  // a UTF-8 byte order mark before the header is not part of its first name
        started_ = true;
        while (end_ < 3 && fill()) {
        }
        if (end_ >= 3 && std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
    }
    for (;;) {
        std::size_t pos = pos_, line = line_;
        status s = parse(r, pos, line);
        if (s == status::complete) {
            pos_ = pos;
            line_ = line;
            return true;
        }
        if (s == status::finished) return false;
        fill();  // at the end, parse again knowing it is the end
    }
}

// Steps past one line end at k ('\r' or '\n'); false when a '\r' ends the buffer and a '\n' may follow.
bool record_reader::end_of_line(std::size_t& k, std::size_t& line) const {
    if (buf_[k] == '\r') {
        if (k + 1 == end_ && !eof_) return false;
        if (k + 1 < end_ && buf_[k + 1] == '\n') ++k;
    }
    ++k;
    ++line;
    return true;
}

// A quoted field from its opening quote at i, unescaped into scratch_; i ends after the closing quote.
record_reader::status record_reader::parse_quoted(std::size_t& i, std::size_t& line, std::size_t column) {
    const std::size_t quote_line = line;
    ++i;
    for (;;) {
        if (i >= end_) {
            if (!eof_) return status::more;
            throw input_error(name_ + ":" + std::to_string(quote_line) + ":" + std::to_string(column) +
                              ": unterminated quote (the quoted field starting here never ends)");
        }
        char ch = buf_[i];
        if (ch == '"') {
            if (i + 1 == end_ && !eof_) return status::more;
            if (i + 1 < end_ && buf_[i + 1] == '"') {
                scratch_ += '"';
                i += 2;
                continue;
            }
            ++i;
            return status::complete;
        }
        if (ch == '\r' || ch == '\n') {
            std::size_t before = i;
            if (!end_of_line(i, line)) return status::more;
            scratch_.append(buf_.data() + before, i - before);
            continue;
        }
        scratch_ += ch;
        ++i;
    }
}

// One record from pos (blank lines before it skipped and committed); `more` when the buffer ends first.
record_reader::status record_reader::parse(record& r, std::size_t& pos, std::size_t& line) {
    for (;;) {  // blank lines
        std::size_t k = pos;
        while (k < end_ && is_blank(buf_[k])) ++k;
        if (k == end_) return eof_ ? status::finished : status::more;
        if (buf_[k] != '\n' && buf_[k] != '\r') break;
        if (!end_of_line(k, line)) return status::more;
        pos_ = pos = k;
        line_ = line;
    }
    scratch_.clear();
    spans_.clear();
    const std::size_t record_line = line;
    std::size_t i = pos;
    for (std::size_t column = 1;; ++column) {
        std::size_t k2 = i;
        while (k2 < end_ && is_blank(buf_[k2])) ++k2;
        if (k2 == end_ && !eof_) return status::more;
        if (k2 < end_ && buf_[k2] == '"') {
            std::size_t w = scratch_.size();
            i = k2;
            if (parse_quoted(i, line, column) == status::more) return status::more;
            spans_.push_back({true, w, scratch_.size() - w});
            while (i < end_ && is_blank(buf_[i])) ++i;
            if (i == end_ && !eof_) return status::more;
            if (i < end_ && buf_[i] != ',' && buf_[i] != '\r' && buf_[i] != '\n')
                throw input_error(name_ + ":" + std::to_string(line) + ":" + std::to_string(column) +
                                  ": unexpected character '" + std::string(1, buf_[i]) +
                                  "' after a closing quote (a quote inside a quoted field is written \"\")");
        } else {
            std::size_t b = i;
            while (i < end_ && buf_[i] != ',' && buf_[i] != '\r' && buf_[i] != '\n') ++i;
            if (i == end_ && !eof_) return status::more;
            std::string_view field = trim(std::string_view(buf_.data() + b, i - b));
            spans_.push_back({false, std::size_t(field.data() - buf_.data()), field.size()});
        }
        if (i < end_ && buf_[i] == ',') {
            ++i;
            continue;
        }
        if (i < end_ && !end_of_line(i, line)) return status::more;
        break;
    }
    pos = i;
    r.line = record_line;
    r.fields.clear();
    for (const span& s : spans_)
        r.fields.emplace_back(s.quoted ? scratch_.data() + s.offset : buf_.data() + s.offset, s.length);
    return status::complete;
}

}  // namespace symgrad::csv_detail
