// Compares backward()'s gradients with central finite differences, like PyTorch's gradcheck.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "engine/graph.hpp"

namespace symgrad {

struct gradcheck_options {
    double eps = 1e-6;   // central-difference step
    double atol = 1e-5;  // an element passes when |analytic - numeric| <= atol + rtol * |numeric|
    double rtol = 1e-3;
    bool check_inputs = false;  // also check every input (turns require_grad on for them)
    // Also run backward with reused buffers NaN-poisoned (graph::set_poison_reused_buffers) and require the
    // same gradients, bit for bit: an op whose backward reads what its saves() does not declare fails.
    bool poison_reused_buffers = true;
};

enum class check_status { passed, failed, inconclusive };
const char* to_string(check_status s);

struct tensor_check {
    std::string name;
    shape2 shape;
    check_status status = check_status::inconclusive;
    double max_abs_error = 0.0;  // max |analytic - numeric|
    double max_rel_error = 0.0;  // max |analytic - numeric| / max(|analytic|, |numeric|)
    std::size_t worst_row = 0, worst_col = 0;  // the element furthest outside the tolerance
    double analytic_at_worst = 0.0, numeric_at_worst = 0.0;
};

struct gradcheck_report {
    std::vector<tensor_check> tensors;
    bool repeatable = true;          // a second backward gave bitwise-identical gradients
    double repeat_max_diff = 0.0;
    bool same_when_poisoned = true;  // backward with reused buffers NaN-poisoned gave the same gradients
    double poisoned_max_diff = 0.0;
    // failed if any tensor failed, backward is not repeatable or poisoning changed it; inconclusive if
    // none failed and every tensor was zero within atol (|analytic| <= atol and |numeric| <= atol at
    // every element); passed otherwise. Such a near-zero tensor is never a pass.
    check_status status() const;
    bool passed() const { return status() == check_status::passed; }
    double max_abs_error() const;
    std::string summary() const;  // one line per tensor
};

// Runs forward/backward on g as it stands (inputs fed, parameters set), then perturbs every element of
// every parameter (and input, on request). Leaves values and gradients as a fresh forward/backward would.
gradcheck_report gradcheck(graph& g, node loss, const gradcheck_options& options = {});

}  // namespace symgrad
