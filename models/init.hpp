// Seeded, reproducible initialisers for parameters, and per-layer / per-tensor choice of them.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "engine/graph.hpp"

namespace symgrad {

// One way to fill a tensor. For a weight of shape (fan_out x fan_in) Glorot and He use those fans.
struct initializer {
    enum class method { zeros, constant, normal, uniform, glorot_uniform, glorot_normal, he_uniform, he_normal };
    method how = method::zeros;
    double a = 0.0;  // constant: value; normal: mean; uniform: low
    double b = 0.0;  // normal: std; uniform: high

    static initializer zeros() { return {method::zeros, 0, 0}; }
    static initializer constant(double c) { return {method::constant, c, 0}; }
    static initializer normal(double mean, double std) { return {method::normal, mean, std}; }
    static initializer uniform(double low, double high) { return {method::uniform, low, high}; }
    static initializer glorot_uniform() { return {method::glorot_uniform, 0, 0}; }
    static initializer glorot_normal() { return {method::glorot_normal, 0, 0}; }
    static initializer he_uniform() { return {method::he_uniform, 0, 0}; }
    static initializer he_normal() { return {method::he_normal, 0, 0}; }

    // Parses the command-line spelling: zeros, constant:C, normal:STD (mean 0), normal:MEAN:STD,
    // uniform:A (on [-A, A]), uniform:A:B, glorot, glorot_normal, he, he_uniform ... Throws input_error.
    static initializer parse(const std::string& spec);
    std::string to_string() const;  // round-trips through parse()

    // Fills t from a generator seeded with `seed`; the same seed gives the same numbers on every run.
    void fill(tensor& t, std::uint64_t seed) const;

    friend bool operator==(const initializer& x, const initializer& y) {
        return x.how == y.how && x.a == y.a && x.b == y.b;
    }
    friend bool operator!=(const initializer& x, const initializer& y) { return !(x == y); }
};

// The seed a parameter is filled from: FNV-1a of its name mixed with the run seed by SplitMix64, so each
// parameter's numbers depend only on (seed, name, shape), not on the other parameters.
std::uint64_t parameter_seed(std::uint64_t seed, const std::string& name);

// Natural log from IEEE +, -, *, / alone (a few ulp of std::log), so the normal initialisers give the same
// bits on every platform; std::log may differ in the last bit between C libraries.
double portable_log(double x);

// Which initialiser each parameter gets: `weights` for every W, `biases` for every b (zeros by
// default), and overrides by parameter name ("W1" -> zeros) that win over both.
struct init_plan {
    initializer weights = initializer::normal(0.0, 0.01);
    initializer biases = initializer::zeros();
    std::map<std::string, initializer> overrides;

    // Parses "SPEC" or "SPEC,W1=SPEC,b2=SPEC" (the symcheck --init syntax); "weights=SPEC" and
    // "biases=SPEC" set the two defaults. Throws input_error naming the text. docs/models.md has the rules.
    static init_plan parse(const std::string& text);
    std::string to_string() const;
    // Fills every parameter of g; a parameter's seed is derived from `seed` and its name, so adding a
    // layer does not change the numbers of the others. Weights are parameters whose name starts with 'W'.
    void apply(graph& g, std::uint64_t seed) const;
};

}  // namespace symgrad
