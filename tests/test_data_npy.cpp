// .npy files: round trips, byte-level headers, numpy interoperability both ways, and every malformed file.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include <unistd.h>

#include <xtensor/xnpy.hpp>

#include "engine/error.hpp"
#include "models/data.hpp"

using namespace symgrad;

namespace {

// Shape and every element equal (xtensor's == does not decompose inside CHECK).
bool same(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

std::string scratch(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("symgrad_npy_tests_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A .npy file built by hand: magic, version 1.0, little-endian header length, the dict padded with spaces
// to a 64-byte boundary and ended by '\n', then the raw data.
std::string hand_npy(const std::string& dict, const std::string& data, unsigned char major = 1) {
    std::size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = std::string("\x93NUMPY", 6) + char(major) + char(0);
    std::size_t len = header.size();
    out += char(len & 0xff);
    out += char((len >> 8) & 0xff);
    if (major != 1) out += std::string(2, '\0');
    return out + header + data;
}

std::string doubles_le(std::initializer_list<double> values) {
    std::string s;
    for (double v : values) {
        char raw[8];
        std::memcpy(raw, &v, 8);
        s.append(raw, 8);
    }
    return s;
}

std::string npy_error(const std::string& path) {
    try {
        load_npy(path);
    } catch (const input_error& e) {
        return e.what();
    }
    return "(no error)";
}

tensor sample_tensor() { return tensor{{1.5, -2.25, 3.0}, {1e-300, 1e300, -0.0}}; }

// Runs a Python snippet with Debian's numpy; returns its exit status. numpy comes from install-deps.sh,
// so its absence fails the calling test instead of skipping it.
int run_python(const std::string& script_path, const std::string& script) {
    write_file(script_path, script);
    REQUIRE(std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0);
    return std::system(("/usr/bin/python3 " + script_path).c_str());
}

}  // namespace

TEST_CASE("a tensor saved as .npy loads back bit for bit", "[data][npy]") {
    auto path = scratch("round.npy");
    tensor t = sample_tensor();
    save_npy(t, path);
    tensor back = load_npy(path);
    REQUIRE(shape_of(back) == shape_of(t));
    CHECK(std::memcmp(back.data(), t.data(), t.size() * sizeof(double)) == 0);
}

TEST_CASE("our .npy header is numpy's version 1.0 format, byte for byte", "[data][npy]") {
    auto path = scratch("bytes.npy");
    save_npy(tensor{{1, 2, 3}, {4, 5, 6}}, path);
    std::string b = read_file(path);
    REQUIRE(b.size() > 10);
    CHECK(b.compare(0, 6, "\x93NUMPY") == 0);
    CHECK(b[6] == 1);
    CHECK(b[7] == 0);
    std::size_t len = std::size_t(static_cast<unsigned char>(b[8])) | std::size_t(static_cast<unsigned char>(b[9])) << 8;
    CHECK((10 + len) % 64 == 0);  // numpy aligns the data to 64 bytes
    std::string header = b.substr(10, len);
    CHECK(header.find("'descr': '<f8'") != std::string::npos);
    CHECK(header.find("'fortran_order': False") != std::string::npos);
    CHECK(header.find("'shape': (2, 3)") != std::string::npos);
    CHECK(header.back() == '\n');
    CHECK(b.substr(10 + len) == doubles_le({1, 2, 3, 4, 5, 6}));
}

TEST_CASE("xtensor's own npy reader reads the files we write", "[data][npy]") {
    auto path = scratch("xt.npy");
    tensor t = sample_tensor();
    save_npy(t, path);
    auto a = xt::load_npy<double>(path);
    REQUIRE(a.dimension() == 2);
    CHECK(a.shape()[0] == 2);
    CHECK(a.shape()[1] == 3);
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j) CHECK(a(i, j) == t(i, j));
}

TEST_CASE("save_npy replaces a file atomically and leaves no temporary behind", "[data][npy]") {
    auto path = scratch("atomic.npy");
    save_npy(tensor{{1.0}}, path);
    save_npy(tensor{{2.0, 3.0}}, path);
    CHECK(same(load_npy(path), tensor{{2.0, 3.0}}));
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(path).parent_path()))
        CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
    CHECK_THROWS_AS(save_npy(tensor{{1.0}}, "/nonexistent_dir_symgrad/x.npy"), io_error);
}

