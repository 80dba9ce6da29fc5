// Writing a file without ever leaving a half-written one: write a temporary sibling, then rename.
#pragma once
#include <functional>
#include <iosfwd>
#include <string>

namespace symgrad {

// Calls write(stream) on "<path>.tmp.<pid>" in the same directory, flushes, checks the stream and renames
// it over `path`. On any failure the temporary is removed and io_error names the path and the reason.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                           bool binary = false);

}  // namespace symgrad
