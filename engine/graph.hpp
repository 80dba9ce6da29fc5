// The computation graph: define once, run many times; forward in topological order, reverse-mode backward.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <iosfwd>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/op.hpp"
#include "engine/tensor.hpp"

namespace symgrad {

class graph;
class collective;
struct graph_impl;

enum class node_kind { input, parameter, op };

// Anomaly detection (graph::set_anomaly_check): none, the results only (localising on a hit), or every node.
enum class anomaly_check { off, results, every_node };

// A light handle to one node of a graph. It stays valid while the graph lives, even if the graph is moved.
// A default-constructed handle is null: every call on it (or passing it to a graph) throws graph_error.
class node {
public:
    node() = default;
    bool valid() const { return impl_ != nullptr; }
    std::size_t id() const { return id_; }
    const std::string& name() const;
    shape2 shape() const;
    node_kind kind() const;
    const tensor& value() const;
    const tensor& grad() const;
    friend bool operator==(node a, node b) { return a.impl_ == b.impl_ && a.id_ == b.id_; }
    friend bool operator!=(node a, node b) { return !(a == b); }

private:
    friend class graph;
    friend struct graph_impl;
    friend node make_node(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name);
    node(graph_impl* impl, std::size_t id) : impl_(impl), id_(id) {}
    graph_impl* impl_ = nullptr;
    std::size_t id_ = std::numeric_limits<std::size_t>::max();
};

// Adds an op node to the graph its operands belong to (what matmul(), tanh(), operator+ ... call).
// Shapes are checked now; a mismatch throws graph_error naming op, operands, shapes. An empty name gives
// "<kind>_<id>".
node make_node(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name = {});

class graph {
public:
    graph();
    ~graph();
    graph(graph&&) noexcept;
    graph& operator=(graph&&) noexcept;
    graph(const graph&) = delete;
    graph& operator=(const graph&) = delete;

    // --- building -------------------------------------------------------------------------------
    // Data fed from outside (features, labels). Zero-filled until fed.
    node input(const std::string& name, shape2 shape);
    // Trainable tensor, zero-filled until set; updated in place through value().
    node parameter(const std::string& name, shape2 shape);
    // Op nodes are added with make_node() (what matmul(), tanh(), operator+ ... call).