TEST_CASE("numpy reads our .npy files with the right dtype, shape and values", "[data][npy]") {
    auto path = scratch("for_numpy.npy");
    save_npy(sample_tensor(), path);
    int status = run_python(scratch("read.py"),
                            "import numpy as np, sys\n"
                            "a = np.load('" + path + "')\n"
                            "want = np.array([[1.5, -2.25, 3.0], [1e-300, 1e300, -0.0]])\n"
                            "ok = a.dtype == np.float64 and a.shape == (2, 3) and a.flags['C_CONTIGUOUS'] "
                            "and np.array_equal(a, want) and np.signbit(a[1, 2])\n"
                            "sys.exit(0 if ok else 1)\n");
    CHECK(status == 0);
}

TEST_CASE("we read numpy's own .npy files: 2-D, 1-D and big-endian", "[data][npy]") {
    auto two = scratch("np2.npy"), one = scratch("np1.npy"), big = scratch("npbig.npy");
    int status = run_python(scratch("write.py"),
                            "import numpy as np\n"
                            "np.save('" + two + "', np.arange(12, dtype=np.float64).reshape(3, 4) / 8)\n"
                            "np.save('" + one + "', np.array([0.5, -1.0, 2.0]))\n"
                            "np.save('" + big + "', np.array([[1.0, 2.0]], dtype='>f8'))\n");
    REQUIRE(status == 0);
    tensor a = load_npy(two);
    REQUIRE(shape_of(a) == shape2{3, 4});
    for (std::size_t k = 0; k < 12; ++k) CHECK(a.data()[k] == double(k) / 8);  // k/8 is exact in binary
    CHECK(same(load_npy(one), tensor{{0.5}, {-1.0}, {2.0}}));
    CHECK(same(load_npy(big), tensor{{1.0, 2.0}}));
}

