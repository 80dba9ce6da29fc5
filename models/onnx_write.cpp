// ONNX model files out: the ModelProto as read, each initializer's values and dims taken from model.parameters
// (transposed back, in the stored dtype), tensor shapes in value_info and the output fixed to match.
#include <cmath>
#include <cstring>

#include "engine/error.hpp"
#include "models/model_formats.hpp"
#include "models/onnx_detail.hpp"

namespace symgrad::model_formats {

using namespace onnx_detail;

namespace {

template <typename T>
void append_little_endian(std::string& out, T value) {
    using word = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
    word bits;
    std::memcpy(&bits, &value, sizeof(T));
    for (std::size_t k = 0; k < sizeof(T); ++k) out.push_back(static_cast<char>((bits >> (8 * k)) & 0xff));
}

// The stored dims of parameter p in the initializer's rank: (n) and () as read, 2-D transposed per origin.
std::vector<std::int64_t> stored_dims(const tensor& p, int rank, bool transposed, const std::string& where) {
    const shape2 s = shape_of(p);
    if (rank < 2 && s.cols != 1)
        throw input_error(where + ": is " + to_string(s) + " but the file stores a " + (rank ? "vector" : "scalar"));
    if (rank == 0 && s.rows != 1) throw input_error(where + ": is " + to_string(s) + " but the file stores a scalar");
    if (rank == 0) return {};
    if (rank == 1) return {std::int64_t(s.rows)};
    if (transposed) return {std::int64_t(s.cols), std::int64_t(s.rows)};
    return {std::int64_t(s.rows), std::int64_t(s.cols)};
}

// Replaces t's data by p as raw little-endian float32 or float64 (float32 rounds to nearest).
void store(onnx::TensorProto& t, const tensor& p, const parameter_origin& origin, const std::string& where) {
    const bool transposed = t.dims_size() == 2 && origin.transposed;
    const std::vector<std::int64_t> dims = stored_dims(p, t.dims_size(), transposed, where);
    const bool narrow = origin.dtype == "float32";
    const std::size_t rows = dims.size() == 2 ? std::size_t(dims[0]) : 1, cols = p.size() / rows;
    std::string raw;
    raw.reserve(p.size() * (narrow ? 4 : 8));
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) {
            const double v = dims.size() < 2 ? p.data()[j] : transposed ? p(j, i) : p(i, j);
            if (narrow && !std::isfinite(float(v)))
                throw input_error(where + ": " + std::to_string(v) + " does not fit in float32, the file's type");
            narrow ? append_little_endian(raw, float(v)) : append_little_endian(raw, v);
        }
    t.clear_dims();
    for (std::int64_t d : dims) t.add_dims(d);
    t.set_data_type(narrow ? onnx::TensorProto::FLOAT : onnx::TensorProto::DOUBLE);
    t.clear_float_data();
    t.clear_double_data();
    t.clear_external_data();
    t.clear_data_location();
    t.set_raw_data(raw);
}

// A 2-D (batch, features) shape whose feature count is not the built tensor's any more is fixed.
void fix_features(onnx::ValueInfoProto& v, const std::map<std::string, std::size_t>& features) {
    auto it = features.find(v.name());
    if (it == features.end() || !v.type().has_tensor_type() || !v.type().tensor_type().has_shape()) return;
    auto* shape = v.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() == 2 && shape->dim(1).has_dim_value()) shape->mutable_dim(1)->set_dim_value(std::int64_t(it->second));
}

}  // namespace

std::string onnx_bytes(const model_file& model) {
    onnx::ModelProto copy = document_of(model);
    onnx::GraphProto& g = *copy.mutable_graph();
    for (auto& t : *g.mutable_initializer()) {
        auto p = model.parameters.find(t.name());
        if (p == model.parameters.end()) continue;
        auto origin = model.origins.find(t.name());
        store(t, p->second, origin == model.origins.end() ? parameter_origin{} : origin->second,
              model.source + ": parameter '" + t.name() + "'");
    }
    const auto features = tensor_features(model);  // also checks the parameters still make a network
    for (auto& v : *g.mutable_value_info()) fix_features(v, features);
    for (auto& v : *g.mutable_output()) fix_features(v, features);
    std::string bytes;
    if (!copy.SerializeToString(&bytes)) throw input_error(model.source + ": the model does not serialize (over 2 GiB?)");
    return bytes;
}

}  // namespace symgrad::model_formats
