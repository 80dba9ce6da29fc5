// ONNX model files: every supported node against numpy's logits (tests/fixtures/models/make_onnx_fixtures.py),
// the layout translation, names, writing back (checked by python3-onnx) and every refused file's one line.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xview.hpp>

#include "analysis/hidden_layers.hpp"
#include "engine/error.hpp"
#include "models/data.hpp"
#include "models/model_file.hpp"
#include "models/model_formats.hpp"
#include "run_command.hpp"

using namespace symgrad;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

std::string fixture(const std::string& name) {
    return std::string(SYMGRAD_SOURCE_DIR) + "/tests/fixtures/models/onnx/" + name;
}

// The network's logits (no head) on X, features x samples. Reused buffers are poisoned (as in debug builds),
// so a Constant's fed value or a pass-through that lost its buffer would show as NaN.
tensor logits_of(const model_file& model, const tensor& X) {
    mlp net = model_formats::build_onnx_logits(model, X.shape()[1]);
    net.g.set_poison_reused_buffers(true);
    net.g.feed(net.X, X);
    net.g.forward();
    return std::as_const(net.g).value(net.logits);
}

// max |got - want| / max(1, |want|) over the elements; infinity when the shapes differ.
double relative_error(const tensor& got, const tensor& want) {
    if (shape_of(got) != shape_of(want)) return INFINITY;
    double worst = 0.0;
    for (std::size_t k = 0; k < got.size(); ++k)
        worst = std::max(worst, std::abs(got.data()[k] - want.data()[k]) / std::max(1.0, std::abs(want.data()[k])));
    return worst;
}

bool same(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

std::string refusal(const std::string& file) {
    try {
        read_model(fixture(file));
    } catch (const input_error& e) {
        return e.what();
    } catch (const error& e) {
        return std::string("(not an input_error) ") + e.what();
    }
    return "(no error)";
}

std::vector<std::string> parameter_names(const graph& g) {
    std::vector<std::string> names;
    for (node p : g.parameters()) names.push_back(p.name());
    return names;
}

std::vector<std::string> names_of(const std::vector<node>& nodes) {
    std::vector<std::string> names;
    for (node n : nodes) names.push_back(n.name());
    return names;
}

// Runs a Python script with Debian's python3-onnx and numpy (install-deps.sh): their absence fails the test.
int run_python(const temp_dir& dir, const std::string& script) {
    REQUIRE(std::system("/usr/bin/python3 -c 'import onnx, numpy' >/dev/null 2>&1") == 0);
    const std::string path = dir / "check.py";
    write_file_atomically(path, [&](std::ostream& out) { out << script; });
    return std::system(("/usr/bin/python3 '" + path + "'").c_str());
}

const std::vector<std::string> good_models = {
    "torch_gemm_f32",       "gemm_attributes_f64", "gemm_without_c_f32",         "keras_matmul_add_f32",
    "leaky_logsoftmax_f64", "passthrough_f32",     "arithmetic_f32",             "batch_matrix_f64",
    "initializers_as_inputs_f32", "external_f32"};

}  // namespace

TEST_CASE("every supported node computes the logits numpy computes from the stored weights", "[models][onnx]") {
    for (const auto& name : good_models) {
        INFO(name);
        model_file model = read_model(fixture(name + ".onnx"));
        CHECK(model.format == model_format::onnx);
        const tensor X = load_npy(fixture(name + ".x.npy"));
        CHECK(relative_error(logits_of(model, X), load_npy(fixture(name + ".logits.npy"))) <= 1e-12);
    }
}

