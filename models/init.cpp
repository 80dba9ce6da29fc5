// Initialisers: a portable random stream (mt19937_64 plus our own uniform/normal maps), parsing, plans.
#include "models/init.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>
#include <vector>

#include "engine/error.hpp"
#include "engine/text.hpp"

namespace symgrad {

// --- portable random numbers -------------------------------------------------------------------------
// std::mt19937_64's output is fixed by the C++ standard; std::normal_distribution's is not (libstdc++,
// libc++ and MSVC differ), so the maps from 64-bit integers to doubles are ours and use only IEEE
// arithmetic (+, -, *, /, sqrt, exactly rounded everywhere) and the portable log below.

namespace {

double uniform01(std::mt19937_64& gen) {
    // The top 53 bits as k / 2^53: every value in [0, 1) on the 2^-53 grid, exactly.
    return double(gen() >> 11) * 0x1.0p-53;
}

}  // namespace

double portable_log(double x) {
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(t), t = (m - 1)/(m + 1), |t| < 0.172,
    // summed as a series to t^41 (the next term is below 1e-32 relative); log 2 split in two so e log 2
    // is exact in the high part. A few ulp from the true value; identical on every IEEE platform.
    if (!(x > 0.0) || !std::isfinite(x)) return x == 0.0 ? -HUGE_VAL : (x > 0.0 ? x : std::nan(""));
    int e = 0;
    double m = std::frexp(x, &e);  // exact: m in [0.5, 1)
    if (m < 0.70710678118654752440) {
        m *= 2.0;
        e -= 1;
    }
    double t = (m - 1.0) / (m + 1.0);
    double t2 = t * t;
    double series = 0.0;
    for (int k = 41; k >= 3; k -= 2) series = (series + 1.0 / k) * t2;
    double log_m = 2.0 * t + 2.0 * t * series;
    constexpr double ln2_hi = 0x1.62e42fee00000p-1;  // 6.93147180369123816490e-01, low bits zero
    constexpr double ln2_lo = 0x1.a39ef35793c76p-33;  // ln 2 - ln2_hi
    return double(e) * ln2_hi + (log_m + double(e) * ln2_lo);
}

namespace {

double standard_normal(std::mt19937_64& gen, double& spare, bool& has_spare) {
    // Marsaglia's polar form of Box-Muller: (u, v) uniform in the unit disc gives two independent N(0,1).
    if (has_spare) {
        has_spare = false;
        return spare;
    }
    double u, v, s;
    do {
        u = 2.0 * uniform01(gen) - 1.0;
        v = 2.0 * uniform01(gen) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = std::sqrt(-2.0 * portable_log(s) / s);
    spare = v * f;
    has_spare = true;
    return u * f;
}

}  // namespace

std::uint64_t parameter_seed(std::uint64_t seed, const std::string& name) {
    // FNV-1a of the name, then two rounds of SplitMix64's finaliser over seed and hash.
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : name) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    auto mix = [](std::uint64_t z) {
        z += 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    return mix(mix(seed) ^ h);
}

// --- initializer ---------------------------------------------------------------------------------------

namespace {

[[noreturn]] void bad_spec(const std::string& spec, const std::string& why) {
    throw input_error("init '" + spec + "': " + why);
}

const char* method_name(initializer::method m) {
    switch (m) {
        case initializer::method::zeros: return "zeros";
        case initializer::method::constant: return "constant";
        case initializer::method::normal: return "normal";
        case initializer::method::uniform: return "uniform";
        case initializer::method::glorot_uniform: return "glorot";
        case initializer::method::glorot_normal: return "glorot_normal";
        case initializer::method::he_uniform: return "he_uniform";
        case initializer::method::he_normal: return "he";
    }
    return "?";
}

double parse_number(const std::string& spec, const std::string& text) {
    if (text.empty()) bad_spec(spec, "missing number");
    const char* begin = text.c_str();
    char* end = nullptr;
    errno = 0;
    double x = std::strtod(begin, &end);
    if (end != begin + text.size() || errno == ERANGE || !std::isfinite(x))
        bad_spec(spec, "'" + text + "' is not a finite number");
    return x;
}

// The checks parse() and fill() share, so a hand-made initializer is held to the same rules.
void validate(const initializer& init, const std::string& spec) {
    using m = initializer::method;
    if (!std::isfinite(init.a) || !std::isfinite(init.b)) bad_spec(spec, "parameters must be finite numbers");
    if (init.how == m::normal && !(init.b > 0.0))
        bad_spec(spec, "the standard deviation must be positive, got " + shortest(init.b));
    if (init.how == m::uniform && !(init.a < init.b))
        bad_spec(spec, "the interval must have low < high, got [" + shortest(init.a) + ", " + shortest(init.b) + "]");
}

}  // namespace

initializer initializer::parse(const std::string& spec) {
    auto parts = split(spec, ':');
    const std::string& kind = parts[0];
    std::size_t args = parts.size() - 1;
    auto want = [&](std::size_t lo, std::size_t hi, const char* usage) {
        if (args < lo || args > hi) bad_spec(spec, std::string("expected ") + usage);
    };
    initializer out;
    if (kind == "zeros" || kind == "zero") {
        want(0, 0, "'zeros' without arguments");
        out = zeros();
    } else if (kind == "constant" || kind == "const") {
        want(1, 1, "constant:C");
        out = constant(parse_number(spec, parts[1]));
    } else if (kind == "normal") {
        want(1, 2, "normal:STD or normal:MEAN:STD");
        out = args == 1 ? normal(0.0, parse_number(spec, parts[1]))
                        : normal(parse_number(spec, parts[1]), parse_number(spec, parts[2]));
    } else if (kind == "uniform") {
        want(1, 2, "uniform:A (on [-A, A]) or uniform:LOW:HIGH");
        if (args == 1) {
            double a = parse_number(spec, parts[1]);
            out = uniform(-a, a);
        } else {
            out = uniform(parse_number(spec, parts[1]), parse_number(spec, parts[2]));
        }
    } else if (kind == "glorot" || kind == "glorot_uniform" || kind == "xavier" || kind == "xavier_uniform") {
        want(0, 0, "no arguments");
        out = glorot_uniform();
    } else if (kind == "glorot_normal" || kind == "xavier_normal") {
        want(0, 0, "no arguments");
        out = glorot_normal();
    } else if (kind == "he" || kind == "he_normal" || kind == "kaiming" || kind == "kaiming_normal") {
        want(0, 0, "no arguments");
        out = he_normal();
    } else if (kind == "he_uniform" || kind == "kaiming_uniform") {
        want(0, 0, "no arguments");
        out = he_uniform();
    } else {
        bad_spec(spec,
                 "unknown initialiser '" + kind +
                     "' (choices: zeros, constant:C, normal:STD, normal:MEAN:STD, uniform:A, uniform:LOW:HIGH, "
                     "glorot, glorot_normal, he, he_uniform)");
    }
    validate(out, spec);
    return out;
}

std::string initializer::to_string() const {
    switch (how) {
        case method::constant: return "constant:" + shortest(a);
        case method::normal: return a == 0.0 ? "normal:" + shortest(b) : "normal:" + shortest(a) + ":" + shortest(b);
        case method::uniform:
            return a == -b ? "uniform:" + shortest(b) : "uniform:" + shortest(a) + ":" + shortest(b);
        default: return method_name(how);
    }
}

void initializer::fill(tensor& t, std::uint64_t seed) const {
    validate(*this, to_string());
    double* p = t.data();
    std::size_t n = t.size();
    // Fans of a (fan_out x fan_in) weight; a bias (h x 1) has fan_in 1 and fan_out h.
    double fan_out = double(t.shape()[0]), fan_in = double(t.shape()[1]);
    std::mt19937_64 gen(seed);
    double spare = 0.0;
    bool has_spare = false;
    auto fill_uniform = [&](double low, double high) {
        for (std::size_t k = 0; k < n; ++k) p[k] = low + (high - low) * uniform01(gen);
    };
    auto fill_normal = [&](double mean, double std) {
        for (std::size_t k = 0; k < n; ++k) p[k] = mean + std * standard_normal(gen, spare, has_spare);
    };
    switch (how) {
        case method::zeros: t.fill(0.0); break;
        case method::constant: t.fill(a); break;
        case method::normal: fill_normal(a, b); break;
        case method::uniform: fill_uniform(a, b); break;
        case method::glorot_uniform: {
            double limit = std::sqrt(6.0 / (fan_in + fan_out));
            fill_uniform(-limit, limit);
            break;
        }
        case method::glorot_normal: fill_normal(0.0, std::sqrt(2.0 / (fan_in + fan_out))); break;
        case method::he_uniform: {
            double limit = std::sqrt(6.0 / fan_in);
            fill_uniform(-limit, limit);
            break;
        }
        case method::he_normal: fill_normal(0.0, std::sqrt(2.0 / fan_in)); break;
    }
}


// --- init_plan -----------------------------------------------------------------------------------------

namespace {

bool valid_name(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
    return true;
}

}  // namespace

init_plan init_plan::parse(const std::string& text) {
    init_plan plan;
    bool weights_set = false, biases_set = false;
    auto fail = [&](const std::string& why) -> void { throw input_error("init '" + text + "': " + why); };
    if (text.empty()) fail("empty specification");
    for (const auto& item : split(text, ',')) {
        if (item.empty()) fail("empty item between commas");
        auto eq = item.find('=');
        if (eq == std::string::npos || item.compare(0, eq, "weights") == 0) {
            if (weights_set) fail("the weights' initialiser is given twice");
            plan.weights = initializer::parse(eq == std::string::npos ? item : item.substr(eq + 1));
            weights_set = true;
            continue;
        }
        std::string name = item.substr(0, eq);
        if (!valid_name(name)) fail("'" + name + "' is not a parameter name");
        initializer init = initializer::parse(item.substr(eq + 1));
        if (name == "biases") {
            if (biases_set) fail("the biases' initialiser is given twice");
            plan.biases = init;
            biases_set = true;
        } else if (!plan.overrides.emplace(name, init).second) {
            fail("'" + name + "' is given twice");
        }
    }
    return plan;
}

std::string init_plan::to_string() const {
    std::string out = weights.to_string();
    if (!(biases == initializer::zeros())) out += ",biases=" + biases.to_string();
    for (const auto& [name, init] : overrides) out += "," + name + "=" + init.to_string();
    return out;
}

void init_plan::apply(graph& g, std::uint64_t seed) const {
    auto params = g.parameters();
    std::set<std::string> names;
    for (auto p : params) names.insert(p.name());
    for (const auto& [name, init] : overrides) {
        if (names.count(name)) continue;
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        throw input_error("init: no parameter named '" + name + "' (the model has " + known + ")");
    }
    for (auto p : params) {
        const std::string& name = p.name();
        auto it = overrides.find(name);
        const initializer& init = it != overrides.end() ? it->second : (name[0] == 'W' ? weights : biases);
        init.fill(g.value(p), parameter_seed(seed, name));
    }
}

}  // namespace symgrad
