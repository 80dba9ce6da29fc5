// docs/engine.md's mini-batch training example: compiled and run here, and the page shows this file verbatim.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

// The example is a whole program; its main() becomes a function this test calls.
#define main engine_md_minibatch_example
#include "../docs/examples/minibatch_training.cpp"
#undef main

namespace {
std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}
}  // namespace

TEST_CASE("the mini-batch example of docs/engine.md trains to over 90% test accuracy", "[engine][docs]") {
    CHECK(engine_md_minibatch_example() == 0);
}

TEST_CASE("docs/engine.md shows the mini-batch example exactly as compiled", "[engine][docs]") {
    const std::string source = read_text(SYMGRAD_SOURCE_DIR "/docs/examples/minibatch_training.cpp");
    const std::string page = read_text(SYMGRAD_SOURCE_DIR "/docs/engine.md");
    REQUIRE_FALSE(source.empty());
    CHECK(page.find("```cpp\n" + source + "```\n") != std::string::npos);
}
