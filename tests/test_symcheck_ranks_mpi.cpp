// symcheck's MPI modes without MPI: run_experiment over thread ranks (tests/thread_collective.hpp) against the
// single process. Data mode (one run): costs within 1e-12, same verdicts and classes; runs mode (several runs):
// bit-identical; refusals and failures agreed by every rank. The mpirun tests are in tests/mpi/.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "experiment.hpp"
#include "failures.hpp"
#include "options.hpp"
#include "thread_collective.hpp"

using namespace symgrad;
using namespace symgrad::symcheck;

namespace {

config parse(std::vector<const char*> args) {
    args.insert(args.begin(), "symcheck");
    args.push_back("-q");
    return parse_command_line(int(args.size()), args.data()).cfg;
}

std::vector<experiment> on_ranks(std::size_t ranks, const config& cfg) {
    std::vector<experiment> out(ranks);
    testing::run_ranks(ranks, [&](collective& peers) { out[peers.rank()] = run_experiment(cfg, nullptr, &peers); });
    return out;
}

// The agreed failure each of 2 ranks threw running cfg, in rank order (a rank that threw none is missing).
std::vector<failure> agreed_failures(const config& cfg) {
    std::vector<failure> out(2);
    std::vector<bool> threw(2, false);
    testing::run_ranks(2, [&](collective& peers) {
        try {
            run_experiment(cfg, nullptr, &peers);
        } catch (const agreed_failure& e) {
            out[peers.rank()] = e.what_failed();
            threw[peers.rank()] = true;
        }
    });
    if (!threw[1]) out.pop_back();
    if (!threw[0]) out.erase(out.begin());
    return out;
}

}  // namespace

TEST_CASE("Data mode over 2 and 3 ranks gives the single process's costs within 1e-12 and its verdicts", "[symcheck][ranks]") {
    // 1e-12 relative: the bound; the shards only regroup the sums (measured ~1e-14, docs/distributed.md).
    config cfg = parse({"--init", "glorot", "--seed", "3", "--lr", "0.5", "--iterations", "200", "--hidden", "4,3"});
    experiment one = run_experiment(cfg, nullptr, nullptr);
    REQUIRE(one.runs[0].final_cost < one.runs[0].initial_cost - 1e-3);  // it trains
    for (std::size_t ranks : {2u, 3u}) {
        CAPTURE(ranks);
        for (const auto& ex : on_ranks(ranks, cfg)) {
            const run_result &a = one.runs[0], &b = ex.runs[0];
            REQUIRE(b.trace.size() == a.trace.size());
            for (std::size_t i = 0; i < a.trace.size(); ++i)
                REQUIRE(std::abs(b.trace[i].cost - a.trace[i].cost) <= 1e-12 * a.trace[i].cost);
            REQUIRE(b.final.verdict == a.final.verdict);
            REQUIRE(b.initial.verdict == a.initial.verdict);
            for (std::size_t l = 0; l < a.final.layers.size(); ++l) {
                REQUIRE(b.final.layers[l].classes == a.final.layers[l].classes);
                REQUIRE(b.final.layers[l].inactive_units == a.final.layers[l].inactive_units);
                REQUIRE(b.final.layers[l].output_zero == a.final.layers[l].output_zero);
                for (std::size_t u = 0; u < a.final.layers[l].max_derivative.size(); ++u)
                    REQUIRE(b.final.layers[l].max_derivative[u] ==
                            Approx(a.final.layers[l].max_derivative[u]).epsilon(1e-9));
            }
            REQUIRE(ex.samples() == one.samples());  // the report counts the whole data
            REQUIRE(ex.label_counts == one.label_counts);
        }
    }
}

TEST_CASE("A dead relu layer gets the single process's zero-output fact and verdict on every rank", "[symcheck][ranks]") {
    // relu units all dead from the start (each shard alone agrees here; the max-derivative test above is the one
    // whose shards disagree, and fails without the reduction).
    config cfg = parse({"--init", "constant:-1", "--hidden", "3", "--activation", "relu", "--iterations", "5"});
    experiment one = run_experiment(cfg, nullptr, nullptr);
    REQUIRE(one.runs[0].final.layers[0].output_zero);
    for (const auto& ex : on_ranks(2, cfg)) {
        REQUIRE(ex.runs[0].final.layers[0].output_zero);
        REQUIRE(ex.runs[0].final.verdict == one.runs[0].final.verdict);
    }
}

TEST_CASE("Runs mode over 2 and 3 ranks gives every rank the single process's runs bit for bit", "[symcheck][ranks]") {
    config cfg = parse({"--init", "constant:0.5", "--init", "glorot", "--init", "he", "--iterations", "100",
                        "--optimizer", "adam", "--lr", "0.3"});
    experiment one = run_experiment(cfg, nullptr, nullptr);
    for (std::size_t ranks : {2u, 3u})
        for (const auto& ex : on_ranks(ranks, cfg)) {
            REQUIRE(ex.runs.size() == 3);
            for (std::size_t k = 0; k < 3; ++k) {
                REQUIRE(ex.runs[k].init == one.runs[k].init);
                REQUIRE(ex.runs[k].final_cost == one.runs[k].final_cost);  // exact: each run computed whole
                REQUIRE(ex.runs[k].final.verdict == one.runs[k].final.verdict);
            }
        }
}

TEST_CASE("Data mode refuses --batch-size and --validation on every rank with one line", "[symcheck][ranks]") {
    for (auto flag : {"--batch-size", "--validation"}) {
        config cfg = parse({"--init", "glorot", flag, std::string(flag) == "--batch-size" ? "100" : "0.2"});
        std::vector<failure> failed = agreed_failures(cfg);
        REQUIRE(failed.size() == 2);
        REQUIRE(failed[0].line == failed[1].line);
        REQUIRE(failed[0].exit_code == exit_bad_input);
        REQUIRE(failed[1].exit_code == exit_bad_input);
        REQUIRE_THAT(failed[0].line, Catch::StartsWith(std::string("symcheck: error: ") + flag + ": not available with 2 processes"));
    }
}

TEST_CASE("A failing run in runs mode fails every rank with the single process's line", "[symcheck][ranks]") {
    // lr 30 diverges; the single process stops at the first run, and so must every rank.
    config cfg = parse({"--init", "glorot", "--init", "constant:0.3", "--lr", "30", "--iterations", "200"});
    std::string single;
    try {
        run_experiment(cfg, nullptr, nullptr);
    } catch (const std::exception& e) {
        single = classify(std::current_exception()).line;
    }
    REQUIRE_THAT(single, Catch::Contains("training diverged in run 'glorot'"));
    std::vector<failure> failed = agreed_failures(cfg);
    REQUIRE(failed.size() == 2);
    REQUIRE(failed[0].line == single);
    REQUIRE(failed[1].line == single);
}
