// The op kinds that code outside the op's own class matches on (the analysis finds hidden layers by them),
// as identifiers: each such op's kind() returns the constant, and the matcher compares against it. An op
// nobody else matches on names its kind once, as a literal in its class; it moves here when a matcher
// needs it.
#pragma once
#include <string_view>

namespace symgrad::op_kinds {

constexpr std::string_view matmul = "matmul";
constexpr std::string_view add = "add";
constexpr std::string_view tanh = "tanh";
constexpr std::string_view sigmoid = "sigmoid";
constexpr std::string_view relu = "relu";
constexpr std::string_view softmax = "softmax";
constexpr std::string_view softmax_cross_entropy = "softmax_cross_entropy";

}  // namespace symgrad::op_kinds
