// ONNX model files. Scaffolding: replaced by the reader, writer and graph builder.
#include "engine/error.hpp"
#include "models/model_formats.hpp"

namespace symgrad::model_formats {

model_file parse_onnx(const std::string&, const std::string& source, const model_read_options&) {
    throw input_error(source + ": reading ONNX is not implemented yet");
}
std::string onnx_bytes(const model_file& model) {
    throw input_error(model.source + ": writing ONNX is not implemented yet");
}
mlp build_onnx_network(const model_file& model, std::size_t) {
    throw input_error(model.source + ": ONNX networks are not implemented yet");
}

}  // namespace symgrad::model_formats
