// .npz model files: numpy's zip of .npy members, read through the zip's central directory (stored or
// deflated members, zip64 records and extras included, every offset checked), written as stored members.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <zlib.h>

#include "engine/error.hpp"
#include "models/model_formats.hpp"

namespace symgrad::model_formats {

namespace {

constexpr std::uint32_t local_signature = 0x04034b50, central_signature = 0x02014b50, end_signature = 0x06054b50,
                        zip64_end_signature = 0x06064b50, zip64_locator_signature = 0x07064b50;
constexpr std::uint64_t saturated32 = 0xffffffffu;

// Little-endian reads that never pass `limit` (the end of the region the field must lie in).
struct zip_reader {
    const std::string& bytes;
    const std::string& source;

    void need(std::uint64_t offset, std::uint64_t length, std::uint64_t limit, const std::string& what) const {
        if (offset > limit || length > limit - offset)
            throw input_error(source + ": truncated or corrupt zip: " + what + " at offset " + std::to_string(offset) +
                              " needs " + std::to_string(length) + " bytes, but " +
                              (limit == bytes.size() ? "the file ends" : "its region ends") + " at " + std::to_string(limit));
    }
    std::uint64_t le(std::uint64_t offset, int width) const {  // callers have checked the range with need()
        std::uint64_t v = 0;
        for (int k = width - 1; k >= 0; --k) v = v << 8 | static_cast<unsigned char>(bytes[offset + std::size_t(k)]);
        return v;
    }
};

struct directory {
    std::uint64_t entries = 0, offset = 0, size = 0, limit = 0;  // limit: where the directory must end
};

struct member {
    std::string name;
    std::uint64_t flags = 0, method = 0, crc = 0, compressed = 0, uncompressed = 0, local_offset = 0;
};

// The end-of-central-directory record (the last one whose comment reaches the end of the file) and, when a
// zip64 locator precedes it, the zip64 record it points to.
directory find_directory(const zip_reader& z) {
    const std::uint64_t size = z.bytes.size();
    if (size < 22) throw input_error(z.source + ": not an .npz (zip) archive: " + std::to_string(size) + " bytes");
    std::uint64_t at = size - 22, lowest = size - 22 > 0xffff ? size - 22 - 0xffff : 0;
    for (;; --at) {
        if (z.le(at, 4) == end_signature && at + 22 + z.le(at + 20, 2) == size) break;
        if (at == lowest) throw input_error(z.source + ": not an .npz (zip) archive: no end-of-central-directory record");
    }
    if (z.le(at + 4, 2) != 0 || z.le(at + 6, 2) != 0 || z.le(at + 8, 2) != z.le(at + 10, 2))
        throw input_error(z.source + ": a multi-disk zip archive; .npz files are single archives");
    directory d{z.le(at + 10, 2), z.le(at + 16, 4), z.le(at + 12, 4), at};
    if (at >= 20 && z.le(at - 20, 4) == zip64_locator_signature) {
        std::uint64_t record = z.le(at - 12, 8);
        z.need(record, 56, at - 20, "the zip64 end-of-central-directory record");
        if (z.le(record, 4) != zip64_end_signature)
            throw input_error(z.source + ": corrupt zip: no zip64 end-of-central-directory record at offset " +
                              std::to_string(record));
        d = directory{z.le(record + 32, 8), z.le(record + 48, 8), z.le(record + 40, 8), record};
    } else if (d.entries == 0xffff || d.offset == saturated32 || d.size == saturated32) {
        throw input_error(z.source + ": corrupt zip: saturated directory fields but no zip64 record");
    }
    z.need(d.offset, d.size, d.limit, "the central directory");
    return d;
}

// The zip64 extra field (id 1) of a central entry: the 8-byte values of the saturated 32-bit fields, in order.
void read_zip64_extra(const zip_reader& z, std::uint64_t at, std::uint64_t end, member& m) {
    std::uint64_t* fields[] = {&m.uncompressed, &m.compressed, &m.local_offset};
    bool wanted = m.uncompressed == saturated32 || m.compressed == saturated32 || m.local_offset == saturated32;
    while (at + 4 <= end) {
        std::uint64_t id = z.le(at, 2), length = z.le(at + 2, 2);
        z.need(at + 4, length, end, "an extra field of member '" + m.name + "'");
        if (id == 1) {
            std::uint64_t p = at + 4, stop = at + 4 + length;
            for (std::uint64_t* f : fields) {
                if (*f != saturated32) continue;
                z.need(p, 8, stop, "the zip64 extra field of member '" + m.name + "'");
                *f = z.le(p, 8);
                p += 8;
            }
            return;
        }
        at += 4 + length;
    }
    if (wanted) throw input_error(z.source + ": corrupt zip: member '" + m.name + "' has saturated sizes but no zip64 field");
}

std::vector<member> read_directory(const zip_reader& z, const directory& d) {
    std::vector<member> members;
    std::uint64_t at = d.offset, end = d.offset + d.size;
    for (std::uint64_t k = 0; k < d.entries; ++k) {
        z.need(at, 46, end, "central directory entry " + std::to_string(k));
        if (z.le(at, 4) != central_signature)
            throw input_error(z.source + ": corrupt zip: no central directory entry at offset " + std::to_string(at));
        std::uint64_t name_length = z.le(at + 28, 2), extra = z.le(at + 30, 2), comment = z.le(at + 32, 2);
        z.need(at + 46, name_length + extra + comment, end, "central directory entry " + std::to_string(k));
        member m;
        m.name = z.bytes.substr(at + 46, name_length);
        m.flags = z.le(at + 8, 2), m.method = z.le(at + 10, 2), m.crc = z.le(at + 16, 4);
        m.compressed = z.le(at + 20, 4), m.uncompressed = z.le(at + 24, 4), m.local_offset = z.le(at + 42, 4);
        read_zip64_extra(z, at + 46 + name_length, at + 46 + name_length + extra, m);
        members.push_back(m);
        at += 46 + name_length + extra + comment;
    }
    if (at != end)
        throw input_error(z.source + ": corrupt zip: the central directory is " + std::to_string(d.size) +
                          " bytes but its " + std::to_string(d.entries) + " entries take " + std::to_string(at - d.offset));
    return members;
}

const char* method_name(std::uint64_t method) {
    switch (method) {
        case 1: return "shrunk";
        case 9: return "deflate64";
        case 12: return "bzip2";
        case 14: return "LZMA";
        case 93: return "zstd";
        case 95: return "xz";
        case 99: return "AES-encrypted";
        default: return "unknown";
    }
}

// Where the member's data starts, after its local header, which must agree with the directory.
std::uint64_t data_start(const zip_reader& z, const member& m, std::uint64_t limit) {
    const std::string what = "the local header of member '" + m.name + "'";
    z.need(m.local_offset, 30, limit, what);
    if (z.le(m.local_offset, 4) != local_signature)
        throw input_error(z.source + ": corrupt zip: " + what + " is not at offset " + std::to_string(m.local_offset));
    std::uint64_t name_length = z.le(m.local_offset + 26, 2), extra = z.le(m.local_offset + 28, 2);
    z.need(m.local_offset + 30, name_length + extra, limit, what);
    if (z.bytes.compare(m.local_offset + 30, name_length, m.name) != 0 || z.le(m.local_offset + 8, 2) != m.method)
        throw input_error(z.source + ": corrupt zip: " + what + " disagrees with the central directory");
    std::uint64_t start = m.local_offset + 30 + name_length + extra;
    z.need(start, m.compressed, limit, "the data of member '" + m.name + "'");
    return start;
}

std::uint64_t crc_of(const char* data, std::uint64_t size) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (std::uint64_t done = 0; done < size;) {
        uInt chunk = uInt(std::min<std::uint64_t>(size - done, 1u << 30));
        crc = crc32(crc, reinterpret_cast<const Bytef*>(data + done), chunk);
        done += chunk;
    }
    return crc;
}

// Raw deflate (no zlib header) into exactly m.uncompressed bytes, consuming exactly m.compressed.
std::string inflate_member(const zip_reader& z, const member& m, std::uint64_t start) {
    const std::string where = z.source + ": member '" + m.name + "'";
    if (m.uncompressed > m.compressed * 1032 + 1024)  // deflate expands at most ~1032:1
        throw input_error(where + " claims " + std::to_string(m.uncompressed) + " bytes from " +
                          std::to_string(m.compressed) + " deflated ones, more than deflate can produce");
    std::string out(m.uncompressed, '\0');
    z_stream s{};
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) throw input_error(where + ": zlib could not start inflating");
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.bytes.data() + start));
    s.next_out = reinterpret_cast<Bytef*>(&out[0]);
    std::uint64_t in_left = m.compressed, out_left = m.uncompressed;
    int status = Z_OK;
    while (status == Z_OK) {
        if (s.avail_in == 0) s.avail_in = uInt(std::min<std::uint64_t>(in_left, 1u << 30)), in_left -= s.avail_in;
        if (s.avail_out == 0) s.avail_out = uInt(std::min<std::uint64_t>(out_left, 1u << 30)), out_left -= s.avail_out;
        status = inflate(&s, Z_NO_FLUSH);
        bool refill = (s.avail_in == 0 && in_left != 0) || (s.avail_out == 0 && out_left != 0);
        if (status == Z_BUF_ERROR && refill) status = Z_OK;  // a chunk ran out; the next one goes on
    }
    const std::uint64_t produced = s.total_out, consumed = s.total_in;
    const std::string zlib_says = s.msg ? s.msg : "no reason given";
    inflateEnd(&s);
    if (status == Z_DATA_ERROR) throw input_error(where + ": corrupt deflate data (zlib: " + zlib_says + ")");
    if (status != Z_STREAM_END)
        throw input_error(where + ": the deflate stream does not end within the " + std::to_string(m.compressed) +
                          " bytes and " + std::to_string(m.uncompressed) + " inflated bytes the directory declares");
    if (produced != m.uncompressed || consumed != m.compressed)
        throw input_error(where + ": inflates " + std::to_string(consumed) + " bytes to " + std::to_string(produced) +
                          ", the directory declares " + std::to_string(m.compressed) + " to " +
                          std::to_string(m.uncompressed));
    return out;
}

