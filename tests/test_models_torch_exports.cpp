// Models exported by PyTorch itself (tests/fixtures/models/make_torch_fixtures.py, torch 1.13): every file read,
// built and run against torch's float64 logits; unsupported layers refused in one line; symcheck end to end.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xview.hpp>

#include "engine/error.hpp"
#include "model_file_helpers.hpp"
#include "models/data.hpp"
#include "models/model_file.hpp"
#include "run_command.hpp"

using namespace symgrad;
using nlohmann::json;
using symgrad::testing::run_command;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

std::string torch_fixture(const std::string& name) {
    return std::string(SYMGRAD_SOURCE_DIR) + "/tests/fixtures/models/torch/" + name;
}

// The logits of the built network on X (inputs x samples).
tensor network_logits(const model_file& model, const tensor& X) {
    mlp net = build_network(model, X.shape()[1]);
    const std::size_t rows = std::as_const(net.g).value(net.W.back()).shape()[0];
    net.g.feed(net.X, X);
    net.g.feed(net.Y, tensor(xt::zeros<double>({rows, X.shape()[1]})));
    net.g.forward();
    return std::as_const(net.g).value(net.logits);
}

// max |got - want| over max |want|; infinity when the shapes differ.
double relative_error(const tensor& got, const tensor& want) {
    if (got.shape() != want.shape()) return INFINITY;
    double d = 0.0, s = 0.0;
    for (std::size_t k = 0; k < got.size(); ++k) {
        d = std::max(d, std::abs(got.flat(k) - want.flat(k)));
        s = std::max(s, std::abs(want.flat(k)));
    }
    return d / s;
}

std::string activation_of(const std::string& name) {
    std::ifstream in(torch_fixture(name + ".activation"));
    std::string a;
    in >> a;
    return a;
}

const std::vector<std::string> exports = {
    "seq_tanh_op9",          "seq_relu3_op11",           "fc_sigmoid_nobias_op13", "fc_tanh_softmax_op14",
    "fc_relu_logsoftmax_op13", "fc_tanh_sigmoid_out_op11", "nested_dropout_op13",  "nested_dropout_op9",
    "layers_leaky_op14",     "seq_leaky_f64_op13",       "seq_sigmoid_f64_op9",    "constant_deep_op13",
    "squeeze_op9",           "squeeze_last_op13",        "view_op11"};

std::string refusal(const std::string& file, const model_read_options& options = {}) {
    try {
        read_model(torch_fixture(file), options);
    } catch (const input_error& e) {
        return e.what();
    }
    return "(accepted)";
}

}  // namespace

TEST_CASE("ONNX files torch.onnx.export wrote give torch's logits", "[models][torch]") {
    for (const std::string& name : exports) {
        INFO(name);
        const tensor X = xt::transpose(load_npy(torch_fixture(name + ".x.npy")));
        const tensor want = xt::transpose(load_npy(torch_fixture(name + ".logits.npy")));
        model_file m = read_model(torch_fixture(name + ".onnx"));
        CHECK(relative_error(network_logits(m, X), want) <= 1e-12);
    }
}

TEST_CASE("state_dicts saved by np.savez and as safetensors give torch's logits", "[models][torch]") {
    for (const std::string& name : exports) {
        const std::string act = activation_of(name);
        if (act == "leaky_relu") continue;  // weight files take --activation, which has no leaky_relu
        const tensor X = xt::transpose(load_npy(torch_fixture(name + ".x.npy")));
        const tensor want = xt::transpose(load_npy(torch_fixture(name + ".logits.npy")));
        model_read_options options;
        options.hidden_activation = parse_activation(act);
        for (const char* ext : {".npz", ".safetensors"}) {
            INFO(name + ext);
            model_file m = read_model(torch_fixture(name + ext), options);
            CHECK(relative_error(network_logits(m, X), want) <= 1e-12);
        }
    }
}

