// symcheck's reports on k-class data: text and JSON name the classes and the softmax head, and the binary
// report keeps its words and fields.
#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "analysis/symmetry.hpp"
#include "experiment.hpp"
#include "outputs.hpp"

using namespace symgrad;
using namespace symgrad::symcheck;

namespace {

// Six penguins in three classes (3, 2 and 1 of them) and one run whose reports come from the analysis
// of a zero-initialised 3-output network (the report code reads them as symcheck's runs give them).
experiment three_class_experiment() {
    experiment ex;
    ex.data.X = tensor{{1, 2, 3, 4, 5, 6}, {0, 1, 0, 1, 0, 1}};
    ex.data.Y = tensor{{1, 1, 1, 0, 0, 0}, {0, 0, 0, 1, 1, 0}, {0, 0, 0, 0, 0, 1}};
    ex.data.feature_names = {"bill", "island_biscoe"};
    ex.data.label_name = "species";
    ex.data.class_names = {"Adelie", "Chinstrap", "Gentoo"};
    ex.data.source = "penguins.csv";
    ex.spec = {2, {4}, activation::tanh, 3};
    mlp net = build_mlp(ex.spec, 6);
    net.g.feed({{net.X, ex.data.X}, {net.Y, ex.data.Y}});
    for (node p : net.g.parameters()) net.g.value(p).fill(0.0);
    run_result run;
    run.init = "zeros";
    run.initial = analyze_symmetry(net.g, net.loss);
    run.final = run.initial;
    run.trace = {{0, 1.0986, 4}};
    run.initial_cost = run.final_cost = 1.0986;
    ex.runs.push_back(run);
    return ex;
}

}  // namespace

TEST_CASE("symcheck's text report names the classes, their sizes and the softmax head", "[symcheck][multiclass]") {
    config cfg;
    const std::string text = text_report(cfg, three_class_experiment());
    INFO(text);
    CHECK(text.find("symcheck: penguins.csv, 6 samples in 3 classes (Adelie 3, Chinstrap 2, Gentoo 1), 2 features\n") == 0);
    CHECK(text.find(", softmax output over 3 classes, softmax cross-entropy\n") != std::string::npos);
    CHECK(text.find("positive") == std::string::npos);
    CHECK(text.find("sigmoid output") == std::string::npos);
}

TEST_CASE("symcheck's JSON report gives a classes array and the softmax head", "[symcheck][multiclass]") {
    config cfg;
    auto j = nlohmann::json::parse(json_report(cfg, three_class_experiment()));
    CHECK(j["data"]["classes"] == nlohmann::json({"Adelie", "Chinstrap", "Gentoo"}));
    CHECK(j["data"]["class_samples"] == nlohmann::json({3, 2, 1}));
    CHECK_FALSE(j["data"].contains("positives"));  // a count of 1s would be the sample count
    CHECK(j["model"]["output"] == "softmax");
    CHECK(j["model"]["loss"] == "softmax_cross_entropy");
    CHECK(j["model"]["outputs"] == 3);
    CHECK(j["runs"][0]["verdict"] == "frozen");
}

TEST_CASE("symcheck's binary reports keep the positives, the sigmoid head and no classes fields",
          "[symcheck][multiclass]") {
    experiment ex = three_class_experiment();
    ex.data.Y = tensor{{1, 1, 0, 0, 0, 1}};
    ex.data.class_names = {"0", "1"};
    ex.spec.outputs = 1;
    config cfg;
    const std::string text = text_report(cfg, ex);
    CHECK(text.find("symcheck: penguins.csv, 6 samples (3 positive), 2 features\n") == 0);
    CHECK(text.find(", sigmoid output, binary cross-entropy\n") != std::string::npos);
    auto j = nlohmann::json::parse(json_report(cfg, ex));
    CHECK(j["data"]["positives"] == 3);
    CHECK_FALSE(j["data"].contains("classes"));
    CHECK_FALSE(j["data"].contains("class_samples"));
    CHECK_FALSE(j["model"].contains("outputs"));
    CHECK(j["model"]["output"] == "sigmoid");
    CHECK(j["model"]["loss"] == "bce_with_logits");
}
