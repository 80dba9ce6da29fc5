// The op kinds as identifiers: what each op's kind() returns, and what the analysis matches on.
#pragma once
#include <string_view>

namespace symgrad::op_kinds {

constexpr std::string_view matmul = "matmul";
constexpr std::string_view add = "add";
constexpr std::string_view sub = "sub";
constexpr std::string_view mul = "mul";
constexpr std::string_view neg = "neg";
constexpr std::string_view scale = "scale";
constexpr std::string_view tanh = "tanh";
constexpr std::string_view sigmoid = "sigmoid";
constexpr std::string_view relu = "relu";
constexpr std::string_view leaky_relu = "leaky_relu";
constexpr std::string_view exp = "exp";
constexpr std::string_view log = "log";
constexpr std::string_view sum = "sum";
constexpr std::string_view mean = "mean";
constexpr std::string_view transpose = "transpose";
constexpr std::string_view bce = "bce";
constexpr std::string_view bce_with_logits = "bce_with_logits";

}  // namespace symgrad::op_kinds