TEST_CASE("numpy's float32, int64, Fortran-order and 3-D arrays are refused naming the file", "[data][npy]") {
    auto f4 = scratch("f4.npy"), i8 = scratch("i8.npy"), fo = scratch("fortran.npy"), d3 = scratch("d3.npy");
    int status = run_python(scratch("bad.py"),
                            "import numpy as np\n"
                            "np.save('" + f4 + "', np.ones((2, 2), dtype=np.float32))\n"
                            "np.save('" + i8 + "', np.ones((2, 2), dtype='<i8'))\n"
                            "np.save('" + fo + "', np.asfortranarray(np.ones((2, 3))))\n"
                            "np.save('" + d3 + "', np.ones((2, 3, 4)))\n");
    REQUIRE(status == 0);
    CHECK(npy_error(f4) == f4 + ": dtype '<f4' is not float64 ('<f8'); save with a.astype(numpy.float64)");
    CHECK(npy_error(i8) == i8 + ": dtype '<i8' is not float64 ('<f8'); save with a.astype(numpy.float64)");
    CHECK(npy_error(fo) == fo + ": array is in Fortran order; save numpy.ascontiguousarray(a) instead");
    CHECK(npy_error(d3) == d3 + ": array of shape (2, 3, 4) has 3 dimensions; expected 1 or 2");
    auto d0 = scratch("d0.npy");
    write_file(d0, hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", doubles_le({1})));
    CHECK(npy_error(d0) == d0 + ": array of shape () has 0 dimensions; expected 1 or 2");
}

TEST_CASE("a hand-written valid .npy in format versions 1.0 and 2.0 loads", "[data][npy]") {
    auto v1 = scratch("hand1.npy"), v2 = scratch("hand2.npy");
    write_file(v1, hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", doubles_le({7, 8})));
    write_file(v2, hand_npy("{\"descr\":\"<f8\",\"shape\":(2,),\"fortran_order\":False}", doubles_le({7, 8}), 2));
    CHECK(same(load_npy(v1), tensor{{7, 8}}));
    CHECK(same(load_npy(v2), tensor{{7}, {8}}));
}

TEST_CASE("a valid header longer than 127 bytes loads (xtensor 0.24's reader misreads its length)", "[data][npy]") {
    auto path = scratch("long_header.npy");
    std::string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }" + std::string(130, ' ');
    std::string bytes = hand_npy(dict, doubles_le({4, 5}));
    REQUIRE(static_cast<unsigned char>(bytes[8]) >= 0x80);  // the low length byte has its top bit set
    write_file(path, bytes);
    CHECK(same(load_npy(path), tensor{{4}, {5}}));
}

TEST_CASE("a truncated .npy names the file and the missing bytes", "[data][npy]") {
    auto path = scratch("trunc.npy");
    save_npy(tensor{{1, 2}, {3, 4}}, path);
    std::string b = read_file(path);
    write_file(path, b.substr(0, b.size() - 5));
    CHECK(npy_error(path) == path + ": truncated .npy file: shape (2, 2) needs 32 data bytes, the file has 27");
    write_file(path, b.substr(0, 40));
    CHECK(npy_error(path) == path + ": truncated .npy file (the header says 118 bytes, the file has 30 after it starts)");
    write_file(path, b.substr(0, 9));
    CHECK(npy_error(path) == path + ": truncated .npy file (ends inside the header length)");
    write_file(path, b + "xx");
    CHECK(npy_error(path) == path + ": trailing bytes in .npy file: shape (2, 2) needs 32 data bytes, the file has 34");
}

TEST_CASE("a wrong magic or an unknown version is refused naming the file", "[data][npy]") {
    auto path = scratch("magic.npy");
    write_file(path, "PK\x03\x04 this is a zip, not an npy file");
    CHECK(npy_error(path) == path + ": not a .npy file (wrong magic bytes; expected \\x93NUMPY)");
    write_file(path, "\x93NU");
    CHECK(npy_error(path) == path + ": not a .npy file (3 bytes, too short for the magic)");
    std::string v9 = hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }", doubles_le({1}));
    v9[6] = 9;
    write_file(path, v9);
    CHECK(npy_error(path) == path + ": unsupported .npy format version 9.0 (1.0, 2.0 and 3.0 are read)");
}

TEST_CASE("a garbage .npy header is refused naming the file", "[data][npy]") {
    auto path = scratch("garbage.npy");
    auto check_garbage = [&](const std::string& dict) {
        write_file(path, hand_npy(dict, doubles_le({1})));
        std::string message = npy_error(path);
        INFO(dict);
        CHECK(message.rfind(path + ": garbage .npy header (", 0) == 0);
    };
    check_garbage("not a dict at all");
    check_garbage("{'descr': '<f8', 'fortran_order': False}");                            // no shape
    check_garbage("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1, 1), }");
    check_garbage("{'descr': '<f8', 'fortran_order': False, 'shape': (1, x), }");
    check_garbage("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), 'extra': 1}");
    check_garbage("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 1), }");
    check_garbage("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), } junk");
    check_garbage(std::string("{'descr': '<f8\0', 'fortran_order'", 30));
}

