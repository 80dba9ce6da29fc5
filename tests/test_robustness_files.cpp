// No half-written files: write_file_atomically leaves either the complete new file or what was there before,
// and never a temporary, whatever fails.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/files.hpp"
#include "engine/error.hpp"
#include "models/data.hpp"
#include "run_command.hpp"

using symgrad::io_error;
using symgrad::write_file_atomically;
using symgrad::testing::slurp;
using symgrad::testing::temp_dir;

namespace {

std::vector<std::string> entries(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

}  // namespace

TEST_CASE("a writer that throws half way leaves no target and no temporary", "[robustness][files]") {
    temp_dir dir("atomic-throw");
    auto half = [](std::ostream& out) {
        out << "first half\n";
        throw std::runtime_error("writer failed");
    };
    CHECK_THROWS_WITH(write_file_atomically(dir / "out.json", half), "writer failed");
    CHECK(entries(dir.path).empty());
}

TEST_CASE("an existing file survives a failed rewrite, byte for byte", "[robustness][files]") {
    temp_dir dir("atomic-keep");
    write_text(dir / "out.json", "old contents\n");
    auto half = [](std::ostream& out) {
        out << "new but incomplete";
        throw std::runtime_error("writer failed");
    };
    CHECK_THROWS(write_file_atomically(dir / "out.json", half));
    CHECK(slurp(dir.path / "out.json") == "old contents\n");
    CHECK(entries(dir.path) == std::vector<std::string>{"out.json"});
}

TEST_CASE("a stream that fails while writing (as on a full disk) is an io_error and leaves nothing",
          "[robustness][files]") {
    temp_dir dir("atomic-bad");
    write_text(dir / "t.csv", "old\n");
    auto failing = [](std::ostream& out) {
        out << "partial";
        out.setstate(std::ios::badbit);  // what a failed write() does to the stream
    };
    CHECK_THROWS_AS(write_file_atomically(dir / "t.csv", failing), io_error);
    CHECK_THROWS_WITH(write_file_atomically(dir / "t.csv", failing), Catch::Contains("t.csv"));
    CHECK(slurp(dir.path / "t.csv") == "old\n");
    CHECK(entries(dir.path) == std::vector<std::string>{"t.csv"});
}

TEST_CASE("a target under a regular file is an io_error naming the path, and nothing is created",
          "[robustness][files]") {
    temp_dir dir("atomic-notdir");
    write_text(dir / "plain", "x");
    // ENOTDIR: refused even for root, unlike a read-only directory.
    CHECK_THROWS_AS(write_file_atomically(dir / "plain/out.svg", [](std::ostream& o) { o << "svg"; }), io_error);
    CHECK_THROWS_WITH(write_file_atomically(dir / "plain/out.svg", [](std::ostream& o) { o << "svg"; }),
                      Catch::Contains("plain/out.svg") && Catch::Contains("Not a directory"));
    CHECK(entries(dir.path) == std::vector<std::string>{"plain"});
}

TEST_CASE("a target that is a directory is refused, the directory untouched and no temporary left",
          "[robustness][files]") {
    temp_dir dir("atomic-isdir");
    std::filesystem::create_directories(dir.path / "target");
    write_text(dir / "target/inside", "keep");
    CHECK_THROWS_AS(write_file_atomically(dir / "target", [](std::ostream& o) { o << "dot"; }), io_error);
    CHECK(entries(dir.path) == std::vector<std::string>{"target"});
    CHECK(slurp(dir.path / "target/inside") == "keep");
}

TEST_CASE("a successful write replaces the target whole and leaves no temporary", "[robustness][files]") {
    temp_dir dir("atomic-ok");
    write_text(dir / "p.npy", "old");
    write_file_atomically(dir / "p.npy", [](std::ostream& o) { o << "new contents"; }, true);
    CHECK(slurp(dir.path / "p.npy") == "new contents");
    CHECK(entries(dir.path) == std::vector<std::string>{"p.npy"});
}

TEST_CASE("saving parameters under a regular file is an io_error and writes nothing", "[robustness][files][npy]") {
    temp_dir dir("atomic-params");
    write_text(dir / "plain", "x");
    symgrad::graph g;
    g.parameter("W1", {2, 2});
    CHECK_THROWS_AS(symgrad::save_parameters(g, dir / "plain/params"), io_error);
    CHECK(entries(dir.path) == std::vector<std::string>{"plain"});
}

TEST_CASE("no library or tool source opens a file for writing except through write_file_atomically",
          "[robustness][files]") {
    // A structural check: a new writer that bypasses the temporary-then-rename path fails this test.
    namespace fs = std::filesystem;
    const fs::path root = SYMGRAD_SOURCE_DIR;
    for (const char* folder : {"engine", "ops", "models", "apps"})
        for (const auto& e : fs::recursive_directory_iterator(root / folder)) {
            auto ext = e.path().extension();
            if (ext != ".cpp" && ext != ".hpp") continue;
            if (e.path().filename() == "files.cpp") continue;
            std::string text = slurp(e.path());
            INFO(e.path());
            for (const char* writer : {"ofstream", "fopen", "std::fstream", "open(", "creat("}) {
                INFO(writer);
                CHECK(text.find(writer) == std::string::npos);
            }
        }
}
