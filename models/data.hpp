// Data sets: the embedded Titanic table, a CSV loader for real files, parameters as .npy files.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "engine/graph.hpp"

namespace symgrad {

class collective;

// Features x samples (the article's layout). Labels: with two classes Y is 1 x samples of 0/1 (class_names[1]
// is the class coded 1); with k >= 3 classes Y is k x samples, one-hot (row c for class_names[c]).
struct dataset {
    tensor X;
    tensor Y;
    std::vector<std::string> feature_names;  // one per row of X
    std::string label_name;
    std::vector<std::string> class_names;    // the label's values in code order ("0", "1" for 0/1 labels)
    std::string source;  // "titanic (embedded)" or the file path
    std::vector<std::string> notes;     // what the loader decided on its own (columns left out, rows dropped)
    std::vector<std::string> warnings;  // what likely defeats the analysis (most rows dropped, a label leak)
    std::size_t rows_read = 0;          // data rows in the file, before any was dropped (0: not from a file)
    std::size_t samples() const { return X.shape()[1]; }
    std::size_t features() const { return X.shape()[0]; }
};

// The 2201 people aboard (British Board of Trade figures, R's datasets::Titanic), one column each.
// Features: class_1st, class_2nd, class_3rd, class_crew (one-hot), sex_male (1 male, 0 female),
// age_adult (1 adult, 0 child). Label: survived (711 ones).
dataset titanic();

enum class missing_policy { drop_row, impute_mean, error };
missing_policy parse_missing_policy(const std::string& name);  // "drop", "mean", "error"
const char* to_string(missing_policy p);                        // the spelling parse accepts

struct csv_options {
    std::string label;  // label column name; empty: the last column
    missing_policy missing = missing_policy::drop_row;
    bool standardize = false;  // each feature row to mean 0, std 1 (constant rows left at 0)
    std::vector<std::string> ignore;  // columns to leave out (e.g. passengerid, name, ticket)
    // Leave out identifier-like columns, with a note: text columns with more than max_categories
    // distinct values or more distinct values than half their filled cells (Name, Ticket, Cabin), and
    // numeric columns named "...id" holding distinct integers (PassengerId). docs/data.md has the rule.
    bool drop_identifiers = true;
    std::size_t max_categories = 20;
    // A label with more distinct values is refused: a measurement (a price, an age), not a class.
    std::size_t max_classes = 100;
    std::size_t max_input_bytes = std::size_t(4) << 30;  // a larger file or stream is refused
    bool progress = false;  // show loading progress on stderr when it is a terminal and the file is large
};

// Reads a header row then records: numeric columns as numbers, text columns one-hot encoded
// ("<column>_<value>", values in sorted order); empty, NA and NaN cells are missing. Labels: 0/1 numbers
// as they are, else the distinct values are the classes (numbers in numeric order, text in byte order;
// class_names and a note give the mapping). Handles quoted fields with commas and doubled quotes, CRLF, a
// UTF-8 BOM. Throws input_error naming file, line and column for a ragged row, a label with more than
// max_classes values, no data rows, an unknown column, an unterminated quote.
// Column names (label, ignore) match exactly, else case-insensitively. Every rule: docs/data.md.
// A regular file is read in passes, block by block, never whole: the peak is about X and Y. "-" (stdin),
// FIFOs and devices cannot be read twice: their text is read whole first.
dataset load_csv(const std::string& path, const csv_options& options = {});
// A rank's share of a regular file loaded by every rank of `peers` together (data parallelism): rank r's rows
// are the records starting in its byte range (about size / N bytes, split on record boundaries), and every
// decision that needs all rows (column types, levels, classes, means, standardisation, dropped-row counts,
// notes, warnings, errors) is agreed, so the ranks' X and Y side by side in rank order are load_csv's.
// Every rank must call it; an error of any rank is thrown by all. docs/data.md "Sharded loading".
dataset load_csv_shard(const std::string& path, const csv_options& options, collective& peers);
// The same on text already in memory (the fuzz target's entry point); `source` names it in messages.
dataset parse_csv(const std::string& text, const std::string& source, const csv_options& options = {});

// One <name>.npy per parameter in `directory` (created if missing), float64, C order, readable by
// numpy.load; each file written to a temporary name and renamed into place.
void save_parameters(const graph& g, const std::string& directory);
// The files save_parameters writes, as (file name, .npy bytes), for a caller that commits them together
// with its other outputs (symcheck's output_batch).
std::vector<std::pair<std::string, std::string>> parameter_files(const graph& g);
// Loads <name>.npy for every parameter of g, checking dtype, order and shape; throws input_error naming
// the offending file (missing, truncated, wrong dtype, Fortran order, wrong shape).
void load_parameters(graph& g, const std::string& directory);

// Single-tensor helpers behind the two above.
void save_npy(const tensor& t, const std::string& path);
// float64 ('<f8' or '>f8'), C order, 1-D or 2-D; a 1-D array of length n loads as (n x 1).
tensor load_npy(const std::string& path);
// The same on the bytes of a .npy file already in memory (the fuzz target's entry point).
tensor parse_npy(const std::string& bytes, const std::string& source);
// The same, for a tensor that must have shape `expected`: a 1-D array of length n is accepted for an
// (n x 1) or (1 x n) tensor (PyTorch stores biases 1-D). A mismatch names the file and both shapes.
tensor load_npy(const std::string& path, shape2 expected);

}  // namespace symgrad