std::string hex32(std::uint64_t v) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%08llx", static_cast<unsigned long long>(v & 0xffffffffu));
    return text;
}

// The member's .npy bytes, checked against the directory's method, sizes and CRC-32.
std::string extract(const zip_reader& z, const member& m, std::uint64_t limit) {
    const std::string where = z.source + ": member '" + m.name + "'";
    if (m.flags & 1) throw input_error(where + " is encrypted; .npz members are read unencrypted only");
    if (m.method != 0 && m.method != 8)
        throw input_error(where + " uses compression method " + std::to_string(m.method) + " (" + method_name(m.method) +
                          "); only stored (0) and deflated (8) members are read");
    std::uint64_t start = data_start(z, m, limit);
    if (m.method == 0 && m.compressed != m.uncompressed)
        throw input_error(where + " is stored but its sizes differ (" + std::to_string(m.compressed) + " and " +
                          std::to_string(m.uncompressed) + ")");
    std::string data = m.method == 0 ? z.bytes.substr(start, m.compressed) : inflate_member(z, m, start);
    std::uint64_t crc = crc_of(data.data(), data.size());
    if (crc != m.crc)
        throw input_error(where + ": CRC-32 mismatch (the directory says " + hex32(m.crc) + ", the data gives " +
                          hex32(crc) + "); the file is corrupt");
    return data;
}

