// The per-format halves of models/model_file.hpp (internal to models/): each format's reader, writer and,
// where the file holds the network's structure (ONNX), its graph builder.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "models/model_file.hpp"

namespace symgrad::model_formats {

model_file parse_npz(const std::string& bytes, const std::string& source, const model_read_options& options);
std::string npz_bytes(const model_file& model);

model_file parse_safetensors(const std::string& bytes, const std::string& source, const model_read_options& options);
std::string safetensors_bytes(const model_file& model);

model_file parse_onnx(const std::string& bytes, const std::string& source, const model_read_options& options);
std::string onnx_bytes(const model_file& model);
mlp build_onnx_network(const model_file& model, std::size_t samples);
// The same up to the logits: X and logits set (W and b too when the graph is a plain dense chain), no Y,
// loss or output yet. What build_onnx_network completes with attach_loss.
mlp build_onnx_logits(const model_file& model, std::size_t samples);

// What .npz and .safetensors share (models/weight_names.cpp): PyTorch state_dict names and the layer order.
// One array of a weight file as its reader decoded it: values in the file's layout (a 1-D array of n as
// n x 1), the file's shape and its dtype ("float32" or "float64").
struct weight_array {
    std::string name;
    std::vector<std::size_t> shape;
    std::string dtype;
    tensor values;
};
// Refuses, naming the entry, anything but a dense layer's weight ((out, in); Keras' kernel (in, out)) or
// bias (1-D, or (n, 1)): BatchNorm statistics, convolution kernels, scalars. Called on a header before its
// data is decoded, so a non-Linear entry is named as such rather than by its dtype.
void check_weight_entry(const std::string& source, const std::string& name, const std::vector<std::size_t>& shape);
// The model of a weight file: parameters in symgrad's layout with their origins, layers paired by prefix
// and ordered by the numbers in their names, by the one order their shapes chain in, or by
// options.layer_order; anything else is an input_error naming the prefixes and how to pass the order.
model_file assemble_weight_file(model_format format, const std::string& source, std::vector<weight_array> arrays,
                                const model_read_options& options);
// The parameters a writer stores, in order (layer by layer, weight then bias, then any others), each with
// its shape in the file (transposed back, 1-D where it came 1-D) and its values in that layout.
std::vector<weight_array> arrays_to_write(const model_file& model);

// A file's shape as numpy spells it: (3,) (2, 3).
std::string shape_text(const std::vector<std::size_t>& shape);
// Raw IEEE numbers to doubles (item_size 4: float32, widened exactly; 8: float64), either byte order.
void decode_floats(const char* bytes, std::size_t count, std::size_t item_size, bool big_endian, double* out);
// Doubles as little-endian float32 or float64; float32 rounds to nearest, and a value beyond float32's
// range is an input_error naming `what` (never written as inf).
void append_floats(std::string& out, const tensor& values, std::size_t item_size, const std::string& what);

// One .npy member of an .npz: '<f4', '<f8' (or '>'), C order, 1-D or 2-D. `where` names it in messages.
struct npy_member_header {
    std::vector<std::size_t> shape;
    std::string descr;
    bool fortran_order = false;
    std::size_t data_offset = 0;
};
npy_member_header read_npy_member_header(const std::string& bytes, const std::string& where);
tensor read_npy_member(const std::string& bytes, const std::string& where, const npy_member_header& header);
// A .npy file of `array` in its dtype and shape (version 1.0, header padded to 64 bytes as numpy does).
std::string npy_member_bytes(const weight_array& array, const std::string& what);

// Weight files: the dense chain of model.layers with model.hidden_activation between layers.
mlp build_chain_network(const model_file& model, std::size_t samples);

}  // namespace symgrad::model_formats