TEST_CASE("a shape too large to address is refused, not allocated", "[data][npy]") {
    auto path = scratch("huge.npy");
    write_file(path, hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", ""));
    CHECK(npy_error(path) == path + ": shape (4294967296, 4294967296) is too large");
    write_file(path, hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }", ""));
    CHECK(npy_error(path) == path + ": truncated .npy file: shape (100000, 100000) needs 80000000000 data bytes, the file has 0");
}

TEST_CASE("a NaN or Inf element in a .npy is refused naming the file and element", "[data][npy]") {
    auto path = scratch("nan.npy");
    save_npy(tensor{{1.0, std::numeric_limits<double>::quiet_NaN()}}, path);
    CHECK(npy_error(path) == path + ": element 1 (row 0, column 1) is NaN");
}

TEST_CASE("a 1-D array fits an (n x 1) or (1 x n) tensor but no other shape", "[data][npy]") {
    auto path = scratch("bias.npy");
    write_file(path, hand_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", doubles_le({1, 2, 3})));
    CHECK(same(load_npy(path, shape2{3, 1}), tensor{{1}, {2}, {3}}));
    CHECK(same(load_npy(path, shape2{1, 3}), tensor{{1, 2, 3}}));
    CHECK_THROWS_WITH(load_npy(path, shape2{3, 3}),
                      path + ": array of shape (3,) does not fit the expected (3x3) (a 1-D array fits (n x 1) or (1 x n))");
}

TEST_CASE("parameters saved to a directory load back into a fresh graph", "[data][npy]") {
    auto dir = scratch("params_round");
    std::filesystem::remove_all(dir);
    graph g;
    auto W1 = g.parameter("W1", {2, 3});
    auto b1 = g.parameter("b1", {2, 1});
    g.value(W1) = tensor{{1, 2, 3}, {4, 5, 6}};
    g.value(b1) = tensor{{-1}, {0.5}};
    save_parameters(g, dir);
    CHECK(std::filesystem::exists(dir + "/W1.npy"));
    CHECK(std::filesystem::exists(dir + "/b1.npy"));

    graph h;
    auto W1h = h.parameter("W1", {2, 3});
    auto b1h = h.parameter("b1", {2, 1});
    load_parameters(h, dir);
    CHECK(same(h.value(W1h), g.value(W1)));
    CHECK(same(h.value(b1h), g.value(b1)));
}

TEST_CASE("loading parameters of the wrong shape names the file and both shapes and changes nothing",
          "[data][npy]") {
    auto dir = scratch("params_shape");
    std::filesystem::remove_all(dir);
    graph g;
    auto W1 = g.parameter("W1", {2, 3});
    g.parameter("W2", {1, 2});
    g.value(W1) = tensor{{1, 2, 3}, {4, 5, 6}};
    save_parameters(g, dir);

    graph h;
    auto a = h.parameter("W1", {2, 3});
    h.parameter("W2", {1, 4});
    CHECK_THROWS_WITH(load_parameters(h, dir), dir + "/W2.npy: array of shape (1, 2) does not fit the expected (1x4)");
    CHECK(same(h.value(a), tensor{{0, 0, 0}, {0, 0, 0}}));  // W1 was readable but not applied
}

TEST_CASE("loading parameters with a file missing names that file", "[data][npy]") {
    auto dir = scratch("params_missing");
    std::filesystem::remove_all(dir);
    graph g;
    g.parameter("W1", {2, 3});
    save_parameters(g, dir);
    graph h;
    h.parameter("W1", {2, 3});
    h.parameter("b1", {2, 1});
    CHECK_THROWS_WITH(load_parameters(h, dir), dir + "/b1.npy: missing; parameter b1 (2x1) needs it");
    CHECK_THROWS_WITH(load_parameters(h, dir + "/nowhere"), dir + "/nowhere: not a directory of parameter files");
}

TEST_CASE(".npy bytes parsed from memory load like the file and name their source in errors", "[data][npy]") {
    auto path = scratch("memory.npy");
    save_npy(tensor{{1, 2}, {3, 4}}, path);
    std::string bytes = read_file(path);
    CHECK(same(parse_npy(bytes, "inline"), tensor{{1, 2}, {3, 4}}));
    CHECK_THROWS_WITH(parse_npy(bytes.substr(0, bytes.size() - 8), "inline"),
                      "inline: truncated .npy file: shape (2, 2) needs 32 data bytes, the file has 24");
}
