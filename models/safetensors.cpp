// .safetensors model files. Scaffolding: replaced by the reader and writer.
#include "engine/error.hpp"
#include "models/model_formats.hpp"

namespace symgrad::model_formats {

model_file parse_safetensors(const std::string&, const std::string& source, const model_read_options&) {
    throw input_error(source + ": reading .safetensors is not implemented yet");
}
std::string safetensors_bytes(const model_file& model) {
    throw input_error(model.source + ": writing .safetensors is not implemented yet");
}

}  // namespace symgrad::model_formats
