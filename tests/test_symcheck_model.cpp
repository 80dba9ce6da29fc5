// symcheck --model end to end: the user's file analysed with and without data, --compress and its refusals.
#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

using nlohmann::json;
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
}

TEST_CASE("symcheck --compress must name a file of the input's format", "[symcheck][model]") {
    check_one_line_refusal("--model m.npz --compress out.onnx", "must end in .npz, the format of --model 'm.npz'");
    check_one_line_refusal("--model m.safetensors --compress out.bin", "must end in .safetensors");
}