    // --- running --------------------------------------------------------------------------------
    // Copies data into an input. A new shape re-checks every op's shape rule and re-plans the buffers
    // (or returns to the cached plan of a set of shapes seen before). A shape that only another input's
    // new size can make fit (X fed 8 columns while Y still has 5) is accepted and checked at forward().
    void feed(node input, const tensor& data);
    // Takes data's storage instead of copying it: no second copy of a large X in the process. The graph
    // owns the data from then on (read it through value(input), valid until the input's next feed, like
    // a copied feed's); `data` is left an empty 0x0 tensor, so the caller cannot keep a dangling view of
    // it. Shapes are checked and re-planned as above; a refused feed gives `data` back unchanged.
    void feed(node input, tensor&& data);
    // Feeds several inputs as one step, e.g. feed({{X, x}, {Y, y}}): the shapes are checked together, and
    // when they do not fit nothing changes and the error names every input fed.
    void feed(std::initializer_list<std::pair<node, const tensor&>> data);
    // Evaluates every node once, in the cached topological order.
    void forward();
    // Seeds d(loss)/d(loss) = 1 and propagates vector-Jacobian products back to every parameter (and to
    // inputs marked with require_grad). Gradients are recomputed, not accumulated across calls.
    // loss must be 1x1 and forward() must have run since the last change.
    void backward(node loss);
    // Asks backward to also compute the gradient of an input (off by default; parameters always have one).
    void require_grad(node input, bool on = true);
    // Keeps this node's value and gradient readable after a pass (the planner may otherwise reuse
    // an intermediate's buffers; reading a reused one throws). Plans that already keep it readable
    // stay (no re-plan); the others are dropped. Called after a pass, it keeps every value
    // and gradient that pass left readable; those it had already overwritten throw until the next pass.
    void retain(node n);
    // Checks every value after forward and every gradient after backward for NaN/Inf, throwing
    // anomaly_error naming the first offending node (op, shape, pass). Off by default. The same as
    // set_anomaly_check(on ? anomaly_check::every_node : anomaly_check::off).
    void set_detect_anomaly(bool on);
    // How NaN/Inf is looked for: every_node checks each node as it is computed (costs a pass over every
    // buffer); results checks only the values no op reads (the loss, the outputs) after forward and the
    // parameters' gradients after backward, and at the first NaN/Inf there runs the pass again with
    // every_node, so the error names the first offending node exactly as every_node would.
    void set_anomaly_check(anomaly_check mode);
    anomaly_check anomaly_check_mode() const;
    // Poisoning, for checking ops' saves() declarations: every buffer the planner would hand from one node
    // to another is instead NaN-filled once its first owner is done with it (the new owner gets a buffer of
    // its own), and op buffers start as NaN. A backward reading what it did not declare then gives NaN.
    // On by default in debug builds (NDEBUG undefined), off otherwise; gradcheck turns it on. Re-plans.
    void set_poison_reused_buffers(bool on);
    bool poison_reused_buffers() const;
    // Fusion (off by default: measured no faster, docs/performance.md): an elementwise op whose value is overwritten in place by its only consumer,
    // itself elementwise (a bias add and the activation after it), runs together with it, a block of rows
    // at a time, one pass over memory instead of two; in backward likewise the activation's derivative and
    // the bias gradient's row sum. Every value and gradient stays the same to the bit (the ops promise it
    // in op::forward_rows/backward_rows, tests/test_engine_planner_fusion.cpp checks it). Off: one op at a
    // time; the every-node anomaly check always runs them so. Needs no re-plan.
    void set_fusion(bool on);
    bool fusion() const;
    bool detect_anomaly() const;  // any check on
    // The pass number reported by anomaly errors; the training loop sets it to its iteration.
    void set_step(long step);
    long step() const;
    // Data parallelism: this graph's inputs hold one shard of the samples and `peers` the processes holding
    // the others (engine/collective.hpp). At the end of every backward(), each parameter's gradient and the
    // loss's value are multiplied by `share` (this shard's part of the loss: its samples / all samples for a
    // mean over samples, 1 for a sum) and summed over the processes, so each holds the gradient and the loss
    // of the whole data and takes the same step. With an anomaly check on, the processes also agree after
    // each forward() and backward() whether any found a NaN/Inf on its shard, and all throw the first
    // message by rank, so none goes on to a sum the others never reach. Every process must run the same passes. Null (the default)
    // turns it off; `share` must be finite and in [0, 1]. `peers` must outlive the graph or the next call.
    void set_data_parallel(collective* peers, double share);
    collective* data_parallel() const;  // the peers, or null

    // --- reading --------------------------------------------------------------------------------
    // Writable value. For a parameter or an input this counts as a change: backward() then refuses to run
    // until forward() has (its gradients would be those of the old value). Read through a const graph or
    // node::value() to avoid that. References: a parameter's value and gradient stay at one address for
    // the graph's life; an input's value while its shape stays; an op's value or gradient until the next
    // re-plan (a node added, a new set of input shapes, retain, require_grad, poisoning).
    tensor& value(node n);
    const tensor& value(node n) const;
    const tensor& grad(node n) const;
    node find(const std::string& name) const;  // throws graph_error when absent
    bool contains(const std::string& name) const;
    std::size_t size() const;
    std::vector<node> nodes() const;            // in topological order
    std::vector<node> parameters() const;       // in creation order
    std::vector<node> inputs() const;           // in creation order
    std::vector<node> operands(node n) const;   // in argument order
    std::vector<node> consumers(node n) const;
    const op* operation(node n) const;          // null for inputs and parameters
    std::string kind_name(node n) const;        // "input", "parameter" or the op's kind()

    // Graphviz DOT, each node labelled with its name, op and shape (boost::write_graphviz).
    void write_dot(std::ostream& out) const;

private:
    // forward() and backward() on this process's shard alone: no agreement, no sum over peers.
    void forward_here();
    void backward_here(node loss);
    friend node make_node(std::unique_ptr<op> operation, const std::vector<node>& operands, const std::string& name);
    std::unique_ptr<graph_impl> impl_;
};

}  // namespace symgrad
