// symcheck --model end to end: the user's file analysed with and without data, --compress and its refusals.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "model_file_helpers.hpp"
#include "models/data.hpp"
#include "run_command.hpp"

using nlohmann::json;
using symgrad::testing::as_model_file;
using symgrad::testing::hand_logits;
using symgrad::testing::relative_difference;
using symgrad::testing::run_command;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

const std::string exe = SYMCHECK_EXE;

void check_one_line_refusal(const std::string& args, const std::string& says) {
    INFO(args);
    auto r = run_command(exe, args);
    CHECK(r.status == 2);
    CHECK(r.err.rfind("symcheck: error: ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find(says) != std::string::npos);
    CHECK(r.out.empty());
}

}  // namespace

TEST_CASE("symcheck --model refuses flags that contradict the file's state with one line", "[symcheck][model]") {
    check_one_line_refusal("--model m.npz --init zeros", "--init and --model exclude each other");
    check_one_line_refusal("--model m.npz --load dir", "--load and --model exclude each other");
    check_one_line_refusal("--model m.npz --hidden 3", "--hidden and --model exclude each other");
    check_one_line_refusal("--model m.npz --iterations 5", "needs --data");
    check_one_line_refusal("--model m.npz --trace t.csv", "--trace with --model needs --data");
    check_one_line_refusal("--model m.pt", "--model: m.pt: not a model file");
    check_one_line_refusal("--compress out.npz", "--compress: applies to --model FILE only");
    check_one_line_refusal("--layer-order fc1,fc2", "--layer-order: applies to --model FILE only");
    check_one_line_refusal("--model m.npz --layer-order fc1,,fc2", "--layer-order: 'fc1,,fc2' has an empty name");
    check_one_line_refusal("--model m.npz --layer-order ,", "--layer-order: ',' has an empty name");
    check_one_line_refusal("--model m.onnx --activation relu", "--activation: an ONNX --model names its own activations");
}

TEST_CASE("symcheck --compress must name a file of the input's format", "[symcheck][model]") {
    check_one_line_refusal("--model m.npz --compress out.onnx", "must end in .npz, the format of --model 'm.npz'");
    check_one_line_refusal("--model m.safetensors --compress out.bin", "must end in .safetensors");
}

namespace {

using namespace symgrad;
using truth::network_state;

tensor filled(std::size_t r, std::size_t c, double v) { return xt::ones<double>({r, c}) * v; }

// 6 -> 4 tanh -> 1 from constant:0.5, trained 100 steps by the engine on the Titanic data.
network_state constant_network() {
    network_state s;
    s.layers.push_back({filled(4, 6, 0.5), filled(4, 1, 0.5)});
    s.layers.push_back({filled(1, 4, 0.5), filled(1, 1, 0.5)});
    dataset d = titanic();
    return truth::train(s, d.X, d.Y, {"gd", 0.1, 100}, truth::trainer_kind::engine);
}

// Every number rounded to float32, so that a float32 file holds the state exactly.
network_state rounded_to_float32(network_state s) {
    for (auto& l : s.layers) {
        for (double& x : l.W) x = double(float(x));
        for (double& x : l.b) x = double(float(x));
    }
    return s;
}

std::string saved_model(const temp_dir& dir, const network_state& s, const std::string& name, const std::string& dtype = "float64") {
    model_file m = as_model_file(s, model_format_of(name), dtype);
    write_model(m, dir / name);
    return dir / name;
}

}  // namespace

TEST_CASE("symcheck --model on a constant-initialised .npz finds one class of four units, as training shows",
          "[symcheck][model][files]") {
    network_state s = constant_network();
    // The fate, from training further with the hand trainer: the rows stay equal bit for bit.
    dataset d = titanic();
    network_state later = truth::train(s, d.X, d.Y, {"gd", 0.1, 300}, truth::trainer_kind::hand);
    for (std::size_t i = 1; i < 4; ++i)
        for (std::size_t k = 0; k < 6; ++k) REQUIRE(later.layers[0].W(i, k) == later.layers[0].W(0, k));
    temp_dir dir("model");
    auto r = run_command(exe, "--model '" + saved_model(dir, s, "m.npz") + "' --data titanic --quiet --json '" + dir / "r.json" + "'");
    CHECK(r.err.empty());
    CHECK(r.status == 1);
    json j = json::parse(slurp(dir / "r.json"));
    REQUIRE(j["runs"].size() == 1);
    CHECK(j["runs"][0]["verdict"] == "symmetric");
    CHECK(j["runs"][0]["layers"][0]["classes"] == json::parse("[[0, 1, 2, 3]]"));
    CHECK(j["training"]["iterations"] == 0);
    CHECK(j["model_file"]["inputs"] == 6);
}

TEST_CASE("symcheck --compress writes a model with the original's outputs and the right parameter counts",
          "[symcheck][model][files]") {
    network_state s = constant_network();
    temp_dir dir("compress");
    const std::string original = saved_model(dir, s, "m.npz");
    auto r = run_command(exe, "--model '" + original + "' --data titanic --quiet --compress '" + dir / "small.npz" +
                                  "' --json '" + dir / "r.json" + "'");
    CHECK(r.status == 1);
    CHECK(r.err.empty());
    json j = json::parse(slurp(dir / "r.json"));
    CHECK(j["compress"]["parameters_before"] == 4 * 6 + 4 + 4 + 1);
    CHECK(j["compress"]["parameters_after"] == 6 + 1 + 1 + 1);
    // Round trip: the written file read back, outputs by the hand forward pass of the test.
    model_file small = read_model(dir / "small.npz");
    model_file before = as_model_file(s);
    CHECK(small.parameters.at("0.weight").shape()[0] == 1);
    dataset d = titanic();
    CHECK(relative_difference(hand_logits(before, d.X), hand_logits(small, d.X)) <= 1e-12);
    // Compressing the compressed model changes nothing more.
    auto again = run_command(exe, "--model '" + dir / "small.npz" + "' --quiet --compress '" + dir / "smaller.npz" +
                                      "' --json '" + dir / "r2.json" + "'");
    CHECK(again.status == 0);
    CHECK(json::parse(slurp(dir / "r2.json"))["compress"]["parameters_after"] == 9);
}

TEST_CASE("symcheck --compress of a float32 file reports the difference after rounding to float32",
          "[symcheck][model][files]") {
    network_state s = rounded_to_float32(constant_network());
    temp_dir dir("f32");
    const std::string original = saved_model(dir, s, "m.safetensors", "float32");
    auto r = run_command(exe, "--model '" + original + "' --data titanic --compress '" + dir / "small.safetensors" + "'");
    CHECK(r.status == 1);
    CHECK(r.out.find("Compressed: 33 parameters -> 9") != std::string::npos);
    CHECK(r.out.find("after rounding to the file's float32") != std::string::npos);
    model_file small = read_model(dir / "small.safetensors");
    CHECK(small.origins.at("2.weight").dtype == "float32");
    dataset d = titanic();
    // Four equal float32 weights sum exactly (a power of two times one), so even float32 keeps the outputs.
    CHECK(relative_difference(hand_logits(as_model_file(s), d.X), hand_logits(small, d.X)) <= 1e-12);
}

TEST_CASE("symcheck --model without --data analyses the weights and says what needs data", "[symcheck][model][files]") {
    temp_dir dir("weights");
    auto r = run_command(exe, "--model '" + saved_model(dir, constant_network(), "m.npz") + "'");
    CHECK(r.status == 0);
    CHECK(r.out.find("same incoming weights and bias: {0, 1, 2, 3}") != std::string::npos);
    CHECK(r.out.find("Not decided without data") != std::string::npos);
    CHECK(r.out.find("No problem proved from the weights alone") != std::string::npos);
}

TEST_CASE("symcheck --model without --data exits 1 for relu units dead for every input", "[symcheck][model][files]") {
    network_state s;
    s.hidden = activation::relu;
    s.layers.push_back({tensor{{0, 0}, {0.5, -0.25}}, tensor{{-1}, {0.3}}});
    s.layers.push_back({tensor{{2.0, 5.0}}, tensor{{0.0}}});
    temp_dir dir("dead");
    auto r = run_command(exe, "--model '" + saved_model(dir, s, "m.npz") + "' --activation relu --json '" + dir / "r.json" + "'");
    CHECK(r.status == 1);
    json j = json::parse(slurp(dir / "r.json"));
    CHECK(j["weight_analysis"]["layers"][0]["dead_relu"] == json::parse("[0]"));
}

TEST_CASE("symcheck --model refuses data whose feature count differs from the model's inputs", "[symcheck][model][files]") {
    network_state s;
    s.layers.push_back({filled(3, 5, 0.1), filled(3, 1, 0.0)});
    s.layers.push_back({filled(1, 3, 0.1), filled(1, 1, 0.0)});
    temp_dir dir("mismatch");
    auto r = run_command(exe, "--model '" + saved_model(dir, s, "m.npz") + "' --data titanic");
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("takes 5 inputs but --data 'titanic (embedded)' has 6 features") != std::string::npos);
}

