// Runs mode: run_results from real symcheck runs survive encode/decode field for field and bit for bit, and
// gather_runs over thread ranks gives the single-process list of runs exactly; corrupt bytes are refused.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/error.hpp"
#include "experiment.hpp"
#include "outputs.hpp"
#include "sweep.hpp"
#include "thread_collective.hpp"

using namespace symgrad;
using namespace symgrad::symcheck;

namespace {

// Field-by-field equality written independently of the codec: doubles by their bits. `first` names the path
// of the first difference, so a failure says which field.
struct comparison {
    std::string first;
    void check(const std::string& path, bool equal) {
        if (!equal && first.empty()) first = path;
    }
};

std::uint64_t bits(double d) {
    std::uint64_t v;
    std::memcpy(&v, &d, sizeof v);
    return v;
}

void same(comparison& c, const std::string& p, double a, double b) { c.check(p, bits(a) == bits(b)); }
void same(comparison& c, const std::string& p, bool a, bool b) { c.check(p, a == b); }
void same(comparison& c, const std::string& p, std::size_t a, std::size_t b) { c.check(p, a == b); }
void same(comparison& c, const std::string& p, long a, long b) { c.check(p, a == b); }
void same(comparison& c, const std::string& p, int a, int b) { c.check(p, a == b); }
void same(comparison& c, const std::string& p, const std::string& a, const std::string& b) { c.check(p, a == b); }
void same(comparison& c, const std::string& p, symmetry_verdict a, symmetry_verdict b) { c.check(p, a == b); }
void same(comparison& c, const std::string& p, reason_code a, reason_code b) { c.check(p, a == b); }
void same(comparison& c, const std::string& p, const tensor& a, const tensor& b) {
    c.check(p + ".shape", a.shape() == b.shape());
    if (a.shape() != b.shape()) return;
    for (std::size_t i = 0; i < a.size(); ++i) same(c, p + "[" + std::to_string(i) + "]", a.data()[i], b.data()[i]);
}
void same(comparison& c, const std::string& p, const initializer& a, const initializer& b) {
    c.check(p + ".how", a.how == b.how);
    same(c, p + ".a", a.a, b.a), same(c, p + ".b", a.b, b.b);
}
void same(comparison& c, const std::string& p, const evaluation& a, const evaluation& b) {
    same(c, p + ".cost", a.cost, b.cost), same(c, p + ".accuracy", a.accuracy, b.accuracy);
    same(c, p + ".samples", a.samples, b.samples);
}
void same(comparison& c, const std::string& p, const trace_point& a, const trace_point& b);
void same(comparison& c, const std::string& p, const reason& a, const reason& b);
void same(comparison& c, const std::string& p, const class_growth& a, const class_growth& b);
void same(comparison& c, const std::string& p, const group_separation& a, const group_separation& b);
void same(comparison& c, const std::string& p, const layer_lookahead& a, const layer_lookahead& b);
void same(comparison& c, const std::string& p, const layer_report& a, const layer_report& b);
void same(comparison& c, const std::string& p, const symmetry_report& a, const symmetry_report& b);

template <class T> void same(comparison& c, const std::string& p, const std::vector<T>& a, const std::vector<T>& b) {
    c.check(p + ".size", a.size() == b.size());
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        same(c, p + "[" + std::to_string(i) + "]", T(a[i]), T(b[i]));
}
template <class T> void same(comparison& c, const std::string& p, const std::optional<T>& a, const std::optional<T>& b) {
    c.check(p + ".has_value", a.has_value() == b.has_value());
    if (a && b) same(c, p, *a, *b);
}
template <class V> void same(comparison& c, const std::string& p, const std::map<std::string, V>& a,
                             const std::map<std::string, V>& b) {
    c.check(p + ".size", a.size() == b.size());
    for (const auto& [k, v] : a) {
        c.check(p + "[" + k + "] present", b.count(k) == 1);
        if (b.count(k)) same(c, p + "[" + k + "]", v, b.at(k));
    }
}
void same(comparison& c, const std::string& p, const std::pair<std::string, std::string>& a,
          const std::pair<std::string, std::string>& b) {
    same(c, p + ".first", a.first, b.first), same(c, p + ".second", a.second, b.second);
}

void same(comparison& c, const std::string& p, const trace_point& a, const trace_point& b) {
    same(c, p + ".iteration", a.iteration, b.iteration), same(c, p + ".cost", a.cost, b.cost);
    same(c, p + ".effective_width", a.effective_width, b.effective_width);
}
void same(comparison& c, const std::string& p, const reason& a, const reason& b) {
    same(c, p + ".code", a.code, b.code), same(c, p + ".units", a.units, b.units);
    same(c, p + ".classes", a.classes, b.classes), same(c, p + ".groups", a.groups, b.groups);
    same(c, p + ".layers", a.layers, b.layers), same(c, p + ".layer", a.layer, b.layer);
    same(c, p + ".activation_kind", a.activation_kind, b.activation_kind);
    same(c, p + ".parameters", a.parameters, b.parameters), same(c, p + ".example_units", a.example_units, b.example_units);
    same(c, p + ".frozen_units", a.frozen_units, b.frozen_units), same(c, p + ".steps", a.steps, b.steps);
    same(c, p + ".optimizer", a.optimizer, b.optimizer), same(c, p + ".growth", a.growth, b.growth);
    same(c, p + ".iteration", a.iteration, b.iteration), same(c, p + ".recommended", a.recommended, b.recommended);
}
void same(comparison& c, const std::string& p, const class_growth& a, const class_growth& b) {
    same(c, p + ".cls", a.cls, b.cls), same(c, p + ".initial_spread", a.initial_spread, b.initial_spread);
    same(c, p + ".final_spread", a.final_spread, b.final_spread), same(c, p + ".max_spread", a.max_spread, b.max_spread);
    same(c, p + ".growth_per_100", a.growth_per_100, b.growth_per_100);
    same(c, p + ".separated_at", a.separated_at, b.separated_at);
    same(c, p + ".predicted_separation", a.predicted_separation, b.predicted_separation);
    same(c, p + ".grows", a.grows, b.grows), same(c, p + ".steady", a.steady, b.steady);
}
void same(comparison& c, const std::string& p, const group_separation& a, const group_separation& b) {
    same(c, p + ".units", a.units, b.units), same(c, p + ".separated_at", a.separated_at, b.separated_at);
}
void same(comparison& c, const std::string& p, const layer_lookahead& a, const layer_lookahead& b) {
    same(c, p + ".classes", a.classes, b.classes), same(c, p + ".groups", a.groups, b.groups);
    same(c, p + ".moved", a.moved, b.moved);
}
void same(comparison& c, const std::string& p, const layer_report& a, const layer_report& b) {
    same(c, p + ".name", a.name, b.name), same(c, p + ".activation", a.activation, b.activation);
    same(c, p + ".activation_kind", a.activation_kind, b.activation_kind);
    same(c, p + ".parameters", a.parameters, b.parameters), same(c, p + ".units", a.units, b.units);
    same(c, p + ".effective_width", a.effective_width, b.effective_width);
    same(c, p + ".classes", a.classes, b.classes), same(c, p + ".signs", a.signs, b.signs);
    same(c, p + ".class_keys", a.class_keys, b.class_keys), same(c, p + ".class_spreads", a.class_spreads, b.class_spreads);
    same(c, p + ".max_derivative", a.max_derivative, b.max_derivative);
    same(c, p + ".inactive_units", a.inactive_units, b.inactive_units);
    same(c, p + ".frozen_units", a.frozen_units, b.frozen_units), same(c, p + ".lookahead", a.lookahead, b.lookahead);
    same(c, p + ".transient_groups", a.transient_groups, b.transient_groups), same(c, p + ".verdict", a.verdict, b.verdict);
    same(c, p + ".moving_parameters", a.moving_parameters, b.moving_parameters);
    same(c, p + ".output_zero", a.output_zero, b.output_zero), same(c, p + ".class_spread", a.class_spread, b.class_spread);
    same(c, p + ".why", a.why, b.why), same(c, p + ".fix", a.fix, b.fix);
}
void same(comparison& c, const std::string& p, const symmetry_report& a, const symmetry_report& b) {
    same(c, p + ".verdict", a.verdict, b.verdict), same(c, p + ".layers", a.layers, b.layers);
    same(c, p + ".moving_parameters", a.moving_parameters, b.moving_parameters);
    same(c, p + ".still_parameters", a.still_parameters, b.still_parameters), same(c, p + ".notes", a.notes, b.notes);
    same(c, p + ".relative_tolerance", a.relative_tolerance, b.relative_tolerance), same(c, p + ".exact", a.exact, b.exact);
    same(c, p + ".lookahead_ran", a.lookahead_ran, b.lookahead_ran);
    same(c, p + ".lookahead_steps", a.lookahead_steps, b.lookahead_steps);
    same(c, p + ".lookahead_optimizer", a.lookahead_optimizer, b.lookahead_optimizer);
    same(c, p + ".why", a.why, b.why), same(c, p + ".fix", a.fix, b.fix);
}
void same(comparison& c, const std::string& p, const run_result& a, const run_result& b) {
    same(c, p + ".init", a.init, b.init), same(c, p + ".trace", a.trace, b.trace);
    same(c, p + ".initial", a.initial, b.initial), same(c, p + ".final", a.final, b.final);
    same(c, p + ".initial_cost", a.initial_cost, b.initial_cost), same(c, p + ".final_cost", a.final_cost, b.final_cost);
    same(c, p + ".moved", a.moved, b.moved);
    same(c, p + ".on_training", a.on_training, b.on_training), same(c, p + ".on_validation", a.on_validation, b.on_validation);
    same(c, p + ".saved_files", a.saved_files, b.saved_files);
    same(c, p + ".final_parameters", a.final_parameters, b.final_parameters);
}

// The first differing field of two lists of runs ("" when equal).
std::string first_difference(const std::vector<run_result>& a, const std::vector<run_result>& b) {
    comparison c;
    same(c, "runs", a, b);
    return c.first;
}

config from_command_line(std::vector<const char*> args) {
    args.insert(args.begin(), "symcheck");
    return parse_command_line(int(args.size()), args.data()).cfg;
}

// Five initialisers (symmetric, frozen, healthy and relu-style runs), short training, a validation split (so
// the evaluations are set) and --save (so the .npy bytes are), on the embedded Titanic data.
config sweep_config() {
    return from_command_line({"--init", "zeros", "--init", "constant:0.5", "--init", "normal:0.01", "--init", "glorot", "--init",
                   "he", "--iterations", "25", "--lookahead", "10", "--validation", "0.2", "--save", "unused-dir", "-q"});
}

// The runs of `cfg` computed the single-process way, once for the file.
const experiment& single_process() {
    static const experiment ex = run_experiment(sweep_config(), nullptr);
    return ex;
}

}  // namespace

