// symcheck's exit codes and error lines (failures.hpp).
#include "failures.hpp"

#include <new>

#include "engine/error.hpp"
#include "model_run.hpp"

namespace symgrad::symcheck {

namespace {

// Messages may quote user text (a CSV cell, a column name, a flag) holding line breaks or control bytes;
// escaping them keeps every error on one line.
std::string one_line(const std::string& message) {
    static const char hex[] = "0123456789abcdef";
    std::string s;
    for (char ch : message) {
        unsigned char u = static_cast<unsigned char>(ch);
        if (ch == '\n') s += "\\n";
        else if (ch == '\r') s += "\\r";
        else if (ch == '\t') s += "\\t";
        else if (u < 0x20 || u == 0x7f) s += std::string("\\x") + hex[u >> 4] + hex[u & 15];
        else s += ch;
    }
    return s;
}

}  // namespace

failure classify(std::exception_ptr thrown) {
    try {
        std::rethrow_exception(thrown);
    } catch (const agreed_failure& e) {
        return e.what_failed();
    } catch (const compress_check_failed& e) {
        return {exit_internal, "symcheck: error: " + one_line(e.what())};
    } catch (const symgrad::error& e) {
        return {exit_bad_input, "symcheck: error: " + one_line(e.what())};
    } catch (const std::bad_alloc&) {
        return {exit_bad_input, "symcheck: error: out of memory (try a smaller model or data set)"};
    } catch (const std::exception& e) {
        return {exit_internal, "symcheck: internal error: " + one_line(e.what())};
    } catch (...) {
        return {exit_internal, "symcheck: internal error: unknown exception"};
    }
}

}  // namespace symgrad::symcheck
