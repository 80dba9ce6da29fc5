// .npz and .safetensors weight files: numpy-made fixtures read with the layer order and logits numpy computed,
// round trips, numpy reading what we write, and every malformed or unsupported file refused with one line.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xview.hpp>

#include "engine/error.hpp"
#include "fuzz/fuzz_model_checks.hpp"
#include "models/model_file.hpp"
#include "run_command.hpp"
#include "tensor_checks.hpp"

using namespace symgrad;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

std::string fixture(const std::string& name) {
    return std::string(SYMGRAD_SOURCE_DIR) + "/tests/fixtures/models/weights/" + name;
}

nlohmann::json expected() { return nlohmann::json::parse(slurp(fixture("expected.json"))); }

tensor matrix_of(const nlohmann::json& rows) {
    tensor t = tensor::from_shape({rows.size(), rows[0].size()});
    for (std::size_t i = 0; i < rows.size(); ++i)
        for (std::size_t j = 0; j < rows[i].size(); ++j) t(i, j) = rows[i][j].get<double>();
    return t;
}

std::vector<std::string> good_files() {
    std::vector<std::string> names;
    const nlohmann::json all = expected();  // items() of a temporary would outlive it (ASan: use after free)
    for (const auto& [name, v] : all["files"].items()) names.push_back(name);
    return names;
}

// The logits of the model's network on X (inputs x samples).
tensor logits_of(const model_file& m, const tensor& X) {
    mlp net = build_network(m, X.shape()[1]);
    net.g.feed({{net.X, X}, {net.Y, tensor(xt::zeros<double>({std::size_t(1), X.shape()[1]}))}});
    net.g.forward();
    return net.g.value(net.logits);
}