weight_array read_member(const zip_reader& z, const member& m, std::uint64_t limit) {
    const std::string suffix = ".npy";
    if (m.name.size() <= suffix.size() || m.name.compare(m.name.size() - suffix.size(), suffix.size(), suffix) != 0)
        throw input_error(z.source + ": member '" + m.name + "' is not a .npy array (an .npz holds <name>.npy members)");
    weight_array a;
    a.name = m.name.substr(0, m.name.size() - suffix.size());
    std::string data = extract(z, m, limit);
    const std::string where = z.source + ": member '" + m.name + "'";
    npy_member_header h = read_npy_member_header(data, where);
    check_weight_entry(z.source, a.name, h.shape);
    a.values = read_npy_member(data, where, h);
    a.shape = h.shape;
    a.dtype = h.descr.substr(1) == "f4" ? "float32" : "float64";
    return a;
}

void put(std::string& out, std::uint64_t value, int width) {
    for (int k = 0; k < width; ++k) out += char((value >> (8 * k)) & 0xff);
}

// The fixed fields local and central headers share: version needed, flags, method 0, a fixed date
// (1980-01-01, so equal models give equal bytes), CRC, sizes and the name's length.
void put_common(std::string& out, const std::string& name, std::uint64_t crc, std::uint64_t size) {
    bool utf8 = false;
    for (char c : name) utf8 = utf8 || static_cast<unsigned char>(c) >= 0x80;
    put(out, 20, 2), put(out, utf8 ? 0x800 : 0, 2), put(out, 0, 2), put(out, 0, 2), put(out, 0x21, 2);
    put(out, crc, 4), put(out, size, 4), put(out, size, 4), put(out, name.size(), 2), put(out, 0, 2);
}

}  // namespace

