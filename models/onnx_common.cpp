// What the ONNX reader, graph builder and writer share: exact tensor decoding, attributes, the words of messages.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/error.hpp"
#include "models/onnx_detail.hpp"

namespace symgrad::model_formats::onnx_detail {

namespace {

// raw_data is little-endian whatever the host: assemble each element byte by byte.
template <typename T>
T little_endian_at(const std::string& raw, std::size_t index) {
    std::uint64_t bits = 0;
    for (std::size_t k = 0; k < sizeof(T); ++k)
        bits |= std::uint64_t(static_cast<unsigned char>(raw[index * sizeof(T) + k])) << (8 * k);
    using word = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
    const word w = static_cast<word>(bits);
    T value;
    std::memcpy(&value, &w, sizeof(T));
    return value;
}

std::size_t element_count(const onnx::TensorProto& t, const std::string& where) {
    std::size_t n = 1;
    for (std::int64_t d : checked_dims(t, where)) n *= std::size_t(d);
    return n;
}

// The values of raw_data read as T, or of the typed field, converted to R; the count must match the dims.
template <typename T, typename R, typename Field>
std::vector<R> read_values(const onnx::TensorProto& t, const Field& field, const std::string& where) {
    const std::size_t n = element_count(t, where);
    const bool raw = t.has_raw_data();
    const std::size_t have = raw ? t.raw_data().size() / sizeof(T) : std::size_t(field.size());
    if (have != n || (raw && t.raw_data().size() % sizeof(T) != 0))
        throw input_error(where + ": holds " + std::to_string(raw ? t.raw_data().size() : have) +
                          (raw ? " bytes" : " values") + " for shape " + dims_text(checked_dims(t, where)) +
                          " (" + std::to_string(n) + " elements of " + data_type_name(t.data_type()) + ")");
    std::vector<R> out(n);
    for (std::size_t k = 0; k < n; ++k)
        out[k] = raw ? R(little_endian_at<T>(t.raw_data(), k)) : R(static_cast<T>(field.Get(int(k))));
    return out;
}

}  // namespace

std::string dims_text(const std::vector<std::int64_t>& dims) {
    std::string s = "(";
    for (std::size_t k = 0; k < dims.size(); ++k) s += (k ? ", " : "") + std::to_string(dims[k]);
    return s + ")";
}

std::vector<std::int64_t> checked_dims(const onnx::TensorProto& t, const std::string& where) {
    std::vector<std::int64_t> dims(t.dims().begin(), t.dims().end());
    std::uint64_t n = 1;
    for (std::int64_t d : dims) {
        if (d < 0) throw input_error(where + ": negative dimension in shape " + dims_text(dims));
        if (d != 0 && n > (std::uint64_t(1) << 48) / std::uint64_t(d))
            throw input_error(where + ": shape " + dims_text(dims) + " has too many elements");
        n *= std::uint64_t(d);
    }
    return dims;
}

std::vector<double> float_values(const onnx::TensorProto& t, const std::string& where) {
    std::vector<double> v;
    if (t.data_type() == onnx::TensorProto::FLOAT) v = read_values<float, double>(t, t.float_data(), where);
    else if (t.data_type() == onnx::TensorProto::DOUBLE) v = read_values<double, double>(t, t.double_data(), where);
    else
        throw input_error(where + ": data type " + data_type_name(t.data_type()) +
                          "; symcheck reads FLOAT (float32) and DOUBLE (float64) tensors");
    for (std::size_t k = 0; k < v.size(); ++k)
        if (!std::isfinite(v[k])) throw input_error(where + ": element " + std::to_string(k) + " is not finite");
    return v;
}

std::vector<std::int64_t> int_values(const onnx::TensorProto& t, const std::string& where) {
    if (t.data_type() == onnx::TensorProto::INT64) return read_values<std::int64_t, std::int64_t>(t, t.int64_data(), where);
    if (t.data_type() == onnx::TensorProto::INT32) return read_values<std::int32_t, std::int64_t>(t, t.int32_data(), where);
    throw input_error(where + ": data type " + data_type_name(t.data_type()) + " where INT64 is expected");
}

std::string data_type_name(int type) {
    if (onnx::TensorProto::DataType_IsValid(type))
        return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(type));
    return "unknown (" + std::to_string(type) + ")";
}

