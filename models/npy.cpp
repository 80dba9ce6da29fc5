// Tensors as numpy .npy files: written by xtensor's xnpy, read by a validating parser of our own; the
// same parser, with float32 allowed, reads the members of .npz model files.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <xtensor/xnpy.hpp>

#include "engine/files.hpp"
#include "engine/error.hpp"
#include "models/data.hpp"
#include "models/model_formats.hpp"

namespace symgrad {

namespace {

// What a validated header says; data_offset is where the values start.
struct npy_header {
    std::vector<std::size_t> shape;
    bool big_endian = false;
    std::size_t item_size = 8;
    std::size_t data_offset = 0;
};

using model_formats::shape_text;

// A small reader for the header's Python dict literal: {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
class header_parser {
public:
    header_parser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

    void parse(std::string& descr, bool& fortran, std::vector<std::size_t>& shape) {
        bool seen_descr = false, seen_fortran = false, seen_shape = false;
        expect('{');
        for (;;) {
            skip_space();
            if (peek() == '}') break;
            std::string key = string_literal();
            expect(':');
            skip_space();
            if (key == "descr") {
                descr = string_literal();
                seen_descr = true;
            } else if (key == "fortran_order") {
                fortran = boolean();
                seen_fortran = true;
            } else if (key == "shape") {
                shape = tuple();
                seen_shape = true;
            } else {
                fail("unknown key '" + key + "'");
            }
            if (!list_continues('}', "expected ',' or '}'")) break;
        }
        ++i_;
        while (i_ < s_.size())
            if (!std::isspace(static_cast<unsigned char>(s_[i_++]))) fail("text after the closing '}'");
        if (!seen_descr || !seen_fortran || !seen_shape) fail("it lacks one of 'descr', 'fortran_order', 'shape'");
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw input_error(path_ + ": garbage .npy header (" + why + " at header byte " + std::to_string(i_) + ")");
    }
    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    void skip_space() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    void expect(char ch) {
        skip_space();
        if (peek() != ch) fail(std::string("expected '") + ch + "'");
        ++i_;
    }
    // After a dict or tuple item: steps past a ',' and returns true, or returns false at `close`.
    bool list_continues(char close, const char* expected) {
        skip_space();
        if (peek() == ',') {
            ++i_;
            return true;
        }
        if (peek() != close) fail(expected);
        return false;
    }
    std::string string_literal() {
        skip_space();
        char q = peek();
        if (q != '\'' && q != '"') fail("expected a quoted string");
        std::size_t end = s_.find(q, i_ + 1);
        if (end == std::string::npos) fail("unterminated string");
        std::string v = s_.substr(i_ + 1, end - i_ - 1);
        i_ = end + 1;
        return v;
    }
    bool boolean() {
        if (s_.compare(i_, 4, "True") == 0) return i_ += 4, true;
        if (s_.compare(i_, 5, "False") == 0) return i_ += 5, false;
        fail("expected True or False");
    }
    std::vector<std::size_t> tuple() {
        std::vector<std::size_t> dims;
        expect('(');
        for (;;) {
            skip_space();
            if (peek() == ')') break;
            if (!std::isdigit(static_cast<unsigned char>(peek()))) fail("expected a dimension");
            std::size_t v = 0;
            while (std::isdigit(static_cast<unsigned char>(peek()))) {
                std::size_t digit = std::size_t(s_[i_++] - '0');
                if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("dimension too large");
                v = v * 10 + digit;
            }
            dims.push_back(v);
            if (!list_continues(')', "expected ',' or ')' in the shape")) break;
        }
        ++i_;
        return dims;
    }