std::string read_error(const std::string& path, const model_read_options& options = {}) {
    try {
        read_model(path, options);
    } catch (const input_error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string parse_error(const std::string& bytes, model_format format) {
    try {
        parse_model(bytes, format, "hand");
    } catch (const input_error& e) {
        return e.what();
    }
    return "(no error)";
}

using testing::same_bits;

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A .safetensors file from a header text and raw data, as the specification lays it out.
std::string safetensors_file(const std::string& header, const std::string& data) {
    std::string out;
    for (int k = 0; k < 8; ++k) out += char((std::uint64_t(header.size()) >> (8 * k)) & 0xff);
    return out + header + data;
}

std::string f64_bytes(std::initializer_list<double> values) {
    std::string s;
    for (double v : values) s.append(reinterpret_cast<const char*>(&v), 8);
    return s;
}

// A one-layer model held in memory, for the writers.
model_file one_layer(model_format format, const std::string& dtype, tensor W, tensor b) {
    model_file m;
    m.format = format;
    m.source = "memory";
    m.parameters = {{"fc.weight", W}, {"fc.bias", b}};
    m.origins["fc.weight"].dtype = dtype;
    m.origins["fc.bias"].dtype = dtype;
    m.origins["fc.bias"].one_dimensional = true;
    m.layers = {{"fc.weight", "fc.bias"}};
    return m;
}

int run_python(const std::string& script) {
    REQUIRE(std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0);
    temp_dir dir("weights-py");
    write_bytes(dir / "check.py", script);
    return std::system(("/usr/bin/python3 '" + dir / "check.py" + "'").c_str());
}

}  // namespace

TEST_CASE("every good weight file reads with the layers, dtypes and logits numpy computed", "[models][weights]") {
    const auto e = expected();
    const tensor X = matrix_of(e["X"]);
    REQUIRE(e["files"].size() >= 9);
    for (const auto& [name, want] : e["files"].items()) {
        INFO(name);
        model_file m = read_model(fixture(name));
        std::vector<std::pair<std::string, std::string>> layers;
        for (const auto& l : want["layers"]) layers.emplace_back(l[0].get<std::string>(), l[1].get<std::string>());
        CHECK(m.layers == layers);
        CHECK(m.parameters.size() == want["dtypes"].size());
        for (const auto& [entry, dtype] : want["dtypes"].items()) CHECK(m.origins.at(entry).dtype == dtype.get<std::string>());
        tensor got = logits_of(m, X), logits = matrix_of(want["logits"]);
        REQUIRE(shape_of(got) == shape_of(logits));
        for (std::size_t k = 0; k < got.size(); ++k) CHECK(got.data()[k] == Approx(logits.data()[k]).margin(1e-12).epsilon(0));
    }
}

TEST_CASE("PyTorch's (out, in) weight is symgrad's W and a 1-D bias reads as (n x 1)", "[models][weights]") {
    model_file m = read_model(fixture("sequential_f64.npz"));
    CHECK(shape_of(m.parameters.at("0.weight")) == shape2{4, 3});
    CHECK(shape_of(m.parameters.at("0.bias")) == shape2{4, 1});
    CHECK(m.origins.at("0.bias").one_dimensional);
    CHECK_FALSE(m.origins.at("0.weight").one_dimensional);
    CHECK(m.format == model_format::npz);
    CHECK_FALSE(m.notes.empty());
    CHECK(m.notes.front() == "layers ordered by the numbers in their names: 0, 2, 4");
}

TEST_CASE("names that do not order the layers are ordered by the one chain of their shapes, with a note",
          "[models][weights]") {
    model_file m = read_model(fixture("shapes_ordered.npz"));
    REQUIRE(m.layers.size() == 2);
    CHECK(m.layers[0].first == "trunk.weight");  // by name, "head" would come first
    bool noted = false;
    for (const auto& n : m.notes) noted = noted || n.find("ordered by their shapes") != std::string::npos;
    CHECK(noted);
}

TEST_CASE("Keras kernels are read transposed and written back as (in, out)", "[models][weights]") {
    model_file m = read_model(fixture("keras_kernels.npz"));
    CHECK(m.origins.at("dense/kernel:0").transposed);
    CHECK(shape_of(m.parameters.at("dense/kernel:0")) == shape2{4, 3});
    model_file back = parse_model(model_bytes(m), model_format::npz, "back");
    CHECK(same_bits(back.parameters.at("dense/kernel:0"), m.parameters.at("dense/kernel:0")));
}

TEST_CASE("float32 entries are counted in a note, and a layer without a bias is noted", "[models][weights]") {
    const auto notes = read_model(fixture("nested_layers_f32.npz")).notes;
    CHECK(std::find(notes.begin(), notes.end(),
                    "3 float32 entries widened exactly to float64; a written model stores them as float32 again "
                    "(rounded to nearest)") != notes.end());
    CHECK(std::find(notes.begin(), notes.end(), "'net.layers.10.weight' has no bias; its layer is W A alone") != notes.end());
}

TEST_CASE("the hidden activation of a weight file comes from the options", "[models][weights]") {
    model_read_options relu;
    relu.hidden_activation = activation::relu;
    CHECK(read_model(fixture("fc_f32_deflated.npz"), relu).hidden_activation == activation::relu);
}

TEST_CASE("safetensors' __metadata__ is kept and written back", "[models][weights]") {
    model_file m = read_model(fixture("layers_f64_metadata.safetensors"));
    CHECK(m.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"note", "written by make_weight_fixtures.py"}});
    CHECK(parse_model(model_bytes(m), model_format::safetensors, "back").metadata == m.metadata);
    CHECK(read_model(fixture("sequential_f32.safetensors")).metadata.empty());
}

TEST_CASE("every good weight file written back reads to the same parameters, bit for bit", "[models][weights]") {
    for (const auto& name : good_files()) {
        INFO(name);
        model_file m = read_model(fixture(name));
        model_file back = parse_model(model_bytes(m), m.format, "back");
        CHECK(back.layers == m.layers);
        REQUIRE(back.parameters.size() == m.parameters.size());
        for (const auto& [entry, t] : m.parameters) {
            INFO(entry);
            CHECK(same_bits(back.parameters.at(entry), t));
            CHECK(back.origins.at(entry).dtype == m.origins.at(entry).dtype);
            CHECK(back.origins.at(entry).one_dimensional == m.origins.at(entry).one_dimensional);
        }
    }
}