TEST_CASE("symcheck --compress whose tolerance merges would move the outputs merges only equal units", "[symcheck][model][files]") {
    network_state s;  // two distinct units that a tolerance of 0.5 would merge, changing the outputs
    s.layers.push_back({tensor{{0.3, -0.7, 0, 0, 0, 0}, {0.5, -0.6, 0, 0, 0, 0}}, tensor{{0.2}, {0.2}}});
    s.layers.push_back({tensor{{1.0, 2.0}}, tensor{{0.0}}});
    temp_dir dir("fails");
    auto r = run_command(exe, "--model '" + saved_model(dir, s, "m.npz") + "' --data titanic --tolerance 0.5 --quiet --compress '" +
                                  dir / "small.npz" + "' --json '" + dir / "r.json" + "'");
    CHECK(r.status != 2);
    CHECK(r.status != 3);
    const json j = json::parse(slurp(dir / "r.json"));
    CHECK(j["compress"]["parameters_after"] == j["compress"]["parameters_before"]);  // nothing was bitwise equal
    CHECK(j["compress"]["notes"].dump().find("merged only bitwise-equal units instead") != std::string::npos);
    // Both units kept, so the outputs are the original's exactly.
    model_file small = read_model(dir / "small.npz");
    CHECK(small.parameters.at("0.weight").shape()[0] == 2);
    CHECK(j["compress"]["max_relative_difference"].get<double>() == 0.0);
}