TEST_CASE("a Gemm weight with transB=1 is W as stored, a MatMul kernel (in, out) is held transposed",
          "[models][onnx]") {
    model_file torch = read_model(fixture("torch_gemm_f32.onnx"));
    REQUIRE(torch.parameters.size() == 4);
    CHECK(shape_of(torch.parameters.at("0.weight")) == shape2{4, 3});
    CHECK_FALSE(torch.origins.at("0.weight").transposed);
    CHECK(torch.origins.at("0.weight").dtype == "float32");
    CHECK(shape_of(torch.parameters.at("0.bias")) == shape2{4, 1});
    CHECK(torch.origins.at("0.bias").one_dimensional);

    model_file keras = read_model(fixture("keras_matmul_add_f32.onnx"));
    CHECK(shape_of(keras.parameters.at("dense/kernel:0")) == shape2{5, 3});  // stored (3, 5)
    CHECK(keras.origins.at("dense/kernel:0").transposed);
    model_file gemm = read_model(fixture("gemm_attributes_f64.onnx"));
    CHECK(shape_of(gemm.parameters.at("B1")) == shape2{4, 3});  // transB=0: stored (3, 4)
    CHECK(gemm.origins.at("B1").transposed);
    CHECK(gemm.origins.at("B1").dtype == "float64");
    CHECK(shape_of(gemm.parameters.at("C1")) == shape2{4, 1});  // stored (1, 4)
    CHECK(gemm.origins.at("C1").transposed);
    CHECK_FALSE(gemm.origins.at("C1").one_dimensional);
}

TEST_CASE("graph nodes carry the file's names: initializers for parameters, node outputs for ops", "[models][onnx]") {
    model_file keras = read_model(fixture("keras_matmul_add_f32.onnx"));
    mlp net = model_formats::build_onnx_logits(keras, 4);
    auto params = parameter_names(net.g);
    std::sort(params.begin(), params.end());
    CHECK(params == std::vector<std::string>{"dense/bias:0", "dense/kernel:0", "dense_1/bias:0", "dense_1/kernel:0"});
    CHECK(net.g.contains("dense/Relu:0"));
    CHECK(net.logits.name() == "dense_1/BiasAdd:0");  // the Softmax is stripped
    CHECK(net.X.name() == "x");
    CHECK(net.X.shape() == shape2{3, 4});
}

TEST_CASE("torch and Keras chains fill W and b and are the hidden layers symcheck finds", "[models][onnx]") {
    for (auto [file, W, b, activation] :
         {std::tuple<std::string, std::vector<std::string>, std::vector<std::string>, std::string>{
              "torch_gemm_f32", {"0.weight", "2.weight"}, {"0.bias", "2.bias"}, "/1/Tanh_output_0"},
          {"keras_matmul_add_f32", {"dense/kernel:0", "dense_1/kernel:0"}, {"dense/bias:0", "dense_1/bias:0"}, "dense/Relu:0"},
          {"initializers_as_inputs_f32", {"fc1.weight", "fc2.weight"}, {"fc1.bias", "fc2.bias"}, "8"}}) {
        INFO(file);
        mlp net = model_formats::build_onnx_logits(read_model(fixture(file + ".onnx")), 3);
        CHECK(names_of(net.W) == W);
        CHECK(names_of(net.b) == b);
        auto layers = find_hidden_layers(net.g);
        REQUIRE(layers.size() == 1);
        CHECK(layers[0].activation.name() == activation);
        CHECK(layers[0].weights_in.name() == W[0]);
        CHECK(layers[0].bias.name() == b[0]);
        REQUIRE(layers[0].weights_out.size() == 1);
        CHECK(layers[0].weights_out[0].name() == W[1]);
    }
}

TEST_CASE("a Gemm with alpha or beta other than 1 scales, and is then no plain chain", "[models][onnx]") {
    mlp net = model_formats::build_onnx_logits(read_model(fixture("gemm_attributes_f64.onnx")), 2);
    CHECK(net.g.kind_name(net.g.find("z1/alpha")) == "scale");
    CHECK(net.g.kind_name(net.g.find("z1/beta")) == "scale");
    CHECK(net.W.empty());
    CHECK(net.b.empty());
}

TEST_CASE("Constant nodes are fixed inputs, initializers are parameters", "[models][onnx]") {
    model_file model = read_model(fixture("arithmetic_f32.onnx"));
    mlp net = model_formats::build_onnx_logits(model, 2);
    auto params = parameter_names(net.g);
    std::sort(params.begin(), params.end());
    CHECK(params == std::vector<std::string>{"K1", "K2", "b1", "b2", "mean", "one"});
    CHECK(net.g.find("scale_k").kind() == node_kind::input);
    CHECK(net.g.find("half").kind() == node_kind::input);
    CHECK(model.parameters.count("scale_k") == 0);
}