TEST_CASE("numpy loads the .npz files we write with each array's dtype, shape and values", "[models][weights]") {
    temp_dir dir("weights-npz");
    std::string pairs;
    for (const auto& name : good_files()) {
        if (name.find(".npz") == std::string::npos) continue;
        write_model(read_model(fixture(name)), dir / name);
        pairs += "('" + fixture(name) + "', '" + dir / name + "'),";
    }
    CHECK(run_python("import numpy as np, zipfile\n"
                     "for original, ours in [" + pairs + "]:\n"
                     "    a, b = np.load(original), np.load(ours)\n"
                     "    assert sorted(a.files) == sorted(b.files), (ours, a.files, b.files)\n"
                     "    for k in a.files:\n"
                     "        assert a[k].dtype.name == b[k].dtype.name and a[k].shape == b[k].shape, (ours, k)\n"
                     "        assert b[k].dtype.byteorder in '<|=', (ours, k)  # we write little-endian\n"
                     "        assert np.array_equal(a[k], b[k]), (ours, k)\n"
                     "    assert zipfile.ZipFile(ours).testzip() is None\n") == 0);
}

TEST_CASE("our .safetensors files follow the specification: padded header, offsets, little-endian data",
          "[models][weights]") {
    temp_dir dir("weights-st");
    std::string pairs;
    for (const auto& name : good_files()) {
        if (name.find(".safetensors") == std::string::npos) continue;
        write_model(read_model(fixture(name)), dir / name);
        pairs += "('" + fixture(name) + "', '" + dir / name + "'),";
    }
    // An independent reader, written from the specification in numpy.
    CHECK(run_python("import json, struct, numpy as np\n"
                     "def load(path):\n"
                     "    raw = open(path, 'rb').read()\n"
                     "    n, = struct.unpack('<Q', raw[:8])\n"
                     "    header = json.loads(raw[8:8 + n])\n"
                     "    meta = header.pop('__metadata__', None)\n"
                     "    kinds = {'F32': '<f4', 'F64': '<f8'}\n"
                     "    out = {k: np.frombuffer(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]],\n"
                     "                            kinds[v['dtype']]).reshape(v['shape']) for k, v in header.items()}\n"
                     "    return n, meta, out\n"
                     "for original, ours in [" + pairs + "]:\n"
                     "    _, meta_a, a = load(original)\n"
                     "    n, meta_b, b = load(ours)\n"
                     "    assert n % 8 == 0 and meta_a == meta_b, (ours, n, meta_a, meta_b)\n"
                     "    assert sorted(a) == sorted(b)\n"
                     "    for k in a:\n"
                     "        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and np.array_equal(a[k], b[k])\n") == 0);
}

TEST_CASE("a float32 parameter is written rounded to nearest; one beyond float32's range is refused",
          "[models][weights]") {
    model_file m = one_layer(model_format::safetensors, "float32", tensor{{0.1, -2.5}}, tensor{{1.0 / 3.0}});
    model_file back = parse_model(model_bytes(m), model_format::safetensors, "back");
    CHECK(back.parameters.at("fc.weight")(0, 0) == double(0.1f));
    CHECK(back.parameters.at("fc.weight")(0, 1) == -2.5);
    CHECK(back.parameters.at("fc.bias")(0, 0) == double(1.0f / 3.0f));
    for (model_format f : {model_format::npz, model_format::safetensors}) {
        model_file big = one_layer(f, "float32", tensor{{1e39, 0.0}}, tensor{{0.0}});
        CHECK_THROWS_WITH(model_bytes(big), Catch::Contains("memory: parameter 'fc.weight'") &&
                                                Catch::Contains("beyond float32's range"));
    }
}

