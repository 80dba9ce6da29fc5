// What .npz and .safetensors share: PyTorch state_dict names, the order of the layers, and storing each
// parameter back the way it came (dtype, 1-D bias, Keras kernel transposed).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xmanipulation.hpp>

#include "engine/error.hpp"
#include "models/model_formats.hpp"

namespace symgrad::model_formats {

namespace {

enum class role { weight, bias, kernel, other };

struct parsed_name {
    std::string prefix;  // "fc1", "net.layers.10", "" for a bare Linear's "weight"
    role kind = role::other;
};

// "fc1.weight" -> ("fc1", weight); "dense/kernel:0" (Keras) -> ("dense", kernel); "weight" -> ("", weight).
parsed_name parse_name(const std::string& name) {
    std::size_t cut = name.find_last_of("./");
    std::string leaf = cut == std::string::npos ? name : name.substr(cut + 1);
    std::size_t colon = leaf.find(':');
    if (colon != std::string::npos && colon + 1 < leaf.size() &&
        leaf.find_first_not_of("0123456789", colon + 1) == std::string::npos)
        leaf.resize(colon);
    parsed_name p;
    p.prefix = cut == std::string::npos ? "" : name.substr(0, cut);
    p.kind = leaf == "weight" ? role::weight : leaf == "bias" ? role::bias : leaf == "kernel" ? role::kernel : role::other;
    return p;
}

const char* const dense_only = "symcheck reads dense (Linear) layers only";

std::string shown(const std::string& prefix) { return prefix.empty() ? "''" : prefix; }

std::string joined(const std::vector<std::string>& prefixes, const char* separator = ", ") {
    std::string s;
    for (const auto& p : prefixes) s += (s.empty() ? "" : separator) + shown(p);
    return s;
}

struct layer_entry {
    std::string prefix, weight, bias;
    std::size_t units = 0, fan_in = 0;
};

// A prefix's numbers as digit strings and its text with '#' for each number: "net.layers.10" ->
// ("net.layers.#", {"10"}). Numbers compare by value (length of the digits without leading zeros, then text).
std::pair<std::string, std::vector<std::string>> numbers_in(const std::string& prefix) {
    std::pair<std::string, std::vector<std::string>> r;
    for (std::size_t i = 0; i < prefix.size();) {
        if (!std::isdigit(static_cast<unsigned char>(prefix[i]))) {
            r.first += prefix[i++];
            continue;
        }
        std::size_t j = i;
        while (j < prefix.size() && std::isdigit(static_cast<unsigned char>(prefix[j]))) ++j;
        std::size_t nz = prefix.find_first_not_of('0', i);
        r.second.push_back(nz < j ? prefix.substr(nz, j - nz) : "0");
        r.first += '#';
        i = j;
    }
    return r;
}

bool number_less(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.size() != y.size() ? x.size() < y.size() : x < y;
    });
}

// The layers ordered by the numbers in their names, when every prefix has the same text around its numbers
// and no two have the same numbers; false otherwise.
bool order_by_names(std::vector<layer_entry>& layers) {
    std::vector<std::pair<std::vector<std::string>, std::size_t>> keys;
    std::string skeleton;
    for (std::size_t k = 0; k < layers.size(); ++k) {
        auto [text, numbers] = numbers_in(layers[k].prefix);
        if (k == 0) skeleton = text;
        if (text != skeleton || numbers.empty()) return false;
        keys.emplace_back(numbers, k);
    }
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return number_less(a.first, b.first); });
    for (std::size_t k = 1; k < keys.size(); ++k)
        if (!number_less(keys[k - 1].first, keys[k].first)) return false;  // "fc1" and "fc01"
    std::vector<layer_entry> sorted;
    for (const auto& key : keys) sorted.push_back(layers[key.second]);
    layers = sorted;
    return true;
}

// Every order in which each layer takes the previous one's units, up to two (more tell nothing new), by a
// depth-first search with a step budget so that many equal shapes cannot make it run for ever.
struct chain_search {
    const std::vector<layer_entry>& layers;
    std::vector<std::vector<std::size_t>> found;
    std::vector<std::size_t> path;
    std::vector<bool> used;
    std::size_t steps = 0;
    bool exhausted = false;

    void extend() {
        if (path.size() == layers.size()) {
            found.push_back(path);
            return;
        }
        for (std::size_t k = 0; k < layers.size() && found.size() < 2 && !exhausted; ++k) {
            if ((exhausted = ++steps > 1000000)) return;  // candidates looked at, not calls: bounds the time
            if (used[k] || (!path.empty() && layers[k].fan_in != layers[path.back()].units)) continue;
            used[k] = true;
            path.push_back(k);
            extend();
            path.pop_back();
            used[k] = false;
        }
    }
};

std::string shapes_of(const std::vector<layer_entry>& layers) {
    std::string s;
    for (const auto& l : layers)
        s += (s.empty() ? "" : ", ") + shown(l.prefix) + " " + std::to_string(l.fan_in) + "->" + std::to_string(l.units);
    return s;
}

