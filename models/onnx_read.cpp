// ONNX model files in: the ModelProto parsed by protobuf, its numeric initializers as parameters in
// symgrad's layout, and the whole graph built once so that a file symcheck cannot read is refused here.
#include <climits>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "engine/files.hpp"
#include "models/model_formats.hpp"
#include "models/onnx_detail.hpp"

namespace symgrad::model_formats {

using namespace onnx_detail;

namespace {

std::shared_ptr<onnx::ModelProto> parse_proto(const std::string& bytes, const std::string& source) {
    if (bytes.size() > std::size_t(INT_MAX))
        throw input_error(source + ": larger than 2 GiB, more than protobuf parses; save the weights as external data");
    auto proto = std::make_shared<onnx::ModelProto>();
    if (!proto->ParseFromArray(bytes.data(), int(bytes.size())))
        throw input_error(source + ": not an ONNX model (protobuf cannot parse it: truncated, or another format)");
    if (!proto->has_graph() || proto->graph().node_size() == 0)
        throw input_error(source + ": not an ONNX model (it holds no graph with nodes)");
    bool opset = false;
    for (const auto& o : proto->opset_import()) opset = opset || o.domain().empty() || o.domain() == "ai.onnx";
    if (!opset) throw input_error(source + ": not an ONNX model (no opset_import for the ONNX operators)");
    return proto;
}

// Far beyond a dense network symcheck can analyse; keeps a corrupt dimension from allocating gigabytes.
constexpr std::int64_t max_features = std::int64_t(1) << 20;

std::string shape_text(const onnx::TensorShapeProto& shape) {
    std::string s = "(";
    for (int k = 0; k < shape.dim_size(); ++k) {
        const auto& d = shape.dim(k);
        s += (k ? ", " : "") + (d.has_dim_value() ? std::to_string(d.dim_value()) : d.has_dim_param() ? d.dim_param() : "?");
    }
    return s + ")";
}

// One data input, 2-D float or double with a known feature count; one output.
void check_inputs_and_output(const onnx::GraphProto& g, const std::string& source) {
    std::set<std::string> initializers;
    for (const auto& t : g.initializer()) initializers.insert(t.name());
    std::string names;
    int count = 0;
    for (const auto& in : g.input())
        if (!initializers.count(in.name())) names += (count++ ? ", " : "") + in.name();
    // With no initializer at all, the extra inputs are the weights: torch.onnx.export(export_params=False).
    const std::string hint = count > 1 && initializers.empty()
                                 ? " (the file holds no weights: export with export_params=True, torch's default)"
                                 : "";
    if (count != 1)
        throw input_error(source + ": the graph has " + std::to_string(count) + " inputs (" + names +
                          "); symcheck reads a network with one input (batch, features)" + hint);
    const onnx::ValueInfoProto& in = data_input(g);
    const std::string where = source + ": input '" + in.name() + "'";
    const auto& type = in.type().tensor_type();
    if (!in.type().has_tensor_type() || (type.elem_type() != onnx::TensorProto::FLOAT && type.elem_type() != onnx::TensorProto::DOUBLE))
        throw input_error(where + ": type " + data_type_name(type.elem_type()) + "; symcheck reads a FLOAT or DOUBLE tensor");
    if (!type.has_shape() || type.shape().dim_size() != 2)
        throw input_error(where + ": has " + (type.has_shape() ? std::to_string(type.shape().dim_size()) + " dimensions " + shape_text(type.shape()) : "no shape") +
                          "; symcheck reads a 2-D input (batch, features)");
    if (!type.shape().dim(1).has_dim_value() || type.shape().dim(1).dim_value() <= 0)
        throw input_error(where + ": shape " + shape_text(type.shape()) + " does not give the number of features");
    if (type.shape().dim(1).dim_value() > max_features)
        throw input_error(where + ": " + std::to_string(type.shape().dim(1).dim_value()) + " features, more than symcheck's " +
                          std::to_string(max_features));
    if (g.output_size() != 1)
        throw input_error(source + ": the graph has " + std::to_string(g.output_size()) +
                          " outputs; symcheck reads a network with one output");
}

std::size_t number_in(const std::map<std::string, std::string>& keys, const std::string& key, std::size_t fallback,
                      const std::string& where) {
    auto it = keys.find(key);
    if (it == keys.end()) return fallback;
    if (it->second.empty() || it->second.size() > 18 || it->second.find_first_not_of("0123456789") != std::string::npos)
        throw input_error(where + ": " + key + " '" + it->second + "' is not a byte count");
    return std::stoull(it->second);
}

// The external file of an initializer: a relative path inside the model's directory, symbolic links resolved.
std::filesystem::path external_path(const std::string& location, const std::string& source, const std::string& where) {
    namespace fs = std::filesystem;
    const fs::path loc(location);
    bool climbs = false;
    for (const auto& part : loc) climbs = climbs || part == "..";
    const fs::path dir = fs::path(source).parent_path().empty() ? fs::path(".") : fs::path(source).parent_path();
    std::error_code e1, e2;
    const fs::path real = fs::weakly_canonical(dir / loc, e1), real_dir = fs::weakly_canonical(dir, e2);
    const fs::path inside = real.lexically_relative(real_dir);
    if (location.empty() || loc.is_absolute() || climbs || e1 || e2 || inside.empty() || *inside.begin() == "..")
        throw input_error(where + ": location '" + location + "' is not a file inside the model's directory");
    return dir / loc;
}

// Reads an initializer's external data into raw_data, so the builder and the writer see one kind of tensor.
void read_external(onnx::TensorProto& t, const std::string& source, std::size_t max_bytes) {
    const std::string where = source + ": initializer '" + t.name() + "' (external data)";
    std::map<std::string, std::string> keys;
    for (const auto& e : t.external_data()) keys[e.key()] = e.value();
    const std::filesystem::path path = external_path(keys["location"], source, where);
    const std::string bytes = read_whole_file(path.string(), "the external data of '" + t.name() + "'", max_bytes);
    const std::size_t offset = number_in(keys, "offset", 0, where);
    const std::size_t length = number_in(keys, "length", bytes.size() - std::min(offset, bytes.size()), where);
    if (offset > bytes.size() || length > bytes.size() - offset)
        throw input_error(where + ": offset " + std::to_string(offset) + " + length " + std::to_string(length) +
                          " is past the end of '" + keys["location"] + "' (" + std::to_string(bytes.size()) + " bytes)");
    t.set_raw_data(bytes.substr(offset, length));
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
}

// Initializers that are numbers in the network (weights, biases, arithmetic operands) and, for 2-D ones,
// whether symgrad holds their transpose: batch-major operands and MatMul's (in, out) weights are
// transposed, Gemm's B with transB=1 is not. One initializer used both ways is refused.
std::map<std::string, bool> numeric_initializers(const onnx::GraphProto& g, const std::string& source) {
    std::set<std::string> initializers;
    for (const auto& t : g.initializer()) initializers.insert(t.name());
    std::map<std::string, bool> transposed;
    std::map<std::string, std::string> first_user;
    for (const auto& n : g.node()) {
        auto use = [&](int i, bool t) {
            if (i >= n.input_size() || !initializers.count(n.input(i))) return;
            auto [it, fresh] = transposed.emplace(n.input(i), t);
            if (fresh) first_user[n.input(i)] = node_label(n);
            else if (it->second != t)
                throw input_error(source + ": initializer '" + n.input(i) + "' is used " + (t ? "as stored" : "transposed") + " by " +
                                  first_user[n.input(i)] + " and " + (t ? "transposed" : "as stored") + " by " + node_label(n) +
                                  "; symgrad holds one layout per parameter");
        };
        const std::string& op = n.op_type();
        if (op == "MatMul" || op == "Add" || op == "Sub" || op == "Mul") use(0, true), use(1, true);
        if (op == "Gemm") use(0, true), use(1, int_attribute(source, n, "transB", 0) == 0), use(2, true);
    }
    return transposed;
}

void load_parameters(const onnx::GraphProto& g, model_file& model) {
    const auto numeric = numeric_initializers(g, model.source);
    for (const auto& t : g.initializer()) {
        auto role = numeric.find(t.name());
        if (role == numeric.end()) continue;  // Reshape's shape, or unused
        const std::string where = model.source + ": initializer '" + t.name() + "'";
        if (model.parameters.count(t.name())) throw input_error(where + ": appears twice");
        const auto dims = checked_dims(t, where);
        if (dims.size() > 2)
            throw input_error(where + ": has " + std::to_string(dims.size()) + " dimensions " + dims_text(dims) +
                              "; symcheck reads weights and biases of at most 2");
        const std::vector<double> values = float_values(t, where);
        parameter_origin origin;
        origin.dtype = t.data_type() == onnx::TensorProto::FLOAT ? "float32" : "float64";
        origin.transposed = dims.size() == 2 && role->second;
        origin.one_dimensional = dims.size() == 1;
        model.parameters[t.name()] = symgrad_layout(values, dims, origin.transposed);
        model.origins[t.name()] = origin;
    }
}

void add_notes(const onnx::GraphProto& g, model_file& model) {
    std::size_t narrow = 0;
    for (const auto& [name, origin] : model.origins) narrow += origin.dtype == "float32";
    if (narrow > 0)
        model.notes.push_back(std::to_string(narrow) + " float32 initializers widened exactly to float64; a written model "
                              "stores them as float32 again (rounded to nearest)");
    if (const onnx::NodeProto* head = head_node(g))
        model.notes.push_back("the file's final " + node_label(*head) + " is left out: symcheck puts its own head on '" +
                              head->input(0) + "'");
    const auto& batch = data_input(g).type().tensor_type().shape().dim(0);
    if (batch.has_dim_value())
        model.notes.push_back("the input's batch size is fixed at " + std::to_string(batch.dim_value()) +
                              " in the file; symcheck feeds any number of samples");
}

}  // namespace

namespace onnx_detail {

std::size_t check_samples(const onnx::GraphProto& g) {
    const auto& batch = data_input(g).type().tensor_type().shape().dim(0);
    const std::int64_t features = data_input(g).type().tensor_type().shape().dim(1).dim_value();
    const bool fixed = batch.has_dim_value() && batch.dim_value() > 0 && batch.dim_value() <= 4096 &&
                       batch.dim_value() * features <= (std::int64_t(1) << 24);  // X stays under 128 MiB
    return fixed ? std::size_t(batch.dim_value()) : 1;
}

// torch.onnx.export stores parameters with equal values once and copies them with Identity nodes (its
// initializer deduplication hits exactly the constant-initialised models symcheck is for). Each copy becomes
// an initializer of its own, as in the state_dict, so the parameters stay independent. Returns the copies.
std::vector<std::string> split_identity_copies(onnx::GraphProto& g) {
    auto initializer = [&g](const std::string& name) -> const onnx::TensorProto* {
        for (const auto& t : g.initializer())
            if (t.name() == name) return &t;
        return nullptr;
    };
    std::vector<std::string> copies;
    for (int k = 0; k < g.node_size();) {
        const onnx::NodeProto& n = g.node(k);
        const onnx::TensorProto* from =
            n.op_type() == "Identity" && n.input_size() == 1 && n.output_size() == 1 ? initializer(n.input(0)) : nullptr;
        if (!from || initializer(n.output(0))) {
            ++k;
            continue;
        }
        onnx::TensorProto copy = *from;  // copied before add_initializer can move the original
        copy.set_name(n.output(0));
        copies.push_back(n.output(0));
        *g.add_initializer() = std::move(copy);
        g.mutable_node()->erase(g.mutable_node()->begin() + k);
    }
    return copies;
}

}  // namespace onnx_detail

model_file parse_onnx(const std::string& bytes, const std::string& source, const model_read_options& options) {
    std::shared_ptr<onnx::ModelProto> proto = parse_proto(bytes, source);
    onnx::GraphProto& g = *proto->mutable_graph();
    check_inputs_and_output(g, source);
    for (auto& t : *g.mutable_initializer())
        if (t.data_location() == onnx::TensorProto::EXTERNAL) read_external(t, source, options.max_input_bytes);
    const std::vector<std::string> copies = split_identity_copies(g);
    model_file model;
    model.format = model_format::onnx;
    model.source = source;
    load_parameters(g, model);
    model.document = std::shared_ptr<const onnx::ModelProto>(proto);
    build_onnx_logits(model, check_samples(g));  // every unsupported node and wrong shape is refused now
    add_notes(g, model);
    std::string names;
    for (const auto& c : copies) names += (names.empty() ? "" : ", ") + c;
    if (!copies.empty())
        model.notes.push_back(std::to_string(copies.size()) + " Identity copies of initializers (torch.onnx.export stores "
                              "equal parameters once) read as parameters of their own: " + names);
    return model;
}

}  // namespace symgrad::model_formats