TEST_CASE("a compressed model with fewer units is written and read back in both formats", "[models][weights]") {
    for (const std::string name : {"sequential_f64.npz", "layers_f64_metadata.safetensors"}) {
        INFO(name);
        model_file m = read_model(fixture(name));
        // Drop the first layer's last unit: its row of W1, its bias and its column of W2.
        const auto& [w1, b1] = m.layers[0];
        const std::string w2 = m.layers[1].first;
        tensor W1 = m.parameters.at(w1), B1 = m.parameters.at(b1), W2 = m.parameters.at(w2);
        m.parameters[w1] = xt::view(W1, xt::range(0, W1.shape()[0] - 1), xt::all());
        m.parameters[b1] = xt::view(B1, xt::range(0, B1.shape()[0] - 1), xt::all());
        m.parameters[w2] = xt::view(W2, xt::all(), xt::range(0, W2.shape()[1] - 1));
        model_file back = parse_model(model_bytes(m), m.format, "back");
        CHECK(shape_of(back.parameters.at(w1)) == shape2{W1.shape()[0] - 1, W1.shape()[1]});
        CHECK(same_bits(back.parameters.at(w2), m.parameters.at(w2)));
        CHECK(back.layers == m.layers);
    }
}

TEST_CASE("every malformed or unsupported weight file is refused with one line naming the place",
          "[models][weights]") {
    struct bad_case {
        const char* file;
        std::vector<const char*> says;
    };
    const std::vector<bad_case> cases = {
        {"bad_truncated.npz", {"no end-of-central-directory record"}},
        {"bad_crc_mismatch.npz", {"member 'fc1.weight.npy'", "CRC-32 mismatch"}},
        {"bad_non_npy_member.npz", {"member 'README.txt'", "is not a .npy array"}},
        {"bad_bzip2_member.npz", {"member 'fc1.weight.npy'", "compression method 12 (bzip2)", "stored (0) and deflated (8)"}},
        {"bad_int64.npz", {"member 'fc1.weight.npy'", "dtype '<i8'", "float32 or float64"}},
        {"bad_ambiguous_names.npz",
         {"the names do not order the layers", "hidden 3->4", "middle 4->4", "more than one order", "--layer-order",
          "model_read_options::layer_order"}},
        {"bad_broken_chain.npz", {"'fc2.weight' takes 5 inputs", "'fc1.weight', has 4 units", "ordered by the numbers"}},
        {"bad_batchnorm_entry.npz", {"entry 'bn1.running_mean'", "dense (Linear) layers only"}},
        {"bad_conv_weight.npz", {"entry 'conv1.weight' of shape (2, 3, 3, 3)", "convolution", "dense (Linear) layers only"}},
        {"bad_truncated.safetensors", {"tensor 'fc2.bias'", "data_offsets [160, 168]", "within the 160 data bytes"}},
        {"bad_header_length.safetensors", {"the header length", "exceeds"}},
        {"bad_json_syntax.safetensors", {"the header is not valid JSON", "at header byte 73: syntax error", "unexpected end of input"}},
        {"bad_offsets_out_of_range.safetensors", {"tensor 'fc2.bias'", "data_offsets [160, 9000]"}},
        {"bad_overlapping.safetensors", {"'fc1.bias'", "overlap"}},
        {"bad_float16.safetensors", {"tensor 'fc1.weight' has dtype F16", "F32 and F64 only"}},
        {"bad_conv_weight.safetensors", {"entry 'conv1.weight' of shape (2, 3, 3, 3)", "dense (Linear) layers only"}},
    };
    for (const auto& c : cases) {
        INFO(c.file);
        const std::string message = read_error(fixture(c.file));
        CHECK(message.rfind(fixture(c.file) + ": ", 0) == 0);
        CHECK(message.find('\n') == std::string::npos);
        for (const char* s : c.says) CHECK_THAT(message, Catch::Contains(s));
    }
}