TEST_CASE("Constant values stay fed when X is fed another number of samples", "[models][onnx]") {
    model_file model = read_model(fixture("arithmetic_f32.onnx"));
    mlp net = model_formats::build_onnx_logits(model, 2);
    net.g.set_poison_reused_buffers(true);
    const tensor X = load_npy(fixture("arithmetic_f32.x.npy"));
    net.g.feed(net.X, tensor(xt::view(X, xt::all(), xt::range(0, 2))));
    net.g.forward();
    net.g.feed(net.X, X);  // a new shape: the graph re-plans
    net.g.forward();
    CHECK(relative_error(std::as_const(net.g).value(net.logits), load_npy(fixture("arithmetic_f32.logits.npy"))) <= 1e-12);
}

TEST_CASE("build_onnx_network replaces a final Sigmoid by symcheck's head on one output", "[models][onnx]") {
    model_file model = read_model(fixture("gemm_without_c_f32.onnx"));
    mlp net = build_network(model, 5);
    CHECK(net.logits.name() == "z2");
    REQUIRE(net.loss.valid());
    CHECK(shape_of(net.Y.value()) == shape2{1, 5});
    const tensor X = load_npy(fixture("gemm_without_c_f32.x.npy"));
    tensor Y = xt::zeros<double>({std::size_t(1), std::size_t(5)});
    evaluation e = evaluate(net, X, Y);
    const tensor want = load_npy(fixture("gemm_without_c_f32.logits.npy"));
    double cost = 0.0;  // bce with labels 0: mean of log(1 + exp(z))
    for (double z : want) cost += std::log1p(std::exp(z)) / 5.0;
    CHECK(e.cost == Approx(cost).epsilon(1e-12));
}

TEST_CASE("multi-output networks are built up to their logits", "[models][onnx]") {
    mlp net = model_formats::build_onnx_logits(read_model(fixture("leaky_logsoftmax_f64.onnx")), 7);
    CHECK(net.logits.shape() == shape2{3, 7});
    CHECK(net.logits.name() == "z2");
}

TEST_CASE("a 3-class network gets softmax cross-entropy on the file's logits", "[models][onnx]") {
    mlp net = build_network(read_model(fixture("keras_matmul_add_f32.onnx")), 5);
    const tensor X = load_npy(fixture("keras_matmul_add_f32.x.npy"));
    const tensor Z = load_npy(fixture("keras_matmul_add_f32.logits.npy"));
    tensor Y = xt::zeros<double>({std::size_t(3), std::size_t(5)});
    const std::size_t label[5] = {0, 2, 1, 1, 0};
    double cost = 0.0;  // mean over samples of log(sum_k exp(z_k)) - z_label
    for (std::size_t j = 0; j < 5; ++j) {
        Y(label[j], j) = 1.0;
        cost += (std::log(std::exp(Z(0, j)) + std::exp(Z(1, j)) + std::exp(Z(2, j))) - Z(label[j], j)) / 5.0;
    }
    evaluation e = evaluate(net, X, Y);
    CHECK(e.cost == Approx(cost).epsilon(1e-12));
}

TEST_CASE("notes say float32 widened, the head left out and a fixed batch size", "[models][onnx]") {
    model_file model = read_model(fixture("batch_matrix_f64.onnx"));
    REQUIRE(model.notes.size() == 1);
    CHECK(model.notes[0] == "the input's batch size is fixed at 5 in the file; symcheck feeds any number of samples");
    CHECK(read_model(fixture("keras_matmul_add_f32.onnx")).notes.back() ==
          "the file's final node 'dense_1/Softmax' (Softmax) is left out: symcheck puts its own head on "
          "'dense_1/BiasAdd:0'");
    CHECK(read_model(fixture("torch_gemm_f32.onnx")).notes ==
          std::vector<std::string>{"4 float32 initializers widened exactly to float64; a written model stores them as "
                                   "float32 again (rounded to nearest)"});
}

TEST_CASE("a batch-sized constant fits only its batch", "[models][onnx]") {
    model_file model = read_model(fixture("batch_matrix_f64.onnx"));
    CHECK_THROWS_WITH(model_formats::build_onnx_logits(model, 4),
                      fixture("batch_matrix_f64.onnx") + ": node 'z1' (Add): cannot broadcast 'g1' (batch, 4) with 'M' (5, 4) over a batch of 4");
}

