// Boost.Program_options description of symcheck's flags and their validation into a config.
#include "options.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include <boost/program_options.hpp>

#include "analysis/symmetry.hpp"
#include "engine/error.hpp"
#include "engine/text.hpp"
#include "models/model_file.hpp"
#include "models/optim.hpp"

namespace po = boost::program_options;

namespace symgrad::symcheck {

namespace {

std::size_t parse_count(const std::string& flag, const std::string& text, bool allow_zero) {
    std::size_t pos = 0;
    unsigned long long v = 0;
    bool ok = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
    if (ok) {
        try {
            v = std::stoull(text, &pos);
        } catch (...) {
            ok = false;
        }
    }
    if (!ok || pos != text.size())
        throw input_error("--" + flag + ": '" + text + "' is not a whole number");
    if (!allow_zero && v == 0) throw input_error("--" + flag + ": must be at least 1, got 0");
    if (v > 1000000000ULL) throw input_error("--" + flag + ": " + text + " is too large");
    return std::size_t(v);
}

// The number text starts with, and in `pos` where it ends (npos when it does not start with one).
double leading_number(const std::string& text, std::size_t& pos) {
    try {
        return std::stod(text, &pos);
    } catch (...) {
        pos = std::string::npos;
        return 0.0;
    }
}

double parse_real(const std::string& flag, const std::string& text) {
    std::size_t pos = 0;
    double v = leading_number(text, pos);
    if (pos != text.size()) throw input_error("--" + flag + ": '" + text + "' is not a number");
    return v;
}

// A byte count: a number with an optional unit K, M, G or T (powers of 1000; KiB, MiB, GiB, TiB for 1024),
// e.g. 8G or 500MB.
double parse_bytes(const std::string& flag, const std::string& text) {
    std::size_t pos = 0;
    double v = leading_number(text, pos);
    std::string unit = pos == std::string::npos ? std::string("?") : text.substr(pos);
    for (auto& ch : unit) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    static const std::pair<const char*, double> units[] = {
        {"", 1}, {"B", 1}, {"K", 1e3}, {"KB", 1e3}, {"M", 1e6}, {"MB", 1e6}, {"G", 1e9}, {"GB", 1e9}, {"T", 1e12},
        {"TB", 1e12}, {"KIB", 1024.0}, {"MIB", 1048576.0}, {"GIB", 1073741824.0}, {"TIB", 1099511627776.0}};
    for (const auto& [name, scale] : units)
        if (unit == name && std::isfinite(v) && v > 0 && text.find_first_of("0123456789") == 0) return v * scale;
    throw input_error("--" + flag + ": '" + text + "' is not a size (a positive number with an optional unit: 500M, 8G)");
}

const char* const default_inits[] = {"zeros", "constant:0.5", "normal:0.01", "glorot"};

// Every flag, grouped as --help shows them.
po::options_description describe_options() {
    po::options_description data("Data");
    data.add_options()
        ("data", po::value<std::string>()->default_value("titanic"),
         "'titanic' (embedded, 2201 people), the path of a CSV file with a header row, or - for standard input")
        ("label", po::value<std::string>(), "label column of the CSV: 0/1, or 2 to 100 classes of any values (one softmax output each from 3); default: the last column")
        ("missing", po::value<std::string>()->default_value("drop"),
         "missing CSV values: drop (the row), mean (impute the column mean) or error")
        ("ignore", po::value<std::string>(), "comma-separated CSV columns to leave out")
        ("standardize", po::bool_switch(), "standardise every feature to mean 0, std 1")
        ("validation", po::value<std::string>(),
         "hold out this fraction of the samples (drawn with --seed) and report cost and accuracy on them")
        ("max-input-size", po::value<std::string>(),
         "refuse a CSV (file or stream) larger than this, e.g. 500M or 8G (default: 4GiB)");
    po::options_description model("Model");
    model.add_options()
        ("model", po::value<std::string>(),
         "analyse your own trained or initialised network: FILE.onnx, FILE.npz or FILE.safetensors (PyTorch "
         "state_dict names); without --data only its weights are analysed (docs/symcheck.md, docs/pytorch.md)")
        ("layer-order", po::value<std::string>(),
         "with a .npz/.safetensors --model: the layer prefixes in order, comma-separated (e.g. fc1,fc2 or 0,2), "
         "when the names alone do not order them")
        ("compress", po::value<std::string>(),
         "with --model: write the equivalent smaller model (tied units merged, dead and unused units removed) "
         "to FILE, in the format of --model")
        ("hidden", po::value<std::string>()->default_value("4"),
         "hidden layer widths, comma-separated (e.g. 64,32); 'none' for logistic regression")
        ("activation", po::value<std::string>()->default_value("tanh"), "hidden activation: tanh, sigmoid or relu (also of a .npz/.safetensors --model, which holds none)")
        ("max-memory", po::value<std::string>(),
         "refuse a run whose estimated memory exceeds this, e.g. 2G (default: the memory available now)");
    po::options_description init("Initialisation (one run per --init)");
    init.add_options()
        ("init", po::value<std::vector<std::string>>(),
         "initialiser to compare; repeat for several. zeros | constant:C | normal:STD | normal:MEAN:STD | "
         "uniform:A | uniform:A:B | glorot | glorot_normal | he | he_uniform; per-tensor overrides after "
         "commas, e.g. 'normal:0.01,W1=zeros'. Default: zeros, constant:0.5, normal:0.01, glorot")
        ("load", po::value<std::string>(),
         "load the initial parameters from DIR/<name>.npy (W1.npy, b1.npy, ...) instead of --init");
    po::options_description train("Training");
    train.add_options()
        ("optimizer", po::value<std::string>()->default_value("gd"), "gd, momentum or adam")
        ("lr", po::value<std::string>()->default_value("0.01"), "learning rate, a positive finite number")
        ("iterations", po::value<std::string>()->default_value("3000"),
         "training iterations, one update each (on the full batch, or one mini-batch with --batch-size); "
         "0 analyses the initial state only. With --model the default is 0 (the file's state)")
        ("seed", po::value<std::string>()->default_value("1"), "seed of every random initialiser")
        ("batch-size", po::value<std::string>(),
         "samples per mini-batch: each iteration is one update on one batch, the samples reshuffled every "
         "epoch with --seed (default: the full batch, as the article)");
    po::options_description analysis("Analysis");
    analysis.add_options()
        ("tolerance", po::value<std::string>(),
         "relative tolerance under which two units count as identical (>= 0; default: the library's)")
        ("exact", po::bool_switch(), "units are identical only if bitwise equal")
        ("detect-anomaly", po::value<std::string>()->value_name("MODE"),
         "stop at the first NaN/Inf value or gradient, naming the node that produced it (results, the "
         "default: check the loss, the outputs and the parameters each iteration and find the node only when "
         "one is not finite; full: check every node as it is computed, slower). MODE: results or full")
        ("no-detect-anomaly", po::bool_switch(), "do not stop at the first NaN/Inf value or gradient")
        ("trace-every", po::value<std::string>()->default_value("1"),
         "analyse the effective width every N iterations for the trace (1 = every iteration)")
        ("lookahead", po::value<std::string>()->default_value("300"),
         "train a copy of the initial and of the final state N steps with the run's optimizer to measure "
         "whether ties hold, at most --iterations steps when that is not 0 (0: no lookahead; ties are then "
         "proved in exact arithmetic only)");
    po::options_description output("Output");
    output.add_options()
        ("json", po::value<std::string>(), "write the JSON report to FILE ('-' for stdout, replacing the text report)")
        ("trace", po::value<std::string>(), "write the per-iteration trace (run, iteration, cost, effective width) as CSV")
        ("svg", po::value<std::string>(), "write the figure (cost and effective width against iteration) as SVG")
        ("dot", po::value<std::string>(), "write the model graph as Graphviz DOT")
        ("save", po::value<std::string>(), "save the final parameters as .npy into DIR (DIR/<run>/ for several runs)")
        ("print-weights", po::value<std::string>()->default_value("0"),
         "print W1 and W2 for the first N iterations (the article's tables)")
        ("quiet,q", po::bool_switch(), "no text report (exit status and files only)")
        ("help,h", "show this help")
        ("version", "show the version");
    po::options_description all;
    all.add(data).add(model).add(init).add(train).add(analysis).add(output);
    return all;
}

const char* const intro =
    "symcheck: finds hidden units that gradient descent can never separate.\n\n"
    "Usage: symcheck [options]\n\n"
    "With no options it reproduces the article on the embedded Titanic data: a 2-layer tanh network\n"
    "with 4 hidden units trained from zeros, constant:0.5, normal:0.01 and glorot initialisation.\n\n"
    "Exit status: 0 no layer has a problem; 1 a layer is frozen, symmetric, fragile or inactive;\n"
    "2 bad usage or bad input (including a diverging run); 3 internal error.\n";

// The flags given; stray words are collected (not shown in --help) so they are refused by name, not
// silently ignored.
po::variables_map read_flags(int argc, const char* const* argv, const po::options_description& all) {
    po::variables_map vm;
    try {
        po::options_description parsed_options;
        parsed_options.add(all).add_options()("stray", po::value<std::vector<std::string>>());
        po::positional_options_description stray;
        stray.add("stray", -1);
        po::store(po::command_line_parser(argc, argv).options(parsed_options).positional(stray).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        throw input_error(std::string(e.what()) + " (see symcheck --help)");
    }
    if (vm.count("stray"))
        throw input_error("unexpected argument '" + vm["stray"].as<std::vector<std::string>>().front() +
                          "': options start with -- (e.g. --data FILE; see symcheck --help)");
    return vm;
}

void read_data(const po::variables_map& vm, config& c) {
    c.data = vm["data"].as<std::string>();
    if (c.data.empty()) throw input_error("--data: must be 'titanic' or a CSV path");
    if (vm.count("label")) c.csv.label = vm["label"].as<std::string>();
    c.csv.missing = parse_missing_policy(vm["missing"].as<std::string>());
    if (vm.count("ignore"))
        for (auto& col : split(vm["ignore"].as<std::string>(), ','))
            if (!col.empty()) c.csv.ignore.push_back(col);
    c.csv.standardize = vm["standardize"].as<bool>();
    if (vm.count("max-input-size"))
        c.max_input_bytes = std::size_t(std::min(parse_bytes("max-input-size", vm["max-input-size"].as<std::string>()), 1e18));
    c.csv.max_input_bytes = c.max_input_bytes;
    if (c.data == "titanic" && (vm.count("label") || vm.count("ignore")))
        throw input_error("--label and --ignore apply to a CSV file, not to the embedded titanic data");
}

void read_model(const po::variables_map& vm, config& c) {
    std::string hidden = vm["hidden"].as<std::string>();
    c.hidden.clear();
    if (hidden != "none" && !hidden.empty())  // an empty --hidden has always meant no hidden layer
        for (auto& w : split(hidden, ',')) c.hidden.push_back(parse_count("hidden", w, false));
    c.hidden_activation = parse_activation(vm["activation"].as<std::string>());
    if (vm.count("max-memory")) c.max_memory_bytes = parse_bytes("max-memory", vm["max-memory"].as<std::string>());
}

// --model, --layer-order, --compress (issue 12): the user's network replaces --hidden and --init.
void read_model_file(const po::variables_map& vm, config& c) {
    if (!vm.count("model")) {
        for (const char* flag : {"layer-order", "compress"})
            if (vm.count(flag)) throw input_error(std::string("--") + flag + ": applies to --model FILE only");
        return;
    }
    c.model_path = vm["model"].as<std::string>();
    model_format format = model_format::npz;
    try {
        format = model_format_of(c.model_path);
    } catch (const input_error& e) {
        throw input_error(std::string("--model: ") + e.what());
    }
    if (!vm["hidden"].defaulted())
        throw input_error("--hidden and --model exclude each other: the model file gives the layer widths");
    if (!vm["data"].defaulted() && c.data.empty()) throw input_error("--data: must be 'titanic' or a CSV path");
    if (vm["data"].defaulted()) c.data.clear();  // no data: the weight-only analysis
    if (format == model_format::onnx && !vm["activation"].defaulted())
        throw input_error("--activation: an ONNX --model names its own activations; the flag is for .npz and .safetensors");
    if (vm.count("layer-order"))
        for (auto& prefix : split(vm["layer-order"].as<std::string>(), ',')) {
            if (prefix.empty())
                throw input_error("--layer-order: '" + vm["layer-order"].as<std::string>() +
                                  "' has an empty name; give the layer prefixes separated by commas, e.g. fc1,fc2");
            c.layer_order.push_back(prefix);
        }
    if (!vm.count("compress")) return;
    c.compress_path = vm["compress"].as<std::string>();
    if (c.compress_path.empty()) throw input_error("--compress: needs a file name");
    bool same = false;
    try {
        same = model_format_of(c.compress_path) == format;
    } catch (const input_error&) {
    }
    if (!same)
        throw input_error("--compress: '" + c.compress_path + "' must end in ." + to_string(format) + ", the format of --model '" +
                          c.model_path + "' (the compressed model is written in the input's format)");
}

void read_initializers(const po::variables_map& vm, config& c) {
    if (!c.model_path.empty()) {
        for (const char* flag : {"init", "load"})
            if (vm.count(flag))
                throw input_error(std::string("--") + flag + " and --model exclude each other: the model file's parameters are the state analysed");
        c.inits.push_back({"model " + c.model_path, init_plan{}});
        return;
    }
    if (vm.count("load") && vm.count("init")) throw input_error("--load and --init exclude each other");
    if (vm.count("load")) {
        c.load_dir = vm["load"].as<std::string>();
        c.inits.push_back({"loaded from " + c.load_dir, init_plan{}});
    } else if (vm.count("init")) {
        for (auto& spec : vm["init"].as<std::vector<std::string>>()) c.inits.push_back({spec, init_plan::parse(spec)});
    } else {
        for (const char* spec : default_inits) c.inits.push_back({spec, init_plan::parse(spec)});
    }
}

void read_training(const po::variables_map& vm, config& c) {
    c.optimizer = vm["optimizer"].as<std::string>();
    c.learning_rate = parse_real("lr", vm["lr"].as<std::string>());
    check_learning_rate(c.learning_rate, "--lr", vm["lr"].as<std::string>());
    try {
        make_optimizer(c.optimizer, c.learning_rate);  // the library knows its optimisers; fail before any work
    } catch (const input_error& e) {
        throw input_error(std::string("--optimizer: ") + e.what());
    }
    c.iterations = parse_count("iterations", vm["iterations"].as<std::string>(), true);
    if (!c.model_path.empty() && vm["iterations"].defaulted()) c.iterations = 0;  // the file's state, untrained
    if (!c.model_path.empty() && !c.has_data() && !vm["iterations"].defaulted())
        throw input_error("--iterations with --model needs --data: without data nothing can be trained");
    std::string seed = vm["seed"].as<std::string>();
    if (seed.empty() || seed.find_first_not_of("0123456789") != std::string::npos)
        throw input_error("--seed: '" + seed + "' is not a whole number >= 0");
    try {
        c.seed = std::stoull(seed);
    } catch (...) {
        throw input_error("--seed: '" + seed + "' is too large");
    }
}

// --batch-size and --validation (issue 11): mini-batches and a held-out split.
void read_batches(const po::variables_map& vm, config& c) {
    if (vm.count("batch-size")) c.batch_size = parse_count("batch-size", vm["batch-size"].as<std::string>(), false);
    if (vm.count("validation")) {
        double f = parse_real("validation", vm["validation"].as<std::string>());
        if (!(f > 0.0 && f < 1.0))
            throw input_error("--validation: must be a fraction greater than 0 and less than 1, got " +
                              vm["validation"].as<std::string>());
        c.validation = f;
    }
}

void read_analysis(const po::variables_map& vm, config& c) {
    if (vm.count("tolerance")) {
        double t = parse_real("tolerance", vm["tolerance"].as<std::string>());
        check_relative_tolerance(t, "--tolerance");
        c.tolerance = t;
    }
    c.exact = vm["exact"].as<bool>();
    if (c.exact && c.tolerance) throw input_error("--exact and --tolerance exclude each other");
    c.detect_anomaly = !vm["no-detect-anomaly"].as<bool>();
    const std::string check = vm.count("detect-anomaly") ? vm["detect-anomaly"].as<std::string>() : "results";
    if (check != "results" && check != "full")
        throw input_error("--detect-anomaly '" + check + "': unknown (choices: results, full)");
    if (!c.detect_anomaly && vm.count("detect-anomaly"))
        throw input_error("--detect-anomaly and --no-detect-anomaly exclude each other");
    c.anomaly_check_every_node = check == "full";
    c.trace_every = parse_count("trace-every", vm["trace-every"].as<std::string>(), false);
    c.lookahead = parse_count("lookahead", vm["lookahead"].as<std::string>(), true);
}

void read_outputs(const po::variables_map& vm, config& c) {
    auto path = [&](const char* flag, std::string& out) {
        if (!vm.count(flag)) return;
        out = vm[flag].as<std::string>();
        if (out.empty()) throw input_error(std::string("--") + flag + ": needs a file name");
    };
    path("json", c.json_path);
    path("trace", c.trace_path);
    path("svg", c.svg_path);
    path("dot", c.dot_path);
    path("save", c.save_dir);
    c.print_weights = parse_count("print-weights", vm["print-weights"].as<std::string>(), true);
    c.quiet = vm["quiet"].as<bool>();
    c.csv.progress = !c.quiet;
    if (!c.model_path.empty() && !c.has_data())
        for (const char* flag : {"trace", "svg", "dot", "save", "validation", "batch-size"})
            if (vm.count(flag))
                throw input_error(std::string("--") + flag + " with --model needs --data: without data there is no run");
}

}  // namespace

parsed parse_command_line(int argc, const char* const* argv) {
    const po::options_description all = describe_options();
    const po::variables_map vm = read_flags(argc, argv, all);
    parsed result;
    if (vm.count("help")) {
        std::ostringstream s;
        s << intro << all;
        result.what = parsed::action::help;
        result.text = s.str();
        return result;
    }
    if (vm.count("version")) {
        result.what = parsed::action::version;
        result.text = std::string("symcheck ") + symcheck_version + "\n";
        return result;
    }
    // In the order --help lists the groups, so the first bad flag reported is the same on every run.
    read_data(vm, result.cfg);
    read_model(vm, result.cfg);
    read_model_file(vm, result.cfg);
    read_initializers(vm, result.cfg);
    read_training(vm, result.cfg);
    read_batches(vm, result.cfg);
    read_analysis(vm, result.cfg);
    read_outputs(vm, result.cfg);
    return result;
}

}  // namespace symgrad::symcheck