std::vector<std::string> prefixes_of(const std::vector<layer_entry>& layers) {
    std::vector<std::string> p;
    for (const auto& l : layers) p.push_back(l.prefix);
    return p;
}

// Names alone do not order the layers: the one order their shapes chain in, or an input_error.
void order_by_shapes(const std::string& source, std::vector<layer_entry>& layers, std::vector<std::string>& notes) {
    chain_search search{layers, {}, {}, std::vector<bool>(layers.size(), false)};
    search.extend();
    const std::string what = "the names do not order the layers (" + shapes_of(layers) + ")";
    if (search.found.empty() && !search.exhausted)
        throw input_error(source + ": " + what + " and their shapes chain in no order (each layer's fan_in must equal " +
                          "the units of the layer before)");
    if (search.found.size() != 1 || search.exhausted) {
        std::vector<std::string> example = prefixes_of(layers);
        if (!search.found.empty()) {
            example.clear();
            for (std::size_t k : search.found.front()) example.push_back(layers[k].prefix);
        }
        throw input_error(source + ": " + what + (search.found.size() >= 2 ? " and their shapes chain in more than one order"
                                                                          : " and the search for the order their shapes "
                                                                            "chain in took too long") +
                          "; pass the order explicitly, e.g. --layer-order " + joined(example, ",") +
                          " (model_read_options::layer_order)");
    }
    std::vector<layer_entry> sorted;
    for (std::size_t k : search.found.front()) sorted.push_back(layers[k]);
    layers = sorted;
    notes.push_back("the names do not order the layers; ordered by their shapes, the only order in which they chain: " +
                    shapes_of(layers));
}

void order_explicitly(const std::string& source, std::vector<layer_entry>& layers, const std::vector<std::string>& order) {
    const std::string found = " (the file's layers: " + joined(prefixes_of(layers)) + ")";
    std::vector<layer_entry> sorted;
    std::set<std::string> named;
    for (const auto& p : order) {
        auto it = std::find_if(layers.begin(), layers.end(), [&](const layer_entry& l) { return l.prefix == p; });
        if (it == layers.end()) throw input_error(source + ": --layer-order names '" + p + "', which is not a layer" + found);
        if (!named.insert(p).second) throw input_error(source + ": --layer-order names '" + p + "' twice" + found);
        sorted.push_back(*it);
    }
    for (const auto& l : layers)
        if (!named.count(l.prefix))
            throw input_error(source + ": --layer-order leaves out layer " + shown(l.prefix) + "; it must name every layer" +
                              found);
    layers = sorted;
}

// Each layer must take the previous layer's units; reported here, where the order is known, with how it was made.
void check_chain(const std::string& source, const std::vector<layer_entry>& layers, const std::string& how) {
    for (std::size_t k = 1; k < layers.size(); ++k)
        if (layers[k].fan_in != layers[k - 1].units)
            throw input_error(source + ": '" + layers[k].weight + "' takes " + std::to_string(layers[k].fan_in) +
                              " inputs but the layer before, '" + layers[k - 1].weight + "', has " +
                              std::to_string(layers[k - 1].units) + " units (" + how +
                              "; weights are (out, in) as PyTorch's Linear)");
}

// Pairs weights and biases by prefix; a bias without a weight, or two weights for one prefix, is refused.
std::vector<layer_entry> layers_of(const model_file& m) {
    std::map<std::string, layer_entry> by_prefix;
    for (const auto& [name, value] : m.parameters) {
        parsed_name p = parse_name(name);
        layer_entry& l = by_prefix[p.prefix];
        l.prefix = p.prefix;
        std::string& slot = p.kind == role::bias ? l.bias : l.weight;
        if (!slot.empty())
            throw input_error(m.source + ": entries '" + slot + "' and '" + name + "' are both the " +
                              (p.kind == role::bias ? "bias" : "weight") + " of layer " + shown(p.prefix));
        slot = name;
        if (p.kind != role::bias) l.units = value.shape()[0], l.fan_in = value.shape()[1];
    }
    std::vector<layer_entry> layers;
    for (auto& [prefix, l] : by_prefix) {
        if (l.weight.empty())
            throw input_error(m.source + ": bias '" + l.bias + "' has no weight with the same prefix (" + shown(prefix) +
                              ".weight)");
        const tensor& b = m.parameters.at(l.bias.empty() ? l.weight : l.bias);
        if (!l.bias.empty() && b.shape()[0] != l.units)
            throw input_error(m.source + ": bias '" + l.bias + "' has " + std::to_string(b.shape()[0]) + " elements for " +
                              std::to_string(l.units) + " units of '" + l.weight + "'");
        layers.push_back(l);
    }
    return layers;
}

// One array in symgrad's layout with its origin; values must be finite.
void add_parameter(model_file& m, weight_array& a) {
    if (auto k = first_non_finite(a.values))
        throw input_error(m.source + ": entry '" + a.name + "' element " + std::to_string(*k) + " is " +
                          (std::isnan(a.values.data()[*k]) ? "NaN" : "infinite"));
    parameter_origin o;
    o.dtype = a.dtype;
    o.one_dimensional = a.shape.size() == 1;
    o.transposed = parse_name(a.name).kind == role::kernel;
    tensor value = o.transposed ? tensor(xt::transpose(a.values)) : std::move(a.values);
    if (!m.parameters.emplace(a.name, std::move(value)).second)
        throw input_error(m.source + ": entry '" + a.name + "' appears twice");
    m.origins[a.name] = o;
}

