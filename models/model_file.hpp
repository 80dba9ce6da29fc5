// Users' model files: a dense network read from ONNX, .npz or .safetensors, and written back in its format.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/files.hpp"
#include "models/mlp.hpp"

namespace symgrad {

enum class model_format { onnx, npz, safetensors };
const char* to_string(model_format f);  // "onnx", "npz", "safetensors"
// From the extension (.onnx, .npz, .safetensors); anything else: input_error naming the path and the three.
model_format model_format_of(const std::string& path);

struct model_read_options {
    // Weight files (.npz, .safetensors) carry no activation: every hidden layer gets this one. ONNX ignores it.
    activation hidden_activation = activation::tanh;
    // Weight files: the layer prefixes in order ("fc1,fc2" or "0,2"), for names the reader cannot order
    // alone. Empty: ordered from the names (docs/model-files.md).
    std::vector<std::string> layer_order;
    std::size_t max_input_bytes = default_max_input_bytes;
};

// How one parameter is stored in the file, so that it can be written back the same way.
struct parameter_origin {
    std::string dtype = "float64";    // "float32" or "float64"; float32 widens to double exactly
    bool transposed = false;          // the file holds the transpose (ONNX MatMul's (in, out) weights)
    bool one_dimensional = false;     // a bias stored 1-D (PyTorch), held here as (n x 1)
};

// A model read from a file. Parameters are in symgrad's layout (W units x fan_in, b units x 1) under their
// names in the file ("fc1.weight", an ONNX initializer's name), as float64. build_network() turns it into
// a graph; write_model() stores it back, so a caller may replace `parameters` by tensors with fewer units
// (the compressed model) and build or write that.
struct model_file {
    model_format format = model_format::npz;
    std::string source;                                 // the path, for messages
    std::map<std::string, tensor> parameters;
    std::map<std::string, parameter_origin> origins;    // one per parameter
    // Weight files: the dense layers in order, as (weight name, bias name; empty when the layer has none),
    // and the activation of every layer but the last.
    std::vector<std::pair<std::string, std::string>> layers;
    activation hidden_activation = activation::tanh;
    std::map<std::string, std::string> metadata;       // safetensors' __metadata__, written back unchanged
    std::shared_ptr<const void> document;               // the format's parsed file (ONNX: the ModelProto)
    std::vector<std::string> notes;                     // what the reader decided on its own
};

// Reads and checks a model file; throws input_error with one line naming the file and the place (entry,
// node, offset) for anything malformed or unsupported.
model_file read_model(const std::string& path, const model_read_options& options = {});
// The same on the bytes of a file already in memory (the fuzz targets' entry point).
model_file parse_model(const std::string& bytes, model_format format, const std::string& source,
                       const model_read_options& options = {});

// The network of `model` with its parameters set: X (inputs x samples) to the logits, with Y, the loss and
// the output probabilities attached by attach_loss (the file's own Sigmoid/Softmax at the end is replaced
// by them). Graph parameters carry the parameters' names.
mlp build_network(const model_file& model, std::size_t samples = 1);

// The file's bytes with `model.parameters` (each stored in its origin's dtype and layout).
std::string model_bytes(const model_file& model);
// model_bytes written to `path` without ever leaving a half-written file.
void write_model(const model_file& model, const std::string& path);

}  // namespace symgrad
