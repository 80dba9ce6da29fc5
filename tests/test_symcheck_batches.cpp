// symcheck --batch-size and --validation end to end: verdicts, accuracy in text and JSON, and refusals.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "run_command.hpp"

using nlohmann::json;
using symgrad::testing::run_command;

namespace {
const std::string exe = SYMCHECK_EXE;
}  // namespace

TEST_CASE("symcheck with mini-batches gives the article's verdicts", "[symcheck][cli][minibatch]") {
    auto r = run_command(exe, "--batch-size 100 --iterations 200 --json -");
    REQUIRE(r.status == 1);  // zeros is frozen and constant:0.5 symmetric, as with the full batch
    json j = json::parse(r.out);
    CHECK(j["training"]["batch_size"] == 100);
    std::vector<std::string> verdicts;
    for (const auto& run : j["runs"]) verdicts.push_back(run["verdict"]);
    CHECK(verdicts == std::vector<std::string>{"frozen", "symmetric", "healthy", "healthy"});
    for (const auto& run : j["runs"]) {
        CHECK(run["training_evaluation"]["samples"] == 2201);
        CHECK(run["training_evaluation"]["accuracy"].get<double>() > 0.6);
        CHECK_FALSE(run.contains("validation_evaluation"));
    }
}

TEST_CASE("symcheck --validation holds samples out and reports accuracy on both parts", "[symcheck][cli][minibatch]") {
    auto r = run_command(exe, "--validation 0.25 --init glorot --iterations 100 --json -");
    REQUIRE(r.status == 0);
    json j = json::parse(r.out);
    CHECK(j["data"]["samples"] == 1651);
    CHECK(j["data"]["validation_samples"] == 550);
    const auto& run = j["runs"][0];
    CHECK(run["training_evaluation"]["samples"] == 1651);
    CHECK(run["validation_evaluation"]["samples"] == 550);
    // Full batch: the last pass is the whole training set, so its cost is the evaluation's.
    CHECK(run["training_evaluation"]["cost"].get<double>() == Approx(run["final_cost"].get<double>()).epsilon(1e-12));
    auto text = run_command(exe, "--validation 0.25 --init glorot --iterations 100");
    CHECK(text.out.find("validation: 550 samples held out") != std::string::npos);
    CHECK(text.out.find("accuracy after training") != std::string::npos);
    CHECK(text.out.find("glorot: training 0.") != std::string::npos);
    CHECK(text.out.find(", validation 0.") != std::string::npos);
}

TEST_CASE("symcheck without the new flags reports no accuracy", "[symcheck][cli][minibatch]") {
    auto r = run_command(exe, "--init glorot --iterations 10 --json -");
    json j = json::parse(r.out);
    CHECK_FALSE(j["runs"][0].contains("training_evaluation"));
    CHECK_FALSE(j["training"].contains("batch_size"));
}

TEST_CASE("symcheck refuses a bad batch size or validation fraction", "[symcheck][cli][minibatch]") {
    auto zero = run_command(exe, "--batch-size 0");
    CHECK(zero.status == 2);
    CHECK(zero.err.find("--batch-size: must be at least 1, got 0") != std::string::npos);
    for (const char* f : {"0", "1", "1.5", "-0.1", "x"}) {
        auto r = run_command(exe, std::string("--validation ") + f);
        INFO(f);
        CHECK(r.status == 2);
        CHECK(r.err.find("--validation: ") != std::string::npos);
    }
}
