// ONNX internals shared by the reader, the graph builder and the writer (models/onnx_*.cpp): the parsed
// document, exact tensor decoding, and the layout rule between ONNX's batch-major tensors and symgrad's.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "models/model_file.hpp"

namespace symgrad::model_formats::onnx_detail {

// The ModelProto that parse_onnx stored in model.document; input_error when there is none.
const onnx::ModelProto& document_of(const model_file& model);

// "(3, 2)", "(5)", "()": an ONNX shape as messages show it.
std::string dims_text(const std::vector<std::int64_t>& dims);

// A tensor's dims, checked: none negative and their product representable. `where` starts each message.
std::vector<std::int64_t> checked_dims(const onnx::TensorProto& t, const std::string& where);

// The values of a float32 or float64 tensor in stored (row-major) order, exactly (float32 widens exactly),
// from float_data, double_data or raw_data. Refuses another type, a count that disagrees with the dims and a
// non-finite value, naming `where`.
std::vector<double> float_values(const onnx::TensorProto& t, const std::string& where);
// The values of an int64 or int32 tensor (Reshape's shape).
std::vector<std::int64_t> int_values(const onnx::TensorProto& t, const std::string& where);

// "FLOAT", "INT64", ...: TensorProto.DataType's name.
std::string data_type_name(int type);

// An ONNX constant of rank 0, 1 or 2 in symgrad's layout: () -> 1x1, (n) -> n x 1, (r, c) -> c x r when
// `transposed` (a batch-major operand, MatMul's (in, out) weight), r x c otherwise (Gemm's B with transB=1).
tensor symgrad_layout(const std::vector<double>& values, const std::vector<std::int64_t>& dims, bool transposed);

// The op types symcheck reads, comma separated, for the "not supported" message.
std::string supported_ops_list();
// What to do about an unsupported node type, when a usual cause is known (" (...)"); empty otherwise.
std::string unsupported_hint(const std::string& op_type);

// "node 'fc1' (Gemm)": the node's name, or its first output's name when it has none.
std::string node_label(const onnx::NodeProto& n);

// A node's attribute by name, or `fallback` when absent (ONNX's defaults). An attribute of another type (an
// INT alpha) is refused: its f() would silently read 0.
std::int64_t int_attribute(const std::string& source, const onnx::NodeProto& n, const std::string& name, std::int64_t fallback);
double float_attribute(const std::string& source, const onnx::NodeProto& n, const std::string& name, double fallback);

// The graph's data input: the one input that is not an initializer (parse_onnx checked there is one).
const onnx::ValueInfoProto& data_input(const onnx::GraphProto& g);

// The node whose output, through Identity/Flatten/Reshape/Cast, is the graph's output, when it is a head
// symcheck replaces by its own (Softmax, LogSoftmax, Sigmoid); null otherwise.
const onnx::NodeProto* head_node(const onnx::GraphProto& g);

// The number of samples a file's graph is checked with: its input's fixed batch size (up to 4096 and 2^24
// input values), since a batch-sized constant operand fits only that one, or 1.
std::size_t check_samples(const onnx::GraphProto& g);

// The feature count of every tensor of the graph built from model.parameters (ONNX name -> features), the
// writer's way to fix value_info shapes after the parameters changed.
std::map<std::string, std::size_t> tensor_features(const model_file& model);

}  // namespace symgrad::model_formats::onnx_detail