TEST_CASE("a written model reads back with the same parameters, origins and logits", "[models][onnx]") {
    for (const auto& name : good_models) {
        INFO(name);
        model_file model = read_model(fixture(name + ".onnx"));
        // From bytes alone, in a directory that does not exist: the written model holds its external data.
        model_file back = parse_model(model_bytes(model), model_format::onnx, "/nonexistent-symgrad/back.onnx");
        REQUIRE(back.parameters.size() == model.parameters.size());
        for (const auto& [p, value] : model.parameters) {
            INFO(p);
            CHECK(same(back.parameters.at(p), value));
            CHECK(back.origins.at(p).dtype == model.origins.at(p).dtype);
            CHECK(back.origins.at(p).transposed == model.origins.at(p).transposed);
            CHECK(back.origins.at(p).one_dimensional == model.origins.at(p).one_dimensional);
        }
        const tensor X = load_npy(fixture(name + ".x.npy"));
        CHECK(same(logits_of(back, X), logits_of(model, X)));
    }
}

namespace {

// Drops hidden unit `unit` of a one-hidden-layer model: row of W_in and b, column of W_out (symgrad layout).
void drop_unit(model_file& model, const std::string& w_in, const std::string& b, const std::string& w_out, std::size_t unit) {
    auto without_row = [&](const tensor& t) {
        tensor r = tensor::from_shape({t.shape()[0] - 1, t.shape()[1]});
        for (std::size_t i = 0, k = 0; i < t.shape()[0]; ++i)
            if (i != unit) xt::view(r, k++, xt::all()) = xt::view(t, i, xt::all());
        return r;
    };
    model.parameters[w_in] = without_row(model.parameters.at(w_in));
    model.parameters[b] = without_row(model.parameters.at(b));
    tensor t = xt::transpose(model.parameters.at(w_out));
    model.parameters[w_out] = xt::transpose(without_row(t));
}

}  // namespace

TEST_CASE("python3-onnx's checker accepts written models with fewer hidden units, stored as exported",
          "[models][onnx][python]") {
    temp_dir dir("onnx-write");
    model_file torch = read_model(fixture("torch_gemm_f32.onnx"));
    drop_unit(torch, "0.weight", "0.bias", "2.weight", 1);
    write_model(torch, dir / "torch.onnx");
    model_file keras = read_model(fixture("keras_matmul_add_f32.onnx"));
    drop_unit(keras, "dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", 2);
    write_model(keras, dir / "keras.onnx");
    model_file f64 = read_model(fixture("leaky_logsoftmax_f64.onnx"));
    drop_unit(f64, "K1", "b1", "W2", 0);
    write_model(f64, dir / "f64.onnx");
    // numpy deletes the same unit from the arrays as stored; the written ones must equal them exactly.
    const std::string script =
        "import numpy as np, onnx, sys\n"
        "from onnx import numpy_helper as nh\n"
        "def arrays(path):\n"
        "    m = onnx.load(path)\n"
        "    onnx.checker.check_model(m, full_check=True)  # with shape inference: value_info must agree\n"
        "    return m, {t.name: nh.to_array(t) for t in m.graph.initializer}\n"
        "def same(a, b):\n"
        "    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)\n"
        "_, t0 = arrays('" + fixture("torch_gemm_f32.onnx") + "')\n"
        "_, t = arrays('" + dir / "torch.onnx" + "')\n"
        "ok = same(t['0.weight'], np.delete(t0['0.weight'], 1, 0)) and same(t['0.bias'], np.delete(t0['0.bias'], 1))\n"
        "ok = ok and same(t['2.weight'], np.delete(t0['2.weight'], 1, 1)) and same(t['2.bias'], t0['2.bias'])\n"
        "_, k0 = arrays('" + fixture("keras_matmul_add_f32.onnx") + "')\n"
        "m, k = arrays('" + dir / "keras.onnx" + "')\n"
        "ok = ok and same(k['dense/kernel:0'], np.delete(k0['dense/kernel:0'], 2, 1))\n"
        "ok = ok and same(k['dense_1/kernel:0'], np.delete(k0['dense_1/kernel:0'], 2, 0))\n"
        "relu = [v for v in m.graph.value_info if v.name == 'dense/Relu:0'][0]\n"
        "ok = ok and relu.type.tensor_type.shape.dim[1].dim_value == 4\n"
        "ok = ok and m.graph.node[-1].op_type == 'Softmax'\n"
        "_, f0 = arrays('" + fixture("leaky_logsoftmax_f64.onnx") + "')\n"
        "_, f = arrays('" + dir / "f64.onnx" + "')\n"
        "ok = ok and same(f['K1'], np.delete(f0['K1'], 0, 1)) and same(f['W2'], np.delete(f0['W2'], 0, 1))\n"
        "sys.exit(0 if ok else 1)\n";
    CHECK(run_python(dir, script) == 0);
    // And symgrad reads them back as the smaller networks.
    CHECK(shape_of(read_model(dir / "keras.onnx").parameters.at("dense/kernel:0")) == shape2{4, 3});
    CHECK(model_formats::build_onnx_logits(read_model(dir / "torch.onnx"), 2).W[0].shape() == shape2{3, 3});
}

