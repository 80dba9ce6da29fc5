// Text helpers every layer shares: splitting a list, folding ASCII case and writing a number.
#pragma once
#include <string>
#include <vector>

namespace symgrad {

// The pieces of `text` between each `separator`, empty ones included: "a,,b" -> {a, "", b},
// "a," -> {a, ""}, "" -> {""}. Callers that want to skip empty pieces do so themselves.
std::vector<std::string> split(const std::string& text, char separator);

// `text` with ASCII A-Z folded to a-z and every other byte kept (UTF-8 names stay as written): for names
// and file extensions compared without case, the same in every locale.
std::string lower(std::string text);

// The shortest decimal that reads back as exactly x ("0.1", "1e-300", "nan", "inf"): the form for any
// number a user may type back in (an initialiser spec, a message quoting a value).
std::string shortest(double x);

// printf's %g, six significant digits ("0.0001", "1e+06"): kept only where a report was always written this
// way, so its text stays byte-identical to what users and golden files already have.
std::string six_digits(double x);

}  // namespace symgrad