TEST_CASE("symcheck --model refuses data whose classes the model's outputs cannot give", "[symcheck][model][files]") {
    temp_dir dir("classes");
    {
        std::ofstream csv(dir / "three.csv");
        csv << "a,b,c,d,e,f,kind\n";
        for (int i = 0; i < 9; ++i) csv << i << ",1,0,1,0," << i % 2 << "," << (i % 3 == 0 ? "x" : i % 3 == 1 ? "y" : "z") << "\n";
    }
    auto r = run_command(exe, "--model '" + saved_model(dir, constant_network(), "m.npz") + "' --data '" + dir / "three.csv" + "'");
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("gives 1 output but --data") != std::string::npos);
    CHECK(r.err.find("has 3 classes, which need 3 outputs") != std::string::npos);
}

TEST_CASE("an ONNX model with copied and mirrored units compresses to one unit, read back with the same outputs",
          "[symcheck][model][files]") {
    const std::string fixtures = std::string(SYMGRAD_SOURCE_DIR) + "/tests/fixtures/models/onnx/";
    model_file m = read_model(fixtures + "torch_gemm_f32.onnx");  // 3 -> 4 tanh -> 1, float32, as torch exports
    tensor& W = m.parameters.at("0.weight");
    tensor& b = m.parameters.at("0.bias");
    tensor& V = m.parameters.at("2.weight");
    for (std::size_t i = 1; i < 4; ++i) {  // units 1, 2 copy unit 0; unit 3 is its mirror (-w, -b, -v)
        const double s = i == 3 ? -1.0 : 1.0;
        for (std::size_t k = 0; k < 3; ++k) W(i, k) = s * W(0, k);
        b(i, 0) = s * b(0, 0);
        V(0, i) = s * V(0, 0);
    }
    temp_dir dir("onnx");
    write_model(m, dir / "tied.onnx");
    auto r = run_command(exe, "--model '" + dir / "tied.onnx" + "' --quiet --compress '" + dir / "small.onnx" +
                                  "' --json '" + dir / "r.json" + "'");
    CHECK(r.status == 0);
    CHECK(r.err.empty());
    json j = json::parse(slurp(dir / "r.json"));
    CHECK(j["weight_analysis"]["layers"][0]["mirrored"] == json::parse("[[0, 1, 2, 3]]"));
    CHECK(j["compress"]["parameters_before"] == 12 + 4 + 4 + 1);
    CHECK(j["compress"]["parameters_after"] == 3 + 1 + 1 + 1);
    // The written file read back; both outputs by the test's own forward pass (4 v sums exactly in float32).
    model_file small = read_model(dir / "small.onnx");
    for (model_file* f : {&m, &small}) {
        f->layers = {{"0.weight", "0.bias"}, {"2.weight", "2.bias"}};
        f->hidden_activation = activation::tanh;
    }
    tensor X = load_npy(fixtures + "torch_gemm_f32.x.npy");  // features x samples
    CHECK(small.parameters.at("0.weight").shape()[0] == 1);
    CHECK(relative_difference(hand_logits(m, X), hand_logits(small, X)) <= 1e-12);
}