TEST_CASE("parameters a caller made inconsistent are refused naming the node and both shapes", "[models][onnx]") {
    model_file model = read_model(fixture("torch_gemm_f32.onnx"));
    model.parameters["0.weight"] = xt::zeros<double>({std::size_t(3), std::size_t(3)});  // 3 units, 4-unit bias
    const std::string want = fixture("torch_gemm_f32.onnx") +
                             ": node '/0/Gemm' (Gemm): cannot broadcast 'x·0.weight' (batch, 3) with '0.bias' (4)";
    CHECK_THROWS_WITH(model_formats::build_onnx_logits(model, 2), want);
    CHECK_THROWS_WITH(model_bytes(model), want);
}

TEST_CASE("every bad ONNX file is refused with one line naming the place", "[models][onnx]") {
    const std::string supported = "; symcheck reads: Gemm, MatMul, Add, Sub, Mul, Tanh, Sigmoid, Relu, LeakyRelu, "
                                  "Softmax and LogSoftmax (at the end), Flatten, Identity, Reshape, Cast, Constant, Squeeze (of a single output, at the end)";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"bad_not_protobuf.onnx", ": not an ONNX model (protobuf cannot parse it: truncated, or another format)"},
        {"bad_truncated.onnx", ": not an ONNX model (protobuf cannot parse it: truncated, or another format)"},
        {"bad_conv.onnx", ": node 'conv1' (Conv) is not supported" + supported},
        {"bad_softmax_middle.onnx", ": node 'middle_softmax' (Softmax): is not the last node; symcheck reads Softmax "
                                    "and LogSoftmax only where they produce the output"},
        {"bad_missing_initializer.onnx", ": node 'fc1' (MatMul): input 'W_missing' is neither an initializer nor the "
                                         "output of an earlier node"},
        {"bad_wrong_shapes.onnx", ": node 'fc2' (MatMul): cannot multiply 'h' (batch, 4) by 'K2' (5, 2)"},
        {"bad_int64_initializer.onnx", ": initializer 'b_int': data type INT64; symcheck reads FLOAT (float32) and "
                                       "DOUBLE (float64) tensors"},
        {"bad_input_3d.onnx", ": input 'x': has 3 dimensions (batch, 3, 7); symcheck reads a 2-D input (batch, features)"},
        {"bad_two_inputs.onnx", ": the graph has 2 inputs (x, mask); symcheck reads a network with one input (batch, features)"},
        {"bad_no_params.onnx", ": the graph has 3 inputs (x, W2, W1); symcheck reads a network with one input (batch, "
                               "features) (the file holds no weights: export with export_params=True, torch's default)"},
        {"bad_dropout.onnx", ": node 'drop1' (Dropout) is not supported" + supported +
                             " (a Dropout node means the model was exported in training mode: call model.eval() before "
                             "torch.onnx.export, or export with training=torch.onnx.TrainingMode.EVAL)"},
        {"bad_two_outputs.onnx", ": the graph has 2 outputs; symcheck reads a network with one output"},
        {"bad_gemm_transA.onnx", ": node 'a' (Gemm): transA=1 multiplies across the batch; symcheck reads Gemm with "
                                 "transA=0 on a (batch, features) input"},
        {"bad_cast_int.onnx", ": node 'to_int' (Cast): casts to INT32; symcheck reads Cast to FLOAT or DOUBLE"},
        {"bad_flatten_axis0.onnx", ": node 'flat0' (Flatten): axis=0 changes a (batch, features) tensor; symcheck "
                                   "reads Flatten with axis 1"},
        {"bad_sigmoid_multilabel.onnx", ": node 'multi_label' (Sigmoid): ends the graph on 4 outputs (multi-label); "
                                        "symcheck reads a final Sigmoid on one output, Softmax on several"},
        {"bad_reshape.onnx", ": node 'regroup' (Reshape): shape (-1, 4) changes (batch, 3); symcheck reads Reshape "
                             "only where it leaves a 2-D batch unchanged"},
        {"bad_matmul_two_tensors.onnx", ": node 'square' (MatMul): multiplies two computed tensors; symcheck reads "
                                        "products by a weight (an initializer)"},
        {"bad_weight_3d.onnx", ": initializer 'W3d': has 3 dimensions (4, 3, 1); symcheck reads weights and biases of at most 2"},
        {"bad_float16.onnx", ": initializer 'W16': data type FLOAT16; symcheck reads FLOAT (float32) and DOUBLE "
                             "(float64) tensors"},
        {"bad_nan_initializer.onnx", ": initializer 'Wnan': element 5 is not finite"},
        {"bad_shared_layouts.onnx", ": initializer 'S' is used transposed by node 'by_matmul' (MatMul) and as stored by "
                                    "node 'by_gemm' (Gemm); symgrad holds one layout per parameter"},
        {"bad_softmax_one_output.onnx", ": node 'one_class' (Softmax): on a single output is always 1; symcheck reads "
                                        "Softmax on 2 or more outputs"},
        {"bad_int_alpha.onnx", ": node 'int_alpha' (Gemm): attribute 'alpha' is INT, not FLOAT"},
        {"bad_external_outside.onnx", ": initializer 'W1' (external data): location '../outside.weights' is not a "
                                      "file inside the model's directory"},
        {"bad_external_past_end.onnx", ": initializer 'W1' (external data): offset 16 + length 48 is past the end of "
                                       "'bad_external.weights' (48 bytes)"},
    };
    for (const auto& [file, message] : cases) {
        INFO(file);
        const std::string got = refusal(file);
        CHECK(got == fixture(file) + message);
        CHECK(got.find('\n') == std::string::npos);
    }
    const std::string missing = refusal("bad_external_missing.onnx");
    CHECK(missing.find("no_such_file.weights") != std::string::npos);
    CHECK(missing.find("cannot open") != std::string::npos);
}