tensor symgrad_layout(const std::vector<double>& values, const std::vector<std::int64_t>& dims, bool transposed) {
    if (dims.size() > 2) throw input_error("symgrad_layout: rank " + std::to_string(dims.size()));
    const std::size_t r = dims.size() == 2 ? std::size_t(dims[0]) : 1;
    const std::size_t c = dims.empty() ? 1 : std::size_t(dims.back());
    if (dims.size() < 2) {  // () and (n): a column, broadcast over the batch like ONNX's trailing-axis rule
        tensor t = tensor::from_shape({c, 1});
        std::copy(values.begin(), values.end(), t.begin());
        return t;
    }
    tensor t = tensor::from_shape(transposed ? std::array<std::size_t, 2>{c, r} : std::array<std::size_t, 2>{r, c});
    for (std::size_t i = 0; i < r; ++i)
        for (std::size_t j = 0; j < c; ++j) (transposed ? t(j, i) : t(i, j)) = values[i * c + j];
    return t;
}

std::string supported_ops_list() {
    return "Gemm, MatMul, Add, Sub, Mul, Tanh, Sigmoid, Relu, LeakyRelu, Softmax and LogSoftmax (at the end), "
           "Flatten, Identity, Reshape, Cast, Constant, Squeeze (of a single output, at the end)";
}

std::string unsupported_hint(const std::string& op_type) {
    // torch.onnx.export writes Dropout only for a model exported in training mode; in eval mode it is gone.
    if (op_type == "Dropout")
        return " (a Dropout node means the model was exported in training mode: call model.eval() before "
               "torch.onnx.export, or export with training=torch.onnx.TrainingMode.EVAL)";
    return {};
}

std::string node_label(const onnx::NodeProto& n) {
    std::string name = !n.name().empty() ? n.name() : n.output_size() > 0 ? n.output(0) : std::string("?");
    return "node '" + name + "' (" + n.op_type() + ")";
}

namespace {

// The attribute `name` of n when it has the type ONNX defines for it; null when absent.
const onnx::AttributeProto* typed_attribute(const std::string& source, const onnx::NodeProto& n, const std::string& name,
                                            onnx::AttributeProto::AttributeType type) {
    for (const auto& a : n.attribute()) {
        if (a.name() != name) continue;
        if (a.type() != type)
            throw input_error(source + ": " + node_label(n) + ": attribute '" + name + "' is " +
                              onnx::AttributeProto::AttributeType_Name(a.type()) + ", not " +
                              onnx::AttributeProto::AttributeType_Name(type));
        return &a;
    }
    return nullptr;
}

}  // namespace

std::int64_t int_attribute(const std::string& source, const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) {
    const auto* a = typed_attribute(source, n, name, onnx::AttributeProto::INT);
    return a ? a->i() : fallback;
}

double float_attribute(const std::string& source, const onnx::NodeProto& n, const std::string& name, double fallback) {
    const auto* a = typed_attribute(source, n, name, onnx::AttributeProto::FLOAT);
    return a ? double(a->f()) : fallback;
}

const onnx::ValueInfoProto& data_input(const onnx::GraphProto& g) {
    for (const auto& in : g.input()) {
        bool initializer = false;
        for (const auto& t : g.initializer()) initializer = initializer || t.name() == in.name();
        if (!initializer) return in;
    }
    throw input_error("the ONNX graph has no input");
}

const onnx::ModelProto& document_of(const model_file& model) {
    if (model.format != model_format::onnx || !model.document)
        throw input_error(model.source + ": holds no ONNX document (not read by parse_onnx)");
    return *std::static_pointer_cast<const onnx::ModelProto>(model.document);
}

}  // namespace symgrad::model_formats::onnx_detail
