// Whole files in and out: reading with errors that name the file, writing without ever leaving a
// half-written one (a temporary sibling, then rename).
#pragma once
#include <functional>
#include <iosfwd>
#include <string>

namespace symgrad {

// The whole content of `path` as bytes. Throws input_error "<path>: is a directory, not <what>",
// "<path>: cannot open: <reason>" or "<path>: cannot read: <reason>".
std::string read_whole_file(const std::string& path, const std::string& what);

// Calls write(stream) on "<path>.tmp.<pid>" in the same directory, flushes, checks the stream and renames
// it over `path`. On any failure the temporary is removed and io_error names the path and the reason.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                           bool binary = false);

}  // namespace symgrad