TEST_CASE("real symcheck runs survive encode and decode field for field, bit for bit", "[sweep]") {
    const experiment& ex = single_process();
    REQUIRE(ex.runs.size() == 5);
    std::vector<run_result> decoded;
    for (const auto& run : ex.runs) decoded.push_back(decode(encode(run)));
    CHECK(first_difference(ex.runs, decoded) == "");
    // The test can fail: it sees one last bit of one double, and a lost optional.
    REQUIRE(ex.runs[2].on_validation.has_value());
    REQUIRE_FALSE(ex.runs[2].saved_files.empty());
    decoded[2].final.layers.at(0).class_spread = std::nextafter(decoded[2].final.layers.at(0).class_spread, 1.0);
    CHECK(first_difference(ex.runs, decoded) == "runs[2].final.layers[0].class_spread");
    decoded[2] = decode(encode(ex.runs[2]));
    decoded[2].on_validation.reset();
    CHECK(first_difference(ex.runs, decoded) == "runs[2].on_validation.has_value");
}

TEST_CASE("decoded runs give symcheck's reports and trace byte for byte", "[sweep]") {
    const experiment& ex = single_process();
    experiment copy = ex;
    for (auto& run : copy.runs) run = decode(encode(run));
    const config cfg = sweep_config();
    CHECK(json_report(cfg, copy) == json_report(cfg, ex));
    CHECK(text_report(cfg, copy) == text_report(cfg, ex));
    CHECK(trace_csv(copy) == trace_csv(ex));
    CHECK(exit_status(copy) == exit_status(ex));
}

