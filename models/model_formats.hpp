// The per-format halves of models/model_file.hpp (internal to models/): each format's reader, writer and,
// where the file holds the network's structure (ONNX), its graph builder.
#pragma once
#include <string>

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

// Weight files: the dense chain of model.layers with model.hidden_activation between layers.
mlp build_chain_network(const model_file& model, std::size_t samples);

}  // namespace symgrad::model_formats