    const std::string& path_;
    const std::string& s_;
    std::size_t i_ = 0;
};


// Checks magic, version and header length and parses the header's dict; the layout is checked by check_layout.
npy_header read_header(const std::string& path, const std::string& bytes, std::string& descr, bool& fortran) {
    static const char magic[] = "\x93NUMPY";
    if (bytes.size() < 8 || bytes.compare(0, 6, magic, 6) != 0)
        throw input_error(path + ": not a .npy file (" +
                          (bytes.size() < 8 ? std::to_string(bytes.size()) + " bytes, too short for the magic"
                                            : std::string("wrong magic bytes; expected \\x93NUMPY")) +
                          ")");
    auto byte = [&](std::size_t k) { return std::size_t(static_cast<unsigned char>(bytes[k])); };
    std::size_t major = byte(6), minor = byte(7);
    std::size_t length_bytes = major == 1 ? 2 : 4;
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        throw input_error(path + ": unsupported .npy format version " + std::to_string(major) + "." +
                          std::to_string(minor) + " (1.0, 2.0 and 3.0 are read)");
    if (bytes.size() < 8 + length_bytes) throw input_error(path + ": truncated .npy file (ends inside the header length)");
    std::size_t header_length = 0;
    for (std::size_t k = 0; k < length_bytes; ++k) header_length |= byte(8 + k) << (8 * k);
    std::size_t header_start = 8 + length_bytes;
    if (bytes.size() - header_start < header_length)
        throw input_error(path + ": truncated .npy file (the header says " + std::to_string(header_length) +
                          " bytes, the file has " + std::to_string(bytes.size() - header_start) + " after it starts)");
    npy_header h;
    fortran = false;
    header_parser(path, bytes.substr(header_start, header_length)).parse(descr, fortran, h.shape);
    h.data_offset = header_start + header_length;
    return h;
}

// Checks dtype (float64, or also float32 for model files), order, rank and that the data is exactly the
// right size; sets h.big_endian and h.item_size.
void check_layout(const std::string& path, const std::string& bytes, const std::string& descr, bool fortran,
                  npy_header& h, bool float32_too) {
    bool f8 = descr == "<f8" || descr == ">f8", f4 = float32_too && (descr == "<f4" || descr == ">f4");
    if (!f8 && !f4)
        throw input_error(path + ": dtype '" + descr + "' is not " +
                          (float32_too ? std::string("float32 or float64 ('<f4' or '<f8'); weights must be floating-point")
                                       : std::string("float64 ('<f8'); save with a.astype(numpy.float64)")));
    if (fortran && h.shape.size() > 1)
        throw input_error(path + ": array is in Fortran order; save numpy.ascontiguousarray(a) instead");
    if (h.shape.size() != 1 && h.shape.size() != 2)
        throw input_error(path + ": array of shape " + shape_text(h.shape) + " has " + std::to_string(h.shape.size()) +
                          " dimensions; expected 1 or 2");
    h.big_endian = descr[0] == '>';
    h.item_size = f4 ? 4 : 8;

    std::size_t count = 1;
    for (std::size_t dim : h.shape) {
        if (dim != 0 && count > std::numeric_limits<std::size_t>::max() / 8 / dim)
            throw input_error(path + ": shape " + shape_text(h.shape) + " is too large");
        count *= dim;
    }
    std::size_t have = bytes.size() - h.data_offset, need = count * h.item_size;
    if (have != need)
        throw input_error(path + ": " + std::string(have < need ? "truncated" : "trailing bytes in") +
                          " .npy file: shape " + shape_text(h.shape) + " needs " + std::to_string(need) +
                          " data bytes, the file has " + std::to_string(have));
}

npy_header validate(const std::string& path, const std::string& bytes) {
    std::string descr;
    bool fortran = false;
    npy_header h = read_header(path, bytes, descr, fortran);
    check_layout(path, bytes, descr, fortran, h, false);
    return h;
}

bool host_is_big_endian() {
    const std::uint16_t probe = 1;
    unsigned char first = 0;
    std::memcpy(&first, &probe, 1);
    return first == 0;
}

// The values of a validated file as (rows x cols); a 1-D array of n is (n x 1) unless as_row.
tensor decode(const std::string& bytes, const npy_header& h, bool as_row) {
    std::size_t rows = h.shape[0], cols = h.shape.size() == 2 ? h.shape[1] : 1;
    if (h.shape.size() == 1 && as_row) std::swap(rows, cols);
    tensor t = tensor::from_shape({rows, cols});
    model_formats::decode_floats(bytes.data() + h.data_offset, t.size(), h.item_size, h.big_endian, t.data());
    return t;
}

// Reads and checks a file; a 1-D array of length n comes back as (n x 1) unless as_row.
tensor read_npy(const std::string& path, std::vector<std::size_t>& file_shape, bool as_row,
                const std::string* in_memory = nullptr) {
    std::error_code ec;
    if (!in_memory && std::filesystem::exists(path, ec) && !std::filesystem::is_directory(path, ec) &&
        !std::filesystem::is_regular_file(path, ec))  // /dev/zero or a FIFO would be read without end
        throw input_error(path + ": not a regular file; a .npy file is expected");
    std::string bytes = in_memory ? *in_memory : read_whole_file(path, "a .npy file");
    npy_header h = validate(path, bytes);
    file_shape = h.shape;
    tensor t = decode(bytes, h, as_row);
    std::size_t cols = t.shape()[1];
    if (auto k = first_non_finite(t))
        throw input_error(path + ": element " + std::to_string(*k) + " (row " + std::to_string(*k / cols) + ", column " +
                          std::to_string(*k % cols) + ") is " + (std::isnan(t.data()[*k]) ? "NaN" : "infinite"));
    return t;
}

// A parameter name becomes a file name: refuse ones that would escape or be hidden in the directory.
void check_file_name(const std::string& name) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
        throw input_error("parameter name '" + name + "' cannot be used as a .npy file name");
}

}  // namespace

void save_npy(const tensor& t, const std::string& path) {
    std::string bytes = xt::dump_npy(t);  // '<f8', C order, header padded to 64 bytes
    write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), std::streamsize(bytes.size())); },
                          true);
}

tensor load_npy(const std::string& path) {
    std::vector<std::size_t> file_shape;
    return read_npy(path, file_shape, false);
}