TEST_CASE("a --model run keeps its final parameters through encode and decode", "[sweep]") {
    const std::string model = std::string(SYMGRAD_SOURCE_DIR) + "/tests/fixtures/models/torch/constant.npz";
    const experiment ex = run_experiment(from_command_line({"--model", model.c_str(), "--data", "titanic", "--iterations", "5",
                                                 "--lookahead", "5", "-q"}), nullptr);
    REQUIRE(ex.runs.size() == 1);
    REQUIRE(ex.runs[0].final_parameters.size() == 4);
    const std::vector<run_result> decoded{decode(encode(ex.runs[0]))};
    CHECK(first_difference(ex.runs, decoded) == "");
    CHECK(decoded[0].final_parameters.at("0.weight").shape() == std::array<std::size_t, 2>{4, 6});
}

namespace {

// A run whose every field, at every depth, differs from its default (so a field the codec dropped would
// decode to its default and differ), with the doubles that text formats lose: NaN payloads, infinities, -0,
// denormals; strings holding NUL bytes; an empty tensor.
run_result every_field_set() {
    reason why{reason_code::ties_fragile, 1, 2, 3, 4, "hidden layer 1", "tanh", {"W1", "b1"}, {0, 2}, 5, 6, "adam",
               -0.0, -7, initializer::normal(0.0, 0.01)};
    layer_report layer{"hidden layer 1 (A1: W1, b1, W2)", "A1", "tanh", {"W1", "b1", "W2"}, 4, 2, {{0, 2}, {1, 3}},
                       {1, -1, 1, -1}, {"b1", "dW1"}, {{0.0, 1e-300}, {2.5, -0.0}}, {-1.0, 0.5}, {3}, {1}};
    layer.lookahead = {{{1, 0.0, 1e-300, 2.0, 1.5, -1, 120, true, true}}, {{{0, 1}, 17}}, {true, false, true}};
    layer.transient_groups = {{0, 1}};
    layer.verdict = symmetry_verdict::fragile;
    layer.moving_parameters = {"W2"};
    layer.output_zero = true;
    layer.class_spread = std::numeric_limits<double>::denorm_min();
    layer.why = {why};
    layer.fix = {why, reason{}};
    symmetry_report report{symmetry_verdict::frozen, {layer, layer_report{}}, {"W2"}, {"W1"}, {"a note"}, 1e-9, true,
                           true, 300, "gd", {why}, {why}};
    run_result run;
    run.init = std::string("a\0b", 3);
    std::uint64_t payload = 0x7ff8000000001234ull;
    std::memcpy(&run.final_cost, &payload, sizeof payload);
    run.initial_cost = -0.0;
    run.trace = {{0, std::numeric_limits<double>::infinity(), std::nullopt}, {1, -std::numeric_limits<double>::infinity(), 3}};
    run.initial = report;
    run.final = report;
    run.final.verdict = symmetry_verdict::symmetric;
    run.moved = {{"", true}, {"W1", false}};
    run.on_training = evaluation{std::numeric_limits<double>::denorm_min(), 0.5, 7};
    run.on_validation = evaluation{1.0, -0.0, 2};
    run.saved_files = {{"", ""}, {"W1.npy", std::string(300, '\0')}};
    run.final_parameters["empty"] = tensor::from_shape({0, 3});
    run.final_parameters["w"] = tensor{{1.0, -0.0}, {std::numeric_limits<double>::signaling_NaN(), 2.5}};
    return run;
}

}  // namespace

