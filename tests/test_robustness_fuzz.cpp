// The fuzzers' seed corpus and every input they ever crashed on (fuzz/regressions/), replayed through the
// same checks as the fuzz targets, in the ordinary (and the sanitizer) test build.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "fuzz/fuzz_checks.hpp"
#include "run_command.hpp"

using symgrad::testing::slurp;

namespace {

std::vector<std::filesystem::path> files_in(const std::string& folder) {
    std::vector<std::filesystem::path> files;
    std::filesystem::path dir = std::filesystem::path(SYMGRAD_SOURCE_DIR) / folder;
    if (std::filesystem::is_directory(dir))
        for (const auto& e : std::filesystem::directory_iterator(dir))
            if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

const std::uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

}  // namespace

TEST_CASE("every CSV in the fuzz corpus and regressions loads consistently or is refused cleanly",
          "[robustness][fuzz][csv]") {
    auto files = files_in("fuzz/corpus/csv"), regressions = files_in("fuzz/regressions/csv");
    files.insert(files.end(), regressions.begin(), regressions.end());
    REQUIRE(files.size() >= 20);  // the committed seed corpus is there
    for (const auto& f : files) {
        INFO(f);
        std::string bytes = slurp(f);
        const char* broken = "";
        CHECK_NOTHROW(broken = symgrad::fuzzing::run_csv(bytes_of(bytes), bytes.size()));
        CHECK(broken == nullptr);
    }
}

TEST_CASE("every .npy in the fuzz corpus and regressions loads consistently or is refused cleanly",
          "[robustness][fuzz][npy]") {
    auto files = files_in("fuzz/corpus/npy"), regressions = files_in("fuzz/regressions/npy");
    files.insert(files.end(), regressions.begin(), regressions.end());
    REQUIRE(files.size() >= 10);
    for (const auto& f : files) {
        INFO(f);
        std::string bytes = slurp(f);
        const char* broken = "";
        CHECK_NOTHROW(broken = symgrad::fuzzing::run_npy(bytes_of(bytes), bytes.size()));
        CHECK(broken == nullptr);
    }
}

TEST_CASE("the seed corpus holds inputs the loaders accept as well as ones they refuse", "[robustness][fuzz]") {
    // A corpus of only refusals would never reach the code after validation.
    std::size_t csv_accepted = 0, npy_accepted = 0;
    for (const auto& f : files_in("fuzz/corpus/csv")) {
        std::string b = slurp(f);
        try {
            symgrad::parse_csv(b.substr(1), f.string(), symgrad::fuzzing::csv_options_from(static_cast<unsigned char>(b[0])));
            ++csv_accepted;
        } catch (const symgrad::error&) {
        }
    }
    for (const auto& f : files_in("fuzz/corpus/npy")) {
        try {
            symgrad::parse_npy(slurp(f), f.string());
            ++npy_accepted;
        } catch (const symgrad::error&) {
        }
    }
    CHECK(csv_accepted >= 10);
    CHECK(npy_accepted >= 3);
}