TEST_CASE("an explicit layer order resolves ambiguous names and must name every layer exactly once",
          "[models][weights]") {
    model_read_options o;
    o.layer_order = {"hidden", "middle2", "middle", "out"};
    model_file m = read_model(fixture("bad_ambiguous_names.npz"), o);
    REQUIRE(m.layers.size() == 4);
    CHECK(m.layers[1].first == "middle2.weight");
    o.layer_order = {"hidden", "middle", "out"};
    CHECK_THAT(read_error(fixture("bad_ambiguous_names.npz"), o), Catch::Contains("leaves out layer middle2"));
    o.layer_order = {"hidden", "middle", "middle2", "fc9", "out"};
    CHECK_THAT(read_error(fixture("bad_ambiguous_names.npz"), o),
               Catch::Contains("names 'fc9', which is not a layer") && Catch::Contains("hidden, middle, middle2, out"));
    o.layer_order = {"hidden", "middle", "middle", "middle2", "out"};
    CHECK_THAT(read_error(fixture("bad_ambiguous_names.npz"), o), Catch::Contains("names 'middle' twice"));
    o.layer_order = {"middle", "hidden", "middle2", "out"};
    CHECK_THAT(read_error(fixture("bad_ambiguous_names.npz"), o),
               Catch::Contains("'hidden.weight' takes 3 inputs") && Catch::Contains("in the order given"));
}

TEST_CASE("malformed .safetensors headers are refused naming the tensor or key", "[models][weights]") {
    const std::string w = R"("fc.weight": {"dtype": "F64", "shape": [1, 2], "data_offsets": [0, 16]})";
    const std::string data = f64_bytes({1.0, 2.0});
    auto error_of = [&](const std::string& header, const std::string& d) {
        return parse_error(safetensors_file(header, d), model_format::safetensors);
    };
    CHECK(error_of("{" + w + "}", data) == "(no error)");
    CHECK_THAT(error_of("{" + w + ", " + w + "}", data), Catch::Contains("names 'fc.weight' twice"));
    CHECK_THAT(error_of("{" + w + "}", data + f64_bytes({3.0})), Catch::Contains("8 data bytes after the last tensor"));
    CHECK_THAT(error_of(R"({"fc.weight": {"dtype": "I64", "shape": [1, 2], "data_offsets": [0, 16]}})", data),
               Catch::Contains("tensor 'fc.weight' has dtype I64"));
    CHECK_THAT(error_of(R"({"fc.weight": {"dtype": "F64", "shape": [1, 2], "data_offsets": [0, 8]}})", data.substr(0, 8)),
               Catch::Contains("hold 8 bytes, but shape (1, 2) of F64 needs 16"));
    CHECK_THAT(error_of(R"({"fc.weight": {"dtype": "F64", "shape": [1, 2], "data_offsets": [16, 0]}})", data),
               Catch::Contains("are not a range"));
    CHECK_THAT(error_of(R"({"fc.weight": {"dtype": "F64", "shape": [1, -2], "data_offsets": [0, 16]}})", data),
               Catch::Contains("not a non-negative integer"));
    CHECK_THAT(error_of(R"({"fc.weight": {"dtype": "F64", "data_offsets": [0, 16]}})", data), Catch::Contains("lacks 'shape'"));
    CHECK_THAT(error_of("{" + w + R"(, "__metadata__": {"epochs": 3}})", data),
               Catch::Contains("'__metadata__' entry 'epochs' is not a string"));
    CHECK_THAT(error_of("[1, 2]", ""), Catch::Contains("not a JSON object"));
    CHECK_THAT(error_of(R"({"fc.weight": 1e99999})", ""),  // nlohmann's out_of_range, found by fuzz_safetensors
               Catch::Contains("not valid JSON (number overflow parsing '1e99999')"));
    CHECK_THAT(error_of(R"({"fc.weight": {"dtype": "F64", "shape": [1, 2], "data_offsets": [0, 16]}})",
                        f64_bytes({1.0, std::nan("")})),
               Catch::Contains("entry 'fc.weight' element 1 is NaN"));
    CHECK_THAT(parse_error("1234", model_format::safetensors), Catch::Contains("too short for the 8-byte header length"));
}