TEST_CASE("a run with every field set, NaN payloads, -0 and NUL bytes included, round-trips exactly", "[sweep]") {
    const run_result run = every_field_set();
    const std::vector<run_result> original{run}, decoded{decode(encode(run))}, empty{run_result{}};
    CHECK(first_difference(original, decoded) == "");
    CHECK(bits(decoded[0].final_cost) == 0x7ff8000000001234ull);
    CHECK(std::signbit(decoded[0].initial_cost));
    CHECK(first_difference(empty, {decode(encode(run_result{}))}) == "");
}

TEST_CASE("gather_runs over 1, 2, 3 and 5 ranks gives every rank the single-process runs in order", "[sweep]") {
    const experiment& whole = single_process();
    for (std::size_t ranks : {1, 2, 3, 5}) {
        INFO(ranks << " ranks");
        std::vector<std::vector<run_result>> gathered(ranks);
        testing::run_ranks(ranks, [&](collective& peers) {
            // Each rank runs only its own initialisers, as symcheck's runs mode does.
            config cfg = sweep_config();
            const auto mine = runs_of_rank(cfg.inits.size(), peers);
            std::vector<init_run> inits;
            for (std::size_t i : mine) inits.push_back(cfg.inits[i]);
            cfg.inits = inits;
            std::vector<run_result> results;
            if (!inits.empty()) results = run_experiment(cfg, nullptr).runs;
            gathered[peers.rank()] = gather_runs(std::move(results), whole.runs.size(), peers);
        });
        for (std::size_t r = 0; r < ranks; ++r) {
            INFO("rank " << r);
            CHECK(first_difference(whole.runs, gathered[r]) == "");
        }
    }
}

TEST_CASE("runs_of_rank deals the runs round robin", "[sweep]") {
    testing::run_ranks(3, [](collective& peers) {
        const std::vector<std::vector<std::size_t>> expected{{0, 3, 6}, {1, 4, 7}, {2, 5}};
        CHECK(runs_of_rank(8, peers) == expected[peers.rank()]);
        CHECK(runs_of_rank(0, peers).empty());
    });
}

