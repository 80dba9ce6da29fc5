// The report's words: every reason code renders to a sentence, and reasons join with one space.
#include <catch2/catch.hpp>

#include <string>

#include "analysis/report.hpp"

using namespace symgrad;

TEST_CASE("every reason code has words", "[analysis][report]") {
    for (int c = 0; c <= int(reason_code::none_needed); ++c) {
        reason r;
        r.code = reason_code(c);
        r.activation_kind = "tanh";
        CAPTURE(c);
        CHECK_FALSE(to_words({r}).empty());
    }
}

TEST_CASE("reasons read as sentences joined by one space", "[analysis][report]") {
    reason none;
    none.code = reason_code::none_needed;
    reason note;
    note.code = reason_code::output_zero_note;
    CHECK(to_words({none, note}) == "None needed. Note: the layer outputs 0 on every sample.");
    CHECK(to_words({}).empty());
}