std::string names_with(const model_file& m, bool (*pick)(const parameter_origin&)) {
    std::vector<std::string> names;
    for (const auto& [name, o] : m.origins)
        if (pick(o)) names.push_back(name);
    return joined(names);
}

void add_notes(model_file& m) {
    std::size_t f32 = 0;
    for (const auto& [name, o] : m.origins) f32 += o.dtype == "float32";
    if (f32 != 0)
        m.notes.push_back(std::to_string(f32) + " float32 entries widened exactly to float64; a written model stores " +
                          "them as float32 again (rounded to nearest)");  // the words of the ONNX reader's note
    std::string kernels = names_with(m, [](const parameter_origin& o) { return o.transposed; });
    if (!kernels.empty()) m.notes.push_back("Keras kernels (in, out) read transposed, as units x fan_in: " + kernels);
    for (const auto& [w, b] : m.layers)
        if (b.empty()) m.notes.push_back("'" + w + "' has no bias; its layer is W A alone");
}

}  // namespace

void check_weight_entry(const std::string& source, const std::string& name, const std::vector<std::size_t>& shape) {
    const std::string entry = source + ": entry '" + name + "' of shape " + shape_text(shape);
    parsed_name p = parse_name(name);
    if (p.kind == role::other)
        throw input_error(source + ": entry '" + name + "' is not the weight or bias of a dense layer; " + dense_only);
    bool bias = p.kind == role::bias;
    if (bias ? !(shape.size() == 1 || (shape.size() == 2 && shape[1] == 1)) : shape.size() != 2)
        throw input_error(entry + " is not a dense layer's " + (bias ? "bias (1-D)" : "weight (2-D)") +
                          (!bias && shape.size() == 1 ? ", perhaps a normalization's scale" : "") +
                          (shape.size() > 2 ? ", perhaps a convolution's" : "") + "; " + dense_only);
    for (std::size_t d : shape)
        if (d == 0) throw input_error(entry + " is empty");
}

model_file assemble_weight_file(model_format format, const std::string& source, std::vector<weight_array> arrays,
                                const model_read_options& options) {
    model_file m;
    m.format = format;
    m.source = source;
    m.hidden_activation = options.hidden_activation;
    if (arrays.empty()) throw input_error(source + ": holds no arrays");
    for (auto& a : arrays) {
        check_weight_entry(source, a.name, a.shape);
        add_parameter(m, a);
    }
    std::vector<layer_entry> layers = layers_of(m);
    std::string how = "layers in the order given";
    if (!options.layer_order.empty()) {
        order_explicitly(source, layers, options.layer_order);
        m.notes.push_back(how + ": " + joined(prefixes_of(layers)));
    } else if (layers.size() == 1 || order_by_names(layers)) {
        how = "layers ordered by the numbers in their names";
        if (layers.size() > 1) m.notes.push_back(how + ": " + joined(prefixes_of(layers)));
    } else {
        order_by_shapes(source, layers, m.notes);
        how = "layers ordered by their shapes";
    }
    check_chain(source, layers, how);
    for (const auto& l : layers) m.layers.emplace_back(l.weight, l.bias);
    add_notes(m);
    return m;
}

std::vector<weight_array> arrays_to_write(const model_file& m) {
    std::vector<std::string> order;
    std::set<std::string> listed;
    for (const auto& [w, b] : m.layers)
        for (const std::string& name : {w, b})
            if (!name.empty() && listed.insert(name).second) order.push_back(name);
    for (const auto& [name, value] : m.parameters)
        if (listed.insert(name).second) order.push_back(name);
    std::vector<weight_array> arrays;
    for (const auto& name : order) {
        auto it = m.parameters.find(name);
        if (it == m.parameters.end()) throw input_error(m.source + ": layer entry '" + name + "' has no parameter");
        auto o = m.origins.count(name) ? m.origins.at(name) : parameter_origin{};
        const std::string what = m.source + ": parameter '" + name + "'";
        if (o.dtype != "float32" && o.dtype != "float64")
            throw input_error(what + " has dtype '" + o.dtype + "'; weight files store float32 or float64");
        if (first_non_finite(it->second)) throw input_error(what + " holds NaN or infinity; not written");
        weight_array a{name, {}, o.dtype, o.transposed ? tensor(xt::transpose(it->second)) : it->second};
        if (o.one_dimensional && a.values.shape()[1] != 1)
            throw input_error(what + " is " + to_string(shape_of(a.values)) + " but is stored 1-D (n x 1 expected)");
        a.shape = o.one_dimensional ? std::vector<std::size_t>{a.values.shape()[0]}
                                    : std::vector<std::size_t>{a.values.shape()[0], a.values.shape()[1]};
        arrays.push_back(std::move(a));
    }
    return arrays;
}

}  // namespace symgrad::model_formats
