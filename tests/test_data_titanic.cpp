// The embedded Titanic set: totals checked against the published figures, encoding and order checked by person.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>

#include "models/data.hpp"

using namespace symgrad;

namespace {

// Shape and every element equal (xtensor's == does not decompose inside CHECK).
bool same(const tensor& a, const tensor& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

// Features by row: 0..3 class one-hot (1st, 2nd, 3rd, crew), 4 sex_male, 5 age_adult.
struct selection {
    int cls = -1;    // -1: any class
    int male = -1;   // -1: either sex
    int adult = -1;  // -1: any age
};

// Counts people (and survivors) matching a selection, reading only X and Y.
std::pair<std::size_t, std::size_t> count(const dataset& d, selection s) {
    std::size_t people = 0, survived = 0;
    for (std::size_t j = 0; j < d.samples(); ++j) {
        if (s.cls >= 0 && d.X(std::size_t(s.cls), j) != 1.0) continue;
        if (s.male >= 0 && d.X(4, j) != double(s.male)) continue;
        if (s.adult >= 0 && d.X(5, j) != double(s.adult)) continue;
        ++people;
        if (d.Y(0, j) == 1.0) ++survived;
    }
    return {people, survived};
}

}  // namespace

TEST_CASE("the embedded Titanic set has 2201 people of whom 711 survived", "[data][titanic]") {
    dataset d = titanic();
    CHECK(d.samples() == 2201);
    CHECK(d.features() == 6);
    CHECK(d.Y.shape()[0] == 1);
    CHECK(count(d, {}).first == 2201);
    CHECK(count(d, {}).second == 711);
}

TEST_CASE("the Titanic features are named and every value is 0 or 1", "[data][titanic]") {
    dataset d = titanic();
    CHECK(d.feature_names ==
          std::vector<std::string>{"class_1st", "class_2nd", "class_3rd", "class_crew", "sex_male", "age_adult"});
    CHECK(d.label_name == "survived");
    CHECK(d.source == "titanic (embedded)");
    for (double v : d.X) CHECK((v == 0.0 || v == 1.0));
    for (double v : d.Y) CHECK((v == 0.0 || v == 1.0));
}

TEST_CASE("every Titanic passenger is in exactly one class", "[data][titanic]") {
    dataset d = titanic();
    std::size_t bad = 0;
    for (std::size_t j = 0; j < d.samples(); ++j)
        if (d.X(0, j) + d.X(1, j) + d.X(2, j) + d.X(3, j) != 1.0) ++bad;
    CHECK(bad == 0);
}

TEST_CASE("the Titanic subgroup totals match the British Board of Trade figures", "[data][titanic]") {
    dataset d = titanic();
    // Totals summed by hand from the table in issue 3 (not from the code's table).
    CHECK(count(d, {0, 0, -1}) == std::make_pair<std::size_t, std::size_t>(145, 141));  // 1st class females
    CHECK(count(d, {0, 0, 1}) == std::make_pair<std::size_t, std::size_t>(144, 140));  // 1st class adult females
    CHECK(count(d, {0, 1, -1}) == std::make_pair<std::size_t, std::size_t>(180, 62));   // 1st class males
    CHECK(count(d, {1, -1, -1}) == std::make_pair<std::size_t, std::size_t>(285, 118)); // 2nd class
    CHECK(count(d, {2, -1, -1}) == std::make_pair<std::size_t, std::size_t>(706, 178)); // 3rd class
    CHECK(count(d, {3, -1, -1}) == std::make_pair<std::size_t, std::size_t>(885, 212)); // crew
    CHECK(count(d, {-1, -1, 0}) == std::make_pair<std::size_t, std::size_t>(109, 57));  // children
    CHECK(count(d, {-1, 0, -1}) == std::make_pair<std::size_t, std::size_t>(470, 344)); // females
    CHECK(count(d, {3, -1, 0}).first == 0);                                             // no crew children
    CHECK(count(d, {2, 1, 1}) == std::make_pair<std::size_t, std::size_t>(462, 75));    // 3rd class adult men
}

TEST_CASE("the Titanic people are ordered by class, sex, age, then died before survived", "[data][titanic]") {
    dataset d = titanic();
    // Documented order: first person is a 1st class male child who survived (no such child died);
    // the last is a crew female adult who survived.
    auto key = [&](std::size_t j) {
        int cls = 0;
        while (d.X(std::size_t(cls), j) != 1.0) ++cls;
        int female = d.X(4, j) == 1.0 ? 0 : 1;
        int adult = int(d.X(5, j));
        return ((cls * 2 + female) * 2 + adult) * 2 + int(d.Y(0, j));
    };
    std::size_t out_of_order = 0;
    for (std::size_t j = 1; j < d.samples(); ++j)
        if (key(j) < key(j - 1)) ++out_of_order;
    CHECK(out_of_order == 0);
    CHECK(key(0) == 1);  // 1st, male, child, survived
    CHECK(key(d.samples() - 1) == ((3 * 2 + 1) * 2 + 1) * 2 + 1);
    // Two calls give identical data.
    dataset again = titanic();
    CHECK(same(again.X, d.X));
    CHECK(same(again.Y, d.Y));
}