TEST_CASE("an ONNX file that is not a model or has no graph is refused, from bytes too", "[models][onnx]") {
    CHECK_THROWS_WITH(parse_model("", model_format::onnx, "empty.onnx"),
                      "empty.onnx: not an ONNX model (it holds no graph with nodes)");
    const std::string good = slurp(fixture("torch_gemm_f32.onnx"));
    for (std::size_t cut = 0; cut < good.size(); cut += 7) {
        INFO(cut);
        try {
            parse_model(good.substr(0, cut), model_format::onnx, "cut.onnx");
            FAIL("a truncated model was read");
        } catch (const input_error& e) {
            CHECK(std::string(e.what()).rfind("cut.onnx: ", 0) == 0);
        }
    }
}

TEST_CASE("every ONNX file in the fuzz corpus reads and writes back or is refused cleanly", "[models][onnx][fuzz]") {
    std::size_t read = 0, files = 0;
    for (const auto& e : std::filesystem::directory_iterator(std::string(SYMGRAD_SOURCE_DIR) + "/fuzz/corpus/onnx")) {
        INFO(e.path());
        ++files;
        const std::string bytes = slurp(e.path());
        try {
            model_file m = parse_model(bytes, model_format::onnx, "/nonexistent-symgrad/fuzz.onnx");
            model_file back = parse_model(model_bytes(m), model_format::onnx, "/nonexistent-symgrad/back.onnx");
            CHECK(back.parameters.size() == m.parameters.size());
            ++read;
        } catch (const error&) {
        }
    }
    CHECK(files >= 10);
    CHECK(read >= 5);
}