TEST_CASE("a rank that sends the wrong number of runs fails every rank with the same line", "[sweep]") {
    std::vector<std::string> errors(2);
    testing::run_ranks(2, [&](collective& peers) {
        std::vector<run_result> mine(peers.rank() == 1 ? 2 : 1);  // rank 1 owns run 1 only
        try {
            gather_runs(mine, 2, peers);
        } catch (const input_error& e) {
            errors[peers.rank()] = e.what();
        }
    });
    CHECK(errors[0] == "gathering runs: rank 1 sent 2 runs, expected 1 of 2");
    CHECK(errors[1] == errors[0]);
}

TEST_CASE("a rank whose run failed makes every rank fail with its line before the gathering, none waiting",
          "[sweep]") {
    std::vector<std::string> outcome(3);
    testing::run_ranks(3, [&](collective& peers) {
        config cfg = sweep_config();
        std::string failure;
        std::vector<run_result> results;
        try {
            if (peers.rank() == 1) cfg.data = "/nonexistent/shard.csv";
            cfg.inits = {cfg.inits[peers.rank()]};
            results = run_experiment(cfg, nullptr).runs;
        } catch (const error& e) {
            failure = e.what();
        }
        // The protocol of sweep.hpp: agree on the first failure, then gather only if there is none.
        const std::string first = first_error(peers, failure);
        outcome[peers.rank()] = first.empty() ? "gathered " + std::to_string(gather_runs(results, 3, peers).size()) : first;
    });
    CHECK(outcome[0].find("/nonexistent/shard.csv") != std::string::npos);
    CHECK(outcome[1] == outcome[0]);
    CHECK(outcome[2] == outcome[0]);
}

TEST_CASE("truncated, extended or corrupt encodings are refused with one line naming the byte", "[sweep]") {
    const std::string good = encode(single_process().runs[1]);
    REQUIRE_NOTHROW(decode(good));
    // Every truncation, from nothing to one byte short, is refused (none crashes or reads past the end).
    for (std::size_t n = 0; n < good.size(); n += 1 + n / 64) {
        INFO("first " << n << " bytes");
        CHECK_THROWS_AS(decode(good.substr(0, n)), input_error);
    }
    CHECK_THROWS_WITH(decode(good + "x"), "run encoding: 1 bytes after the end (at byte " +
                                              std::to_string(good.size()) + " of " + std::to_string(good.size() + 1) + ")");
    CHECK_THROWS_WITH(decode("not a run"), Catch::Matchers::StartsWith("run encoding: does not start with"));
    // A huge length right after the header (the init label's) is refused before anything is allocated.
    std::string huge = good;
    const std::size_t at = std::string("symgrad run_result 1\n").size();
    for (std::size_t i = 0; i < 8; ++i) huge[at + i] = char(0xff);
    CHECK_THROWS_WITH(decode(huge), "run encoding: a length of 18446744073709551615 runs past the end (at byte 21 of " +
                                        std::to_string(good.size()) + ")");
    // An empty run: the header (21 bytes), the init's and the trace's lengths, then the initial report's
    // verdict at byte 37; its `exact` flag follows five more 8-byte fields, at byte 85.
    std::string enumerator = encode(run_result{}), flag = enumerator;
    enumerator[37] = 9;
    const std::string of = " of " + std::to_string(flag.size()) + ")";
    CHECK_THROWS_WITH(decode(enumerator), "run encoding: an enumerator of value 9 (at byte 37" + of);
    flag[85] = 2;
    CHECK_THROWS_WITH(decode(flag), "run encoding: a bool of value 2 (at byte 85" + of);
    // An empty tensor with an absurd dimension (found by fuzzing: it overflowed xtensor's strides).
    run_result empty_tensor;
    empty_tensor.final_parameters["e"] = tensor::from_shape({0, 3});
    std::string wide = encode(empty_tensor);  // ends with the tensor's rows and columns
    wide[wide.size() - 1] = char(0x80);
    CHECK_THROWS_WITH(decode(wide), "run encoding: an impossible tensor of 0 x 9223372036854775811 (at byte " +
                                        std::to_string(wide.size() - 16) + " of " + std::to_string(wide.size()) + ")");
    // Flipping any single byte either decodes to something or throws input_error: never a crash.
    for (std::size_t i = 0; i < good.size(); i += 7) {
        std::string bad = good;
        bad[i] = char(bad[i] ^ 0x5a);
        try {
            decode(bad);
        } catch (const input_error&) {
        }
    }
}