TEST_CASE("symcheck --model --iterations N trains the file's state further and compresses the trained state",
          "[symcheck][model][files]") {
    network_state s = constant_network();
    temp_dir dir("further");
    auto r = run_command(exe, "--model '" + saved_model(dir, s, "m.npz") + "' --data titanic --iterations 5 --quiet --compress '" +
                                  dir / "small.npz" + "' --json '" + dir / "r.json" + "'");
    CHECK(r.status == 1);
    json j = json::parse(slurp(dir / "r.json"));
    CHECK(j["training"]["iterations"] == 5);
    CHECK(j["runs"][0]["verdict"] == "symmetric");
    // The same 5 steps (gd, symcheck's default learning rate 0.01) by the test's hand trainer.
    dataset d = titanic();
    network_state trained = truth::train(s, d.X, d.Y, {"gd", 0.01, 5}, truth::trainer_kind::hand);
    REQUIRE(trained.layers[0].W(0, 0) != s.layers[0].W(0, 0));
    model_file small = read_model(dir / "small.npz");
    for (std::size_t k = 0; k < 6; ++k)
        CHECK(small.parameters.at("0.weight")(0, k) == Approx(trained.layers[0].W(0, k)).epsilon(1e-12));
    CHECK(small.parameters.at("2.weight")(0, 0) == Approx(4 * trained.layers[1].W(0, 0)).epsilon(1e-12));
}

TEST_CASE("A model path is matched by extension in any case, and a device is refused before any read",
          "[symcheck][model][files]") {
    CHECK(symgrad::model_format_of("model.NPZ") == symgrad::model_format::npz);
    CHECK(symgrad::model_format_of("Model.Onnx") == symgrad::model_format::onnx);
    CHECK(symgrad::model_format_of("w.SafeTensors") == symgrad::model_format::safetensors);
    temp_dir dir("device");
    std::filesystem::create_symlink("/dev/zero", dir / "zero.npz");
    auto r = run_command(exe, "--model '" + dir / "zero.npz" + "'");
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.find("zero.npz: a device, not a model file") != std::string::npos);
}