tensor parse_npy(const std::string& bytes, const std::string& source) {
    std::vector<std::size_t> file_shape;
    return read_npy(source, file_shape, false, &bytes);
}

tensor load_npy(const std::string& path, shape2 expected) {
    std::vector<std::size_t> file_shape;
    bool as_row = expected.rows == 1 && expected.cols != 1;
    tensor t = read_npy(path, file_shape, as_row);
    if (shape_of(t) != expected)
        throw input_error(path + ": array of shape " + shape_text(file_shape) + " does not fit the expected " +
                          to_string(expected) + (file_shape.size() == 1 ? " (a 1-D array fits (n x 1) or (1 x n))" : ""));
    return t;
}

std::vector<std::pair<std::string, std::string>> parameter_files(const graph& g) {
    std::vector<std::pair<std::string, std::string>> files;
    for (node p : g.parameters()) check_file_name(p.name());
    for (node p : g.parameters()) files.emplace_back(p.name() + ".npy", xt::dump_npy(g.value(p)));
    return files;
}

void save_parameters(const graph& g, const std::string& directory) {
    std::error_code ec;
    std::filesystem::create_directories(directory, ec);
    if (ec) throw io_error("cannot create directory '" + directory + "': " + ec.message());
    for (node p : g.parameters()) check_file_name(p.name());
    for (node p : g.parameters()) save_npy(g.value(p), (std::filesystem::path(directory) / (p.name() + ".npy")).string());
}

void load_parameters(graph& g, const std::string& directory) {
    std::error_code ec;
    if (!std::filesystem::is_directory(directory, ec))
        throw input_error(directory + ": not a directory of parameter files");
    // Read every file before changing anything, so a bad file leaves the model as it was.
    std::vector<tensor> values;
    for (node p : g.parameters()) {
        check_file_name(p.name());
        std::string path = (std::filesystem::path(directory) / (p.name() + ".npy")).string();
        if (!std::filesystem::exists(path, ec))
            throw input_error(path + ": missing; parameter " + p.name() + " " + to_string(p.shape()) + " needs it");
        values.push_back(load_npy(path, p.shape()));
    }
    std::size_t k = 0;
    for (node p : g.parameters()) g.value(p) = values[k++];
}

namespace model_formats {

std::string shape_text(const std::vector<std::size_t>& shape) {  // numpy's spelling: (3,) (2, 3)
    std::string s = "(";
    for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

void decode_floats(const char* bytes, std::size_t count, std::size_t item_size, bool big_endian, double* out) {
    const bool swap = big_endian != host_is_big_endian();
    for (std::size_t k = 0; k < count; ++k) {
        unsigned char raw[8];
        std::memcpy(raw, bytes + item_size * k, item_size);
        if (swap) std::reverse(raw, raw + item_size);
        if (item_size == 4) {
            float f;
            std::memcpy(&f, raw, 4);
            out[k] = double(f);  // exact: every float is a double
        } else {
            std::memcpy(out + k, raw, 8);
        }
    }
}

void append_floats(std::string& out, const tensor& values, std::size_t item_size, const std::string& what) {
    const bool swap = host_is_big_endian();
    for (std::size_t k = 0; k < values.size(); ++k) {
        unsigned char raw[8];
        double v = values.data()[k];
        if (item_size == 4) {
            if (std::isfinite(v) && std::abs(v) > double(std::numeric_limits<float>::max()))
                throw input_error(what + ": element " + std::to_string(k) + " (" + std::to_string(v) +
                                  ") is beyond float32's range and cannot be stored as float32");
            float f = static_cast<float>(v);
            std::memcpy(raw, &f, 4);
        } else {
            std::memcpy(raw, &v, 8);
        }
        if (swap) std::reverse(raw, raw + item_size);
        out.append(reinterpret_cast<const char*>(raw), item_size);
    }
}

npy_member_header read_npy_member_header(const std::string& bytes, const std::string& where) {
    npy_member_header m;
    npy_header h = read_header(where, bytes, m.descr, m.fortran_order);
    m.shape = h.shape;
    m.data_offset = h.data_offset;
    return m;
}

tensor read_npy_member(const std::string& bytes, const std::string& where, const npy_member_header& m) {
    npy_header h;
    h.shape = m.shape;
    h.data_offset = m.data_offset;
    check_layout(where, bytes, m.descr, m.fortran_order, h, true);
    return decode(bytes, h, false);
}

std::string npy_member_bytes(const weight_array& array, const std::string& what) {
    const bool f4 = array.dtype == "float32";
    std::string dict = std::string("{'descr': '") + (f4 ? "<f4" : "<f8") + "', 'fortran_order': False, 'shape': " +
                       shape_text(array.shape) + ", }";
    while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';  // numpy aligns the data to 64 bytes
    dict += '\n';
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    out += char(dict.size() & 0xff);
    out += char((dict.size() >> 8) & 0xff);
    out += dict;
    append_floats(out, array.values, f4 ? 4 : 8, what);
    return out;
}

}  // namespace model_formats

}  // namespace symgrad
