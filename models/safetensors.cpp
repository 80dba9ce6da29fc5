// .safetensors model files: an 8-byte little-endian header length, a JSON header (nlohmann-json) and the raw
// little-endian data; F32 and F64 read exactly, the layout checked as strictly as the reference library does.
#include <algorithm>
#include <cstdint>
#include <set>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.hpp"
#include "models/model_formats.hpp"

namespace symgrad::model_formats {

namespace {

using json = nlohmann::json;

constexpr std::uint64_t max_header_bytes = 100000000;  // the reference implementation's limit

struct tensor_info {
    std::string name, dtype;
    std::vector<std::size_t> shape;
    std::uint64_t begin = 0, end = 0;
};

// nlohmann's reason without its prefix and position, printable and short: "syntax error while parsing object
// - unexpected end of input; expected '}'".
std::string json_reason(const std::string& what) {
    std::size_t tag = what.find("] "), column = what.find("column "), colon = what.find(": ", column);
    std::string reason = column != std::string::npos && colon != std::string::npos ? what.substr(colon + 2)
                         : tag != std::string::npos                               ? what.substr(tag + 2)
                                                                                  : what;
    if (reason.size() > 160) reason = reason.substr(0, 160) + "...";
    for (char& c : reason)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return reason;
}

// The header's JSON object; a repeated top-level key (two tensors of one name) is refused, not overwritten.
json parse_header(const std::string& text, const std::string& source) {
    std::set<std::string> keys;
    auto no_repeats = [&](int depth, json::parse_event_t event, json& parsed) {
        if (depth == 1 && event == json::parse_event_t::key && !keys.insert(parsed.get<std::string>()).second)
            throw input_error(source + ": the header names '" + parsed.get<std::string>() + "' twice");
        return true;
    };
    json header;
    try {
        header = json::parse(text, no_repeats);
    } catch (const json::parse_error& e) {
        throw input_error(source + ": the header is not valid JSON (at header byte " + std::to_string(e.byte) + ": " +
                          json_reason(e.what()) + ")");
    } catch (const json::exception& e) {  // a number too large for any JSON number type (out_of_range 406)
        throw input_error(source + ": the header is not valid JSON (" + json_reason(e.what()) + ")");
    }
    if (!header.is_object()) throw input_error(source + ": the header is not a JSON object");
    return header;
}

std::uint64_t unsigned_field(const json& v, const std::string& where) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
        throw input_error(where + " is not a non-negative integer");
    return v.get<std::uint64_t>();
}

tensor_info read_info(const std::string& source, const std::string& name, const json& v) {
    const std::string where = source + ": tensor '" + name + "'";
    if (!v.is_object()) throw input_error(where + ": its header entry is not an object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!v.contains(key)) throw input_error(where + ": its header entry lacks '" + key + "'");
    if (!v["dtype"].is_string()) throw input_error(where + ": 'dtype' is not a string");
    if (!v["shape"].is_array()) throw input_error(where + ": 'shape' is not an array");
    const json& offsets = v["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2) throw input_error(where + ": 'data_offsets' is not [begin, end]");
    tensor_info t{name, v["dtype"].get<std::string>(), {}, unsigned_field(offsets[0], where + ": data_offsets[0]"),
                  unsigned_field(offsets[1], where + ": data_offsets[1]")};
    for (const json& d : v["shape"]) {
        std::uint64_t dim = unsigned_field(d, where + ": a dimension of 'shape'");
        if (dim > std::numeric_limits<std::uint32_t>::max()) throw input_error(where + ": a dimension is too large");
        t.shape.push_back(std::size_t(dim));
    }
    return t;
}

std::size_t item_size(const tensor_info& t, const std::string& source) {
    if (t.dtype == "F32") return 4;
    if (t.dtype == "F64") return 8;
    throw input_error(source + ": tensor '" + t.name + "' has dtype " + t.dtype +
                      "; symcheck reads F32 and F64 only (save model.float() or model.double())");
}

// Each tensor's byte range fits its shape and lies in the data; sorted, the ranges tile the data exactly.
void check_ranges(std::vector<tensor_info> infos, std::uint64_t data_size, const std::string& source) {
    for (const auto& t : infos) {
        const std::string where = source + ": tensor '" + t.name + "'";
        std::uint64_t count = 1;
        // Clamped just above data_size (a shape needing more is refused below), so the product cannot overflow.
        for (std::size_t d : t.shape) count = d == 0 ? 0 : count > data_size / d ? data_size + 1 : count * d;
        if (t.begin > t.end || t.end > data_size)
            throw input_error(where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                              "] are not a range within the " + std::to_string(data_size) + " data bytes");
        if (t.end - t.begin != count * item_size(t, source))
            throw input_error(where + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                              "] hold " + std::to_string(t.end - t.begin) + " bytes, but shape " + shape_text(t.shape) +
                              " of " + t.dtype + " needs " +
                              (count > data_size ? "more than the " + std::to_string(data_size) + " data bytes"
                                                 : std::to_string(count * item_size(t, source))));
    }
    std::sort(infos.begin(), infos.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
    std::uint64_t at = 0;
    for (std::size_t k = 0; k < infos.size(); ++k) {
        if (infos[k].begin < at)
            throw input_error(source + ": tensors '" + infos[k - 1].name + "' and '" + infos[k].name +
                              "' overlap in the data (bytes " + std::to_string(infos[k].begin) + " to " +
                              std::to_string(at) + ")");
        if (infos[k].begin > at)
            throw input_error(source + ": data bytes " + std::to_string(at) + " to " + std::to_string(infos[k].begin) +
                              " belong to no tensor (the format stores tensors back to back)");
        at = infos[k].end;
    }
    if (at != data_size)
        throw input_error(source + ": " + std::to_string(data_size - at) + " data bytes after the last tensor belong to none");
}

void read_metadata(const json& v, model_file& m) {
    if (!v.is_object()) throw input_error(m.source + ": '__metadata__' is not an object of strings");
    for (const auto& [key, value] : v.items()) {
        if (!value.is_string())
            throw input_error(m.source + ": '__metadata__' entry '" + key + "' is not a string");
        m.metadata[key] = value.get<std::string>();
    }
}

}  // namespace

model_file parse_safetensors(const std::string& bytes, const std::string& source, const model_read_options& options) {
    if (bytes.size() < 8)
        throw input_error(source + ": not a .safetensors file: " + std::to_string(bytes.size()) +
                          " bytes, too short for the 8-byte header length");
    std::uint64_t n = 0;
    for (int k = 7; k >= 0; --k) n = n << 8 | static_cast<unsigned char>(bytes[std::size_t(k)]);
    if (n > bytes.size() - 8 || n > max_header_bytes)
        throw input_error(source + ": the header length " + std::to_string(n) + " exceeds the " +
                          std::to_string(bytes.size() - 8) + " bytes after it" +
                          (n > max_header_bytes ? " or safetensors' limit of 100 MB" : ""));
    json header = parse_header(bytes.substr(8, n), source);
    std::vector<tensor_info> infos;
    json metadata;
    for (const auto& [name, v] : header.items()) {
        if (name == "__metadata__") {
            metadata = v;
            continue;
        }
        infos.push_back(read_info(source, name, v));
        check_weight_entry(source, name, infos.back().shape);
        item_size(infos.back(), source);
    }
    const std::uint64_t data_start = 8 + n;
    check_ranges(infos, bytes.size() - data_start, source);
    std::vector<weight_array> arrays;
    for (const auto& t : infos) {
        weight_array a{t.name, t.shape, t.dtype == "F32" ? "float32" : "float64", {}};
        a.values = tensor::from_shape({t.shape[0], t.shape.size() == 2 ? t.shape[1] : 1});
        decode_floats(bytes.data() + data_start + t.begin, a.values.size(), item_size(t, source), false, a.values.data());
        arrays.push_back(std::move(a));
    }
    model_file m = assemble_weight_file(model_format::safetensors, source, std::move(arrays), options);
    if (!metadata.is_null()) read_metadata(metadata, m);
    return m;
}

std::string safetensors_bytes(const model_file& model) {
    std::vector<weight_array> arrays = arrays_to_write(model);
    // float64 data first, so that every tensor starts at a multiple of its element size (as the reference does).
    std::vector<std::size_t> data_order(arrays.size());
    for (std::size_t k = 0; k < arrays.size(); ++k) data_order[k] = k;
    std::stable_sort(data_order.begin(), data_order.end(),
                     [&](std::size_t a, std::size_t b) { return arrays[a].dtype == "float64" && arrays[b].dtype != "float64"; });
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!model.metadata.empty()) header["__metadata__"] = model.metadata;
    for (const auto& a : arrays) header[a.name] = nullptr;  // keys in layer order, offsets filled below
    std::string data;
    for (std::size_t k : data_order) {
        const weight_array& a = arrays[k];
        const std::uint64_t begin = data.size();
        append_floats(data, a.values, a.dtype == "float32" ? 4 : 8, model.source + ": parameter '" + a.name + "'");
        header[a.name] = {{"dtype", a.dtype == "float32" ? "F32" : "F64"}, {"shape", a.shape}, {"data_offsets", {begin, data.size()}}};
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::type_error&) {
        throw input_error(model.source + ": a parameter name or metadata entry is not valid UTF-8; safetensors needs UTF-8");
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // the reference pads the header to a multiple of 8 bytes
    std::string out;
    for (int k = 0; k < 8; ++k) out += char((std::uint64_t(text.size()) >> (8 * k)) & 0xff);
    return out + text + data;
}

}  // namespace symgrad::model_formats
