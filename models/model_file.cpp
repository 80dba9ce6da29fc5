// read_model / build_network / write_model: the format is chosen here, the work is done per format.
#include "models/model_file.hpp"

#include <algorithm>
#include <ostream>

#include <sys/stat.h>

#include "engine/error.hpp"
#include "engine/text.hpp"
#include "models/model_formats.hpp"

namespace symgrad {

namespace {

// Case-insensitive, so model.NPZ (as some Windows tools name it) reads like model.npz.
bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && lower(s.substr(s.size() - tail.size())) == lower(tail);
}

// A device is never a model file, and /dev/zero or /dev/urandom would be read up to the input limit
// (gigabytes) before the format could refuse it: refused at once instead.
void refuse_devices(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
        throw input_error(path + ": a device, not a model file (.onnx, .npz or .safetensors)");
}

}  // namespace

const char* to_string(model_format f) {
    switch (f) {
        case model_format::onnx: return "onnx";
        case model_format::npz: return "npz";
        case model_format::safetensors: return "safetensors";
    }
    return "?";
}

model_format model_format_of(const std::string& path) {
    if (ends_with(path, ".onnx")) return model_format::onnx;
    if (ends_with(path, ".npz")) return model_format::npz;
    if (ends_with(path, ".safetensors")) return model_format::safetensors;
    throw input_error(path + ": not a model file symcheck reads (by extension: .onnx, .npz or .safetensors)");
}

model_file read_model(const std::string& path, const model_read_options& options) {
    const model_format format = model_format_of(path);
    refuse_devices(path);
    std::string what = std::string("a model file (.") + to_string(format) + ")";
    return parse_model(read_whole_file(path, what, options.max_input_bytes), format, path, options);
}

model_file parse_model(const std::string& bytes, model_format format, const std::string& source,
                       const model_read_options& options) {
    switch (format) {
        case model_format::onnx: return model_formats::parse_onnx(bytes, source, options);
        case model_format::npz: return model_formats::parse_npz(bytes, source, options);
        case model_format::safetensors: return model_formats::parse_safetensors(bytes, source, options);
    }
    throw input_error(source + ": unknown model format");
}

mlp build_network(const model_file& model, std::size_t samples) {
    if (model.format == model_format::onnx) return model_formats::build_onnx_network(model, samples);
    return model_formats::build_chain_network(model, samples);
}

std::string model_bytes(const model_file& model) {
    switch (model.format) {
        case model_format::onnx: return model_formats::onnx_bytes(model);
        case model_format::npz: return model_formats::npz_bytes(model);
        case model_format::safetensors: return model_formats::safetensors_bytes(model);
    }
    throw input_error(model.source + ": unknown model format");
}

void write_model(const model_file& model, const std::string& path) {
    const std::string bytes = model_bytes(model);
    write_file_atomically(path, [&](std::ostream& out) { out.write(bytes.data(), std::streamsize(bytes.size())); },
                          true);
}

}  // namespace symgrad
