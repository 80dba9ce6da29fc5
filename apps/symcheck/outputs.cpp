// Rendering an experiment as text, JSON (nlohmann), CSV and SVG; every format is deterministic.
#include "outputs.hpp"

#include <cstdio>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "analysis/report.hpp"
#include "engine/text.hpp"
#include "model_run.hpp"
#include "options.hpp"
#include "svg_plot.hpp"

namespace symgrad::symcheck {

namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// Per label row, the samples whose entry is 1: run_experiment's counts (over every shard in data mode), or
// counted here for an experiment assembled by hand.
std::vector<std::size_t> label_counts(const experiment& ex) {
    if (!ex.label_counts.empty()) return ex.label_counts;
    const tensor& Y = ex.data.Y;
    std::vector<std::size_t> n(Y.shape()[0], 0);
    for (std::size_t c = 0; c < Y.shape()[0]; ++c)
        for (std::size_t j = 0; j < Y.shape()[1]; ++j) n[c] += Y(c, j) == 1.0;
    return n;
}

bool multiclass(const dataset& d) { return d.Y.shape()[0] > 1; }

// "(711 positive)" for 0/1 labels, "in 3 classes (Adelie 152, Chinstrap 68, Gentoo 124)" for k classes.
std::string label_words(const dataset& d, const std::vector<std::size_t>& n) {
    if (!multiclass(d)) return "(" + std::to_string(n[0]) + " positive)";
    std::string s = "in " + std::to_string(n.size()) + " classes (";
    for (std::size_t c = 0; c < n.size(); ++c)
        s += (c ? ", " : "") + (c < d.class_names.size() ? d.class_names[c] : std::to_string(c)) + " " +
             std::to_string(n[c]);
    return s + ")";
}

std::string head_words(const dataset& d) {
    if (!multiclass(d)) return ", sigmoid output, binary cross-entropy\n";
    return ", softmax output over " + std::to_string(d.Y.shape()[0]) + " classes, softmax cross-entropy\n";
}

std::string widths(const std::vector<std::size_t>& hidden) {
    if (hidden.empty()) return "none (logistic regression)";
    std::string s;
    for (std::size_t i = 0; i < hidden.size(); ++i) s += (i ? "," : "") + std::to_string(hidden[i]);
    return s;
}

std::string moved_text(const run_result& r, const std::string& name) {
    auto it = r.moved.find(name);
    if (it == r.moved.end()) return "-";
    return it->second ? "yes" : "no";
}

std::string effective(const symmetry_report& rep) {
    if (rep.layers.empty()) return "-";
    std::string s;
    for (std::size_t i = 0; i < rep.layers.size(); ++i)
        s += (i ? "," : "") + std::to_string(rep.layers[i].effective_width) + "/" + std::to_string(rep.layers[i].units);
    return s;
}

// --batch-size and --validation in the header: nothing when they were not given.
std::string batch_words(const config& cfg) {
    return cfg.batch_size == 0 ? std::string() : ", mini-batches of " + std::to_string(cfg.batch_size);
}

std::string validation_line(const config& cfg, const experiment& ex) {
    if (!ex.validation) return {};
    return "validation: " + std::to_string(ex.validation->samples()) + " samples held out (" +
           shortest(*cfg.validation) + " of the data, drawn with the seed); the " +
           std::to_string(ex.samples()) + " above train\n";
}

// Cost and accuracy of each trained network on the training data and, with --validation, the held-out part.
std::string accuracy_text(const experiment& ex) {
    std::ostringstream out;
    out << "\naccuracy after training (cost in brackets):\n";
    for (const auto& r : ex.runs) {
        if (!r.on_training) continue;
        out << "  " << r.init << ": training " << fixed(r.on_training->accuracy, 4) << " ("
            << fixed(r.on_training->cost, 6) << ")";
        if (r.on_validation)
            out << ", validation " << fixed(r.on_validation->accuracy, 4) << " (" << fixed(r.on_validation->cost, 6) << ")";
        out << "\n";
    }
    return out.str();
}

nlohmann::json evaluation_json(const evaluation& e) {
    return {{"cost", e.cost}, {"accuracy", e.accuracy}, {"samples", e.samples}};
}

}  // namespace