TEST_CASE("PyTorch layers symcheck cannot analyse are refused in one line naming them", "[models][torch]") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"bad_batchnorm.onnx", "'/1/BatchNormalization' (BatchNormalization) is not supported"},
        {"bad_layernorm.onnx", "(ReduceMean) is not supported"},
        {"bad_gelu.onnx", "(Div) is not supported"},
        {"bad_conv1d.onnx", "input 'input': has 3 dimensions"},
        {"bad_embedding.onnx", "input 'input': type INT64"},
        {"bad_batchnorm.npz", "entry '1.weight' of shape (4,) is not a dense layer's weight"},
        {"bad_batchnorm.safetensors", "'1.num_batches_tracked' is not the weight or bias of a dense layer"},
        {"bad_layernorm.npz", "entry '1.weight' of shape (4,) is not a dense layer's weight"},
        {"bad_conv1d.npz", "entry '0.weight' of shape (2, 1, 3) is not a dense layer's weight"},
        {"bad_embedding.safetensors", "'2.weight' takes 8 inputs but the layer before, '0.weight', has 10 units"}};
    for (const auto& [file, names] : cases) {
        const std::string why = refusal(file);
        INFO(file << ": " << why);
        CHECK(why != "(accepted)");
        CHECK(why.find(names) != std::string::npos);
        CHECK(why.find(file) != std::string::npos);
        CHECK(std::count(why.begin(), why.end(), '\n') == 0);
    }
}

TEST_CASE("torch.onnx.export's Identity copies of equal parameters become parameters of their own", "[models][torch]") {
    // constant_deep_op13.onnx stores 0.bias once and copies it to 2.bias with an Identity node (was refused).
    model_file m = read_model(torch_fixture("constant_deep_op13.onnx"));
    REQUIRE(m.parameters.count("2.bias") == 1);
    CHECK(m.parameters.at("2.bias").shape()[0] == 4);
    const bool noted = std::any_of(m.notes.begin(), m.notes.end(),
                                   [](const std::string& n) { return n.find("Identity copies") != std::string::npos; });
    CHECK(noted);
    // Compressed by symcheck (both hidden layers one unit wide) and read back: still torch's logits.
    temp_dir dir("identity");
    auto r = run_command(SYMCHECK_EXE, "--model '" + torch_fixture("constant_deep_op13.onnx") + "' --quiet --compress '" +
                                           dir / "small.onnx" + "'");
    CHECK(r.status == 0);
    model_file small = read_model(dir / "small.onnx");
    CHECK(small.parameters.at("2.weight").size() == 1);  // (1 x 1): one unit feeds one unit
    const tensor X = xt::transpose(load_npy(torch_fixture("constant_deep_op13.x.npy")));
    const tensor want = xt::transpose(load_npy(torch_fixture("constant_deep_op13.logits.npy")));
    CHECK(relative_error(network_logits(small, X), want) <= 1e-12);
}

namespace {

const std::string exe = SYMCHECK_EXE;

// The fixture's constant 6 -> 4 tanh -> 1 (every weight 0.5, biases 0) as the test's own state.
truth::network_state constant_state() {
    truth::network_state s;
    s.layers.push_back({tensor(xt::ones<double>({4, 6}) * 0.5), tensor(xt::zeros<double>({4, 1}))});
    s.layers.push_back({tensor(xt::ones<double>({1, 4}) * 0.5), tensor(xt::zeros<double>({1, 1}))});
    return s;
}

}  // namespace

