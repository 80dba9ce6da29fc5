// The embedded Titanic data set: the Class x Sex x Age x Survived table expanded to one column per person.
#include <array>
#include <cstddef>

#include "models/data.hpp"

namespace symgrad {

namespace {

// One cell of the published table (British Board of Trade inquiry, as in R's datasets::Titanic).
struct titanic_cell {
    std::size_t cls;  // 0 1st, 1 2nd, 2 3rd, 3 crew
    bool male;
    bool adult;
    std::size_t died;
    std::size_t survived;
};

// Listed in the order the people are laid out: class, then sex (male first), then age (child first).
constexpr std::array<titanic_cell, 16> titanic_table{{
    {0, true, false, 0, 5},     {0, true, true, 118, 57},   {0, false, false, 0, 1},   {0, false, true, 4, 140},
    {1, true, false, 0, 11},    {1, true, true, 154, 14},   {1, false, false, 0, 13},  {1, false, true, 13, 80},
    {2, true, false, 35, 13},   {2, true, true, 387, 75},   {2, false, false, 17, 14}, {2, false, true, 89, 76},
    {3, true, false, 0, 0},     {3, true, true, 670, 192},  {3, false, false, 0, 0},   {3, false, true, 3, 20},
}};

}  // namespace

dataset titanic() {
    std::size_t people = 0;
    for (const auto& c : titanic_table) people += c.died + c.survived;

    dataset d;
    d.feature_names = {"class_1st", "class_2nd", "class_3rd", "class_crew", "sex_male", "age_adult"};
    d.label_name = "survived";
    d.class_names = {"0", "1"};
    d.source = "titanic (embedded)";
    d.X = tensor::from_shape({d.feature_names.size(), people});
    d.Y = tensor::from_shape({1, people});
    d.X.fill(0.0);

    std::size_t column = 0;
    for (const auto& c : titanic_table) {
        // Within a cell, those who died come first, then those who survived.
        for (int outcome = 0; outcome < 2; ++outcome) {
            std::size_t count = outcome == 0 ? c.died : c.survived;
            for (std::size_t k = 0; k < count; ++k, ++column) {
                d.X(c.cls, column) = 1.0;
                d.X(4, column) = c.male ? 1.0 : 0.0;
                d.X(5, column) = c.adult ? 1.0 : 0.0;
                d.Y(0, column) = double(outcome);
            }
        }
    }
    return d;
}

}  // namespace symgrad
