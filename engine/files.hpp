// Whole files in and out: reading with errors that name the file and a size limit, writing without ever
// leaving a half-written file, a temporary or a replaced device (a temporary sibling, then rename).
#pragma once
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace symgrad {

// Inputs larger than this are refused unless the caller passes a larger limit (--max-input-size).
constexpr std::size_t default_max_input_bytes = std::size_t(4) << 30;  // 4 GiB

// The whole content of `path` as bytes; "-" reads standard input. Reads block by block, so a stream that
// never ends (/dev/zero, a FIFO) stops at `max_bytes` ("<path>: larger than the input limit ...") and, when
// `refuse_nul` is set, at the first block holding a NUL byte ("<path>:<line>: contains a NUL byte ...").
// Other errors: "<path>: is a directory, not <what>", "<path>: cannot open: <reason>", "cannot read".
// `progress`, when set, is called after each block with the bytes read so far.
std::string read_whole_file(const std::string& path, const std::string& what,
                            std::size_t max_bytes = default_max_input_bytes, bool refuse_nul = false,
                            const std::function<void(std::size_t)>& progress = {});

// The one wording of the two input checks, shared by read_whole_file and models' streaming CSV reader:
// "<name>: larger than the input limit of N bytes (x MB); raise it with --max-input-size" and
// "<name>:<line>: contains a NUL byte (offset N); the file looks binary, not a text CSV".
std::string too_large_message(const std::string& name, std::size_t max_bytes);
std::string nul_byte_message(const std::string& name, std::size_t line, std::size_t offset);

// Calls write(stream) on "<path>.tmp.<pid>" in the same directory, flushes, checks the stream and renames
// it over `path`. On any failure the temporary is removed and io_error names the path and the reason.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write,
                           bool binary = false);

// How an output path is written, decided before any work (check_output_path).
enum class output_kind {
    standard_output,  // "-"
    replace_file,     // absent or a regular file: temporary, then rename
    write_through,    // a character device or FIFO (/dev/null, /dev/stdout, a pipe): opened and written in place
};

// Classifies `path` for `flag` (e.g. "--json") or throws io_error "<flag>: ..." for a path that cannot be
// written: a missing or non-directory parent, a directory, an unwritable directory or device, a symbolic
// link outside /dev and /proc (it would be replaced, not followed), a socket or a block device.
output_kind check_output_path(const std::string& flag, const std::string& path);

// Checks that `directory` exists as a writable directory or could be created (its nearest existing
// ancestor is a writable directory), creating nothing. Throws io_error "<flag>: cannot write into ...".
void check_output_directory(const std::string& flag, const std::string& directory);

// All outputs of a run, committed together: add() only records; commit() writes every replaced file to a
// temporary (creating missing directories), then writes the pass-through targets and standard output,
// then renames every temporary into place. If anything fails before the renames, every temporary and every
// directory it created is removed and nothing outside was changed. A stale "<name>.tmp.<pid>" left by a
// dead process is removed when its path is written again.
class output_batch {
public:
    output_batch() = default;
    output_batch(const output_batch&) = delete;
    output_batch& operator=(const output_batch&) = delete;
    ~output_batch();
    void add(const std::string& path, std::string bytes);  // "-" is standard output
    void commit();

private:
    struct entry {
        std::string path;
        std::string bytes;
        std::string temporary;  // set once staged
    };
    void stage(entry& e);
    void abandon() noexcept;
    std::vector<entry> entries_;
    std::vector<std::string> created_directories_;  // innermost last
};

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the temporaries and directories of an
// output_batch in flight, print "<program>: stopped by SIG<name>" and exit 130, 143 or 129.
void remove_temporaries_on_signal(const char* program);

}  // namespace symgrad