int exit_status(const experiment& ex) {
    for (const auto& r : ex.runs)
        if (r.final.has_problem()) return 1;
    return 0;
}

std::string text_report(const config& cfg, const experiment& ex) {
    std::ostringstream out;
    out << "symcheck: " << ex.data.source << ", " << ex.samples() << " samples " << label_words(ex.data, label_counts(ex)) << ", "
        << ex.data.features() << " features\n";
    for (const auto& n : ex.data.notes) out << "data: " << n << "\n";
    for (const auto& w : ex.data.warnings) out << "warning: " << w << "\n";
    if (ex.model)
        out << model_text(*ex.model);
    else
        out << "model: " << ex.data.features() << " inputs, hidden " << widths(cfg.hidden)
            << (cfg.hidden.empty() ? std::string() : std::string(" (") + to_string(cfg.hidden_activation) + ")")
            << head_words(ex.data);
    out << validation_line(cfg, ex)
        << "training: " << cfg.optimizer << ", learning rate " << cfg.learning_rate << ", " << cfg.iterations
        << " iterations" << batch_words(cfg) << ", seed " << cfg.seed << "\n\n";

    // The comparison table.
    std::vector<std::string> heads{"init", "verdict", "effective width", "cost at start", "cost after training"};
    bool two_w = ex.spec.hidden.size() >= 1 && !ex.model;  // W1/W2 are build_mlp's names
    if (two_w) {
        heads.push_back("W1 moved");
        heads.push_back("W2 moved");
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : ex.runs) {
        std::vector<std::string> row{r.init, to_string(r.final.verdict), effective(r.final), fixed(r.initial_cost, 6),
                                     fixed(r.final_cost, 6)};
        if (two_w) {
            row.push_back(moved_text(r, "W1"));
            row.push_back(moved_text(r, "W2"));
        }
        rows.push_back(row);
    }
    std::vector<std::size_t> w(heads.size());
    for (std::size_t c = 0; c < heads.size(); ++c) {
        w[c] = heads[c].size();
        for (auto& row : rows) w[c] = std::max(w[c], row[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t c = 0; c < cells.size(); ++c)
            out << (c ? "  " : "") << std::left << std::setw(int(w[c])) << cells[c];
        out << "\n";
    };
    line(heads);
    std::vector<std::string> rule;
    for (auto x : w) rule.push_back(std::string(x, '-'));
    line(rule);
    for (auto& row : rows) line(row);
    out << "\n(effective width: distinct units / units, per hidden layer)\n";
    if (cfg.reports_accuracy()) out << accuracy_text(ex);

    for (const auto& r : ex.runs) {
        out << "\n=== init " << r.init << " ===\n" << to_text(r.final);
        if (r.final.verdict != r.initial.verdict)
            out << "(as initialised, before training, the verdict was " << to_string(r.initial.verdict) << ")\n";
    }
    if (ex.model) out << "\n" << compression_text(*ex.model);
    return out.str();
}

std::string json_report(const config& cfg, const experiment& ex) {
    using nlohmann::json;
    json j;
    j["tool"] = "symcheck";
    j["version"] = symcheck_version;
    j["data"] = {{"source", ex.data.source},         {"samples", ex.samples()},
                 {"features", ex.data.features()},   {"feature_names", ex.data.feature_names},
                 {"label", ex.data.label_name},      {"positives", label_counts(ex)[0]}};
    if (multiclass(ex.data)) {  // k classes: their names and counts instead of a count of positives
        j["data"].erase("positives");
        j["data"]["classes"] = ex.data.class_names;
        j["data"]["class_samples"] = label_counts(ex);
    }
    if (ex.data.rows_read) j["data"]["rows_read"] = ex.data.rows_read;  // absent for the embedded data, as before
    if (!ex.data.notes.empty()) j["data"]["notes"] = ex.data.notes;
    if (!ex.data.warnings.empty()) j["data"]["warnings"] = ex.data.warnings;
    j["model"] = {{"inputs", ex.spec.inputs},
                  {"hidden", ex.model ? ex.spec.hidden : cfg.hidden},  // --model: the file's widths
                  {"activation", to_string(ex.spec.hidden_activation)},
                  {"output", "sigmoid"},
                  {"loss", "bce_with_logits"}};
    if (multiclass(ex.data)) {
        j["model"]["output"] = "softmax";
        j["model"]["loss"] = "softmax_cross_entropy";
        j["model"]["outputs"] = ex.spec.outputs;
    }
    j["training"] = {{"optimizer", cfg.optimizer},
                     {"learning_rate", cfg.learning_rate},
                     {"iterations", cfg.iterations},
                     {"seed", cfg.seed},
                     {"trace_every", cfg.trace_every}};
    if (cfg.batch_size != 0) j["training"]["batch_size"] = cfg.batch_size;
    if (ex.validation) j["data"]["validation_samples"] = ex.validation->samples();
    j["verdict"] = to_string(ex.verdict());
    j["exit_status"] = exit_status(ex);
    json runs = json::array();
    for (const auto& r : ex.runs) {
        json run = to_json_value(r.final);
        run["init"] = r.init;
        run["initial_verdict"] = to_string(r.initial.verdict);
        run["initial_cost"] = r.initial_cost;
        run["final_cost"] = r.final_cost;
        json moved = json::object();
        for (const auto& [name, m] : r.moved) moved[name] = m;
        run["moved"] = moved;
        if (r.on_training) run["training_evaluation"] = evaluation_json(*r.on_training);
        if (r.on_validation) run["validation_evaluation"] = evaluation_json(*r.on_validation);
        json trace = json::array();
        for (const auto& p : r.trace) {
            json t = {{"iteration", p.iteration}, {"cost", p.cost}};
            t["effective_width"] = p.effective_width ? json(*p.effective_width) : json(nullptr);
            trace.push_back(t);
        }
        run["trace"] = trace;
        runs.push_back(run);
    }
    j["runs"] = runs;
    if (ex.model) add_model_json(cfg, *ex.model, j);
    return j.dump(2) + "\n";
}

std::string trace_csv(const experiment& ex) {
    std::ostringstream out;
    out << "run,iteration,cost,effective_width\n";
    for (const auto& r : ex.runs) {
        std::string name = r.init;
        bool quote = name.find_first_of(",\"") != std::string::npos;
        if (quote) {
            std::string q = "\"";
            for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
            name = q + "\"";
        }
        for (const auto& p : r.trace) {
            char cost[40];
            std::snprintf(cost, sizeof cost, "%.17g", p.cost);
            out << name << "," << p.iteration << "," << cost << ","
                << (p.effective_width ? std::to_string(*p.effective_width) : std::string()) << "\n";
        }
    }
    return out.str();
}

std::string figure_svg(const config& cfg, const experiment& ex) {
    plot::panel cost{"Cost against iteration", "iteration", "cost (binary cross-entropy)", {}, false};
    plot::panel width{"Effective width against iteration", "iteration", "distinct hidden units", {}, true};
    for (const auto& r : ex.runs) {
        plot::series c{r.init, {}, {}}, w{r.init, {}, {}};
        for (const auto& p : r.trace) {
            c.x.push_back(double(p.iteration));
            c.y.push_back(p.cost);
            if (p.effective_width) {
                w.x.push_back(double(p.iteration));
                w.y.push_back(double(*p.effective_width));
            }
        }
        cost.lines.push_back(std::move(c));
        width.lines.push_back(std::move(w));
    }
    std::string title = "symcheck: " + ex.data.source + ", hidden " + widths(cfg.hidden) + " " +
                        to_string(cfg.hidden_activation) + ", " + cfg.optimizer + " lr " + six_digits(cfg.learning_rate);
    std::vector<plot::panel> panels{cost};
    if (!cfg.hidden.empty()) panels.push_back(width);
    return plot::render_svg(title, panels);
}

}  // namespace symgrad::symcheck