model_file parse_npz(const std::string& bytes, const std::string& source, const model_read_options& options) {
    zip_reader z{bytes, source};
    directory d = find_directory(z);
    std::vector<weight_array> arrays;
    std::set<std::string> seen;
    std::uint64_t total = 0;
    for (const member& m : read_directory(z, d)) {
        if (!seen.insert(m.name).second) throw input_error(source + ": member '" + m.name + "' appears twice");
        if (m.uncompressed > options.max_input_bytes - std::min(total, options.max_input_bytes))
            throw input_error(source + ": members inflate to more than the input limit of " +
                              std::to_string(options.max_input_bytes) + " bytes (--max-input-size)");
        total += m.uncompressed;
        arrays.push_back(read_member(z, m, d.offset));
    }
    return assemble_weight_file(model_format::npz, source, std::move(arrays), options);
}

std::string npz_bytes(const model_file& model) {
    std::string out, central;
    std::uint64_t count = 0;
    for (const weight_array& a : arrays_to_write(model)) {
        const std::string name = a.name + ".npy";
        const std::string data = npy_member_bytes(a, model.source + ": parameter '" + a.name + "'");
        const std::uint64_t crc = crc_of(data.data(), data.size()), offset = out.size();
        if (data.size() >= saturated32 || offset >= saturated32 || name.size() > 0xffff || ++count >= 0xffff)
            throw input_error(model.source + ": too large for a zip without zip64 records, which the .npz writer does not write");
        put(out, local_signature, 4), put_common(out, name, crc, data.size());
        out += name + data;
        put(central, central_signature, 4), put(central, 20, 2), put_common(central, name, crc, data.size());
        put(central, 0, 2), put(central, 0, 2), put(central, 0, 2), put(central, 0, 4), put(central, offset, 4);
        central += name;
    }
    const std::uint64_t directory_offset = out.size();
    if (directory_offset + central.size() >= saturated32)
        throw input_error(model.source + ": too large for a zip without zip64 records, which the .npz writer does not write");
    out += central;
    put(out, end_signature, 4), put(out, 0, 2), put(out, 0, 2), put(out, count, 2), put(out, count, 2);
    put(out, central.size(), 4), put(out, directory_offset, 4), put(out, 0, 2);
    return out;
}

}  // namespace symgrad::model_formats