TEST_CASE("symcheck on PyTorch's constant-initialised exports: one class, symmetric, compressed alike in 3 formats",
          "[symcheck][model][torch]") {
    // The fate, from training in the test with the hand trainer: the four rows stay equal bit for bit.
    dataset d = titanic();
    truth::network_state later = truth::train(constant_state(), d.X, d.Y, {"gd", 0.1, 300}, truth::trainer_kind::hand);
    for (std::size_t i = 1; i < 4; ++i)
        for (std::size_t k = 0; k < 6; ++k) REQUIRE(later.layers[0].W(i, k) == later.layers[0].W(0, k));
    const model_file original = symgrad::testing::as_model_file(constant_state());
    for (const char* ext : {"onnx", "npz", "safetensors"}) {
        INFO(ext);
        temp_dir dir("torch");
        const std::string out = dir / (std::string("small.") + ext);
        auto r = run_command(exe, "--model '" + torch_fixture(std::string("constant.") + ext) +
                                      "' --data titanic --quiet --json '" + dir / "r.json" + "' --compress '" + out + "'");
        CHECK(r.err.empty());
        CHECK(r.status == 1);
        json j = json::parse(slurp(dir / "r.json"));
        CHECK(j["runs"][0]["verdict"] == "symmetric");
        CHECK(j["runs"][0]["layers"][0]["classes"] == json::parse("[[0, 1, 2, 3]]"));
        CHECK(j["compress"]["parameters_after"] == 9);
        model_file small = read_model(out);
        small.layers = {{"0.weight", "0.bias"}, {"2.weight", "2.bias"}};  // ONNX files carry no layer list
        small.hidden_activation = activation::tanh;
        CHECK(small.parameters.at("0.weight").shape()[0] == 1);
        CHECK(symgrad::testing::relative_difference(symgrad::testing::hand_logits(original, d.X),
                                                    symgrad::testing::hand_logits(small, d.X)) <= 1e-12);
    }
}

TEST_CASE("symcheck --model: bad uses of a PyTorch export exit 2 in one line and leave no file", "[symcheck][model][torch]") {
    temp_dir dir("misuse");
    std::filesystem::copy_file(torch_fixture("constant.npz"), dir / "m.npz");
    const std::string before = slurp(dir / "m.npz");
    auto one_line = [](const symgrad::testing::command_result& r, const std::string& says) {
        CHECK(r.status == 2);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(r.err.find(says) != std::string::npos);
    };
    // --compress onto the input itself used to replace the user's model with the compressed one.
    one_line(run_command(exe, "--model '" + dir / "m.npz" + "' --compress '" + dir.path.string() + "/./m.npz'"),
             "is the --model file itself");
    CHECK(slurp(dir / "m.npz") == before);
    // --layer-order on an ONNX file used to be ignored silently.
    one_line(run_command(exe, "--model '" + torch_fixture("constant.onnx") + "' --layer-order 2,0"),
             "--layer-order: applies to weight files");
    std::filesystem::create_directory(dir / "d.npz");
    one_line(run_command(exe, "--model '" + dir / "m.npz" + "' --compress '" + dir / "d.npz" + "'"), "is a directory");
    one_line(run_command(exe, "--model '" + dir / "m.npz" + "' --compress -"), "must end in .npz");
}

TEST_CASE("symcheck --model: a two-logit PyTorch classifier reads 0/1 labels", "[symcheck][model][torch]") {
    // nested_dropout_op13 has 5 inputs and 2 logits (CrossEntropyLoss style); these two-class labels were refused.
    temp_dir dir("twologits");
    {
        std::ofstream csv(dir / "two.csv");
        csv << "a,b,c,d,e,y\n";
        for (int i = 0; i < 12; ++i) csv << i % 5 << "," << i % 3 << ",1,0," << i % 2 << "," << (i % 4 < 2 ? 1 : 0) << "\n";
    }
    auto r = run_command(exe, "--model '" + torch_fixture("nested_dropout_op13.onnx") + "' --data '" + dir / "two.csv" +
                                  "' --quiet --json '" + dir / "r.json" + "'");
    CHECK(r.err.empty());
    CHECK(r.status == 0);
    json j = json::parse(slurp(dir / "r.json"));
    CHECK(j["model"]["outputs"] == 2);
    CHECK(j["runs"][0]["verdict"] == "healthy");
}
