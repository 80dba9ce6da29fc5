// write_dot: a Graphviz digraph with one labelled vertex per node and one edge per operand, checked as text.
#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "ops/ops.hpp"

using namespace symgrad;

namespace {

struct parsed_dot {
    bool digraph = false;
    std::map<std::size_t, std::string> labels;            // vertex id -> label text (with \n escapes)
    std::multiset<std::pair<std::size_t, std::size_t>> edges;  // (from, to)
    std::size_t unparsed_lines = 0;
};

// Parses the subset of DOT that boost::write_graphviz emits: "digraph G {", "<id>[attrs];", "<a>-><b> ;", "}".
parsed_dot parse(const std::string& text) {
    parsed_dot d;
    std::istringstream in(text);
    std::string line;
    const std::regex header(R"(^\s*digraph\s+\w*\s*\{\s*$)");
    const std::regex vertex(R"re(^\s*(\d+)\s*\[label="((?:[^"\\]|\\.)*)"[^\]]*\]\s*;\s*$)re");
    const std::regex edge(R"(^\s*(\d+)\s*->\s*(\d+)\s*;?\s*$)");
    const std::regex close(R"(^\s*\}\s*$)");
    bool closed = false;
    std::smatch m;
    while (std::getline(in, line)) {
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        if (!d.digraph && std::regex_match(line, header)) {
            d.digraph = true;
        } else if (std::regex_match(line, m, vertex)) {
            d.labels[std::stoul(m[1])] = m[2];
        } else if (std::regex_match(line, m, edge)) {
            d.edges.insert({std::stoul(m[1]), std::stoul(m[2])});
        } else if (!closed && std::regex_match(line, close)) {
            closed = true;
        } else {
            ++d.unparsed_lines;
        }
    }
    d.digraph = d.digraph && closed;
    return d;
}

}  // namespace

TEST_CASE("the DOT export is a digraph labelling every node with its name, op and shape", "[engine][graph][dot]") {
    graph g;
    node X = g.input("X", {7, 5}), Y = g.input("Y", {1, 5});
    node W1 = g.parameter("W1", {4, 7}), b1 = g.parameter("b1", {4, 1});
    node W2 = g.parameter("W2", {1, 4}), b2 = g.parameter("b2", {1, 1});
    node A1 = tanh(matmul(W1, X) + b1, "A1");
    node A2 = sigmoid(matmul(W2, A1) + b2, "A2");
    node J = bce(A2, Y, "J");
    node half = scale(J, 0.5, "half");
    std::ostringstream out;
    g.write_dot(out);
    INFO(out.str());
    parsed_dot d = parse(out.str());
    CHECK(d.digraph);
    CHECK(d.unparsed_lines == 0);
    REQUIRE(d.labels.size() == g.size());
    std::size_t operand_count = 0;
    for (auto n : g.nodes()) {
        // Label: name, kind (the op's label) and shape, separated by DOT's "\n" escape.
        std::string kind = g.kind_name(n);
        if (n == half) kind = "scale(0.500000)";
        CHECK(d.labels[n.id()] == n.name() + "\\n" + kind + "\\n" + to_string(n.shape()));
        for (auto o : g.operands(n)) {
            CHECK(d.edges.count({o.id(), n.id()}) == 1);  // edges go from operand to result
            ++operand_count;
        }
    }
    CHECK(d.edges.size() == operand_count);
    CHECK(d.labels[W1.id()] == "W1\\nparameter\\n(4x7)");
    CHECK(d.labels[X.id()] == "X\\ninput\\n(7x5)");
    CHECK(d.labels[J.id()] == "J\\nbce\\n(1x1)");
}

TEST_CASE("the DOT export escapes quotes in node names", "[engine][graph][dot]") {
    graph g;
    node x = g.input("say \"hi\"", {1, 1});
    neg(x, "n");
    std::ostringstream out;
    g.write_dot(out);
    parsed_dot d = parse(out.str());
    CHECK(d.digraph);
    CHECK(d.unparsed_lines == 0);
    CHECK(d.labels[x.id()] == "say \\\"hi\\\"\\ninput\\n(1x1)");
}

TEST_CASE("the DOT export shows the shapes of the last feed", "[engine][graph][dot]") {
    graph g;
    node x = g.input("X", {2, 1});
    node t = tanh(x, "T");
    g.feed(x, tensor{{1, 2, 3}, {4, 5, 6}});
    std::ostringstream out;
    g.write_dot(out);
    CHECK_THAT(out.str(), Catch::Contains("T\\ntanh\\n(2x3)"));
    CHECK(t.shape() == shape2{2, 3});
}