TEST_CASE("layers whose names do not order them and whose shapes chain in no order are refused", "[models][weights]") {
    const std::string header = R"({"hidden.weight": {"dtype": "F64", "shape": [4, 3], "data_offsets": [0, 96]},)"
                               R"( "out.weight": {"dtype": "F64", "shape": [1, 5], "data_offsets": [96, 136]}})";
    const std::string message = parse_error(safetensors_file(header, std::string(136, '\0')), model_format::safetensors);
    CHECK(message == "hand: the names do not order the layers (hidden 3->4, out 5->1) and their shapes chain in no order "
                     "(each layer's fan_in must equal the units of the layer before)");
}

TEST_CASE("hand-damaged .npz archives are refused naming the member", "[models][weights]") {
    const std::string good = slurp(fixture("sequential_f64.npz"));
    REQUIRE(parse_error(good, model_format::npz) == "(no error)");
    // Bit 0 of the general-purpose flags marks encryption, in the local header (offset 6) and the directory.
    std::string encrypted = good;
    encrypted[6] = 1;
    const std::size_t central = encrypted.find("PK\x01\x02");
    REQUIRE(central != std::string::npos);
    encrypted[central + 8] = 1;
    CHECK_THAT(parse_error(encrypted, model_format::npz), Catch::Contains("member '0.weight.npy' is encrypted"));
    // The directory's entry count one too high: the entries run past the directory.
    std::string miscounted = good;
    for (std::size_t at : {miscounted.size() - 14, miscounted.size() - 12}) miscounted[at] = char(miscounted[at] + 1);
    CHECK_THAT(parse_error(miscounted, model_format::npz), Catch::Contains("central directory entry 6"));
    CHECK_THAT(parse_error("PK", model_format::npz), Catch::Contains("not an .npz (zip) archive: 2 bytes"));
    CHECK_THAT(parse_error(std::string(64, '\0'), model_format::npz), Catch::Contains("no end-of-central-directory record"));
}

TEST_CASE("a corrupt deflate stream in an .npz is refused naming the member", "[models][weights]") {
    std::string bytes = slurp(fixture("fc_f32_deflated.npz"));
    // The first member's data starts after its 30-byte local header, its name and its extra field.
    const std::size_t name = std::size_t(static_cast<unsigned char>(bytes[26])),
                      extra = std::size_t(static_cast<unsigned char>(bytes[28]));
    for (std::size_t k = 0; k < 8; ++k) bytes[30 + name + extra + k] = char(0xff);
    const std::string message = parse_error(bytes, model_format::npz);
    CHECK_THAT(message, Catch::Contains("member 'fc1.weight.npy'"));
    CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("every weight file in the fuzz corpora and regressions reads consistently or is refused cleanly", "[models][weights][fuzz]") {
    std::size_t accepted = 0, files = 0;
    for (const auto& [kind, format] : {std::pair{"npz", model_format::npz}, {"safetensors", model_format::safetensors}}) {
        std::vector<std::filesystem::path> paths;
        for (const char* folder : {"/fuzz/corpus/", "/fuzz/regressions/"}) {
            const std::filesystem::path dir = std::string(SYMGRAD_SOURCE_DIR) + folder + kind;
            if (std::filesystem::is_directory(dir))
                for (const auto& e : std::filesystem::directory_iterator(dir)) paths.push_back(e.path());
        }
        for (const auto& path : paths) {
            INFO(path);
            const std::string bytes = slurp(path);
            const char* broken = "";
            CHECK_NOTHROW(broken = symgrad::fuzzing::run_weight_file(
                              reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), format));
            CHECK(broken == nullptr);
            ++files;
            try {
                parse_model(bytes, format, "corpus");
                ++accepted;
            } catch (const error&) {
            }
        }
    }
    CHECK(files >= 20);
    CHECK(accepted >= 6);  // the seeds reach the code after validation too
}
