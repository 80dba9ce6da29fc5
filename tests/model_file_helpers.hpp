// Test helpers for model files: a network_state as a model_file in memory, and a hand forward pass.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "ground_truth.hpp"
#include "models/model_file.hpp"

namespace symgrad::testing {

// The state as PyTorch's nn.Sequential(Linear, act, Linear, ...) would name it: "0.weight", "0.bias", "2.weight"...
inline model_file as_model_file(const truth::network_state& s, model_format format = model_format::npz,
                                const std::string& dtype = "float64") {
    model_file m;
    m.format = format;
    m.source = "in-memory model";
    m.hidden_activation = s.hidden;
    for (std::size_t l = 0; l < s.layers.size(); ++l) {
        std::string w = std::to_string(2 * l) + ".weight", b = std::to_string(2 * l) + ".bias";
        m.parameters[w] = s.layers[l].W;
        m.parameters[b] = s.layers[l].b;
        m.origins[w].dtype = m.origins[b].dtype = dtype;
        m.origins[b].one_dimensional = true;
        m.layers.emplace_back(w, b);
    }
    return m;
}

inline double hand_activation(activation a, double z) {
    if (a == activation::tanh) return std::tanh(z);
    if (a == activation::sigmoid) return 1.0 / (1.0 + std::exp(-z));
    return z > 0 ? z : 0.0;
}

// The logits of a weight-file model (layers in order) on X (inputs x samples), with plain loops.
inline tensor hand_logits(const model_file& m, const tensor& X) {
    tensor A = X;
    for (std::size_t l = 0; l < m.layers.size(); ++l) {
        const tensor& W = m.parameters.at(m.layers[l].first);
        const tensor& b = m.parameters.at(m.layers[l].second);
        tensor Z({W.shape()[0], A.shape()[1]});
        for (std::size_t i = 0; i < W.shape()[0]; ++i)
            for (std::size_t j = 0; j < A.shape()[1]; ++j) {
                double z = b(i, 0);
                for (std::size_t k = 0; k < W.shape()[1]; ++k) z += W(i, k) * A(k, j);
                Z(i, j) = l + 1 < m.layers.size() ? hand_activation(m.hidden_activation, z) : z;
            }
        A = Z;
    }
    return A;
}

// max |a - b| over max |a|: the relative difference of two outputs.
inline double relative_difference(const tensor& a, const tensor& b) {
    double d = 0.0, s = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        d = std::max(d, std::abs(a.flat(i) - b.flat(i)));
        s = std::max(s, std::abs(a.flat(i)));
    }
    return s > 0 ? d / s : d;
}

}  // namespace symgrad::testing
