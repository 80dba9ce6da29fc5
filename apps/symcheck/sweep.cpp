// Runs mode: an exact binary encoding of run_result (a small writer and reader over one field list per struct)
// and the gathering of every rank's runs in run order.
#include "sweep.hpp"

#include <climits>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "engine/error.hpp"

namespace symgrad::symcheck {

namespace {

// Hand-written rather than Boost.Serialization: its binary archives trust a stored length (a corrupt one
// reserves gigabytes or reads past the end), and here every length is checked against the bytes left.
constexpr char header[] = "symgrad run_result 1\n";
constexpr std::size_t header_size = sizeof(header) - 1;

// A field added to one of these structs must be added to its field list below; on the platform the project is
// built and tested on (x86-64, libstdc++) a changed size stops the build here rather than losing the field.
#if defined(__x86_64__) && defined(__GLIBCXX__) && !defined(_GLIBCXX_DEBUG)
static_assert(sizeof(run_result) == 672 && sizeof(trace_point) == 32 && sizeof(evaluation) == 24 &&
                  sizeof(symmetry_report) == 208 && sizeof(layer_report) == 512 && sizeof(reason) == 240 &&
                  sizeof(initializer) == 24 && sizeof(layer_lookahead) == 88 && sizeof(class_growth) == 64 &&
                  sizeof(group_separation) == 32,
              "run_result or a struct it holds changed: update apps/symcheck/sweep.cpp's field lists");
#endif

// The largest value of each encoded enum, to refuse any other number when decoding.
template <class E> constexpr E last_of();
template <> constexpr symmetry_verdict last_of() { return symmetry_verdict::frozen; }
template <> constexpr reason_code last_of() { return reason_code::none_needed; }
template <> constexpr initializer::method last_of() { return initializer::method::he_normal; }

// One field list per struct, read by the writer (T const) and the reader alike.
template <class T, class U> using if_is = std::enable_if_t<std::is_same_v<std::remove_const_t<T>, U>, int>;

template <class A, class T, if_is<T, trace_point> = 0> void fields(A& a, T& p) { a(p.iteration, p.cost, p.effective_width); }
template <class A, class T, if_is<T, evaluation> = 0> void fields(A& a, T& e) { a(e.cost, e.accuracy, e.samples); }
template <class A, class T, if_is<T, initializer> = 0> void fields(A& a, T& i) { a(i.how, i.a, i.b); }

template <class A, class T, if_is<T, reason> = 0> void fields(A& a, T& r) {
    a(r.code, r.units, r.classes, r.groups, r.layers, r.layer, r.activation_kind, r.parameters, r.example_units);
    a(r.frozen_units, r.steps, r.optimizer, r.growth, r.iteration, r.recommended);
}

template <class A, class T, if_is<T, class_growth> = 0> void fields(A& a, T& c) {
    a(c.cls, c.initial_spread, c.final_spread, c.max_spread, c.growth_per_100, c.separated_at,
      c.predicted_separation, c.grows, c.steady);
}

template <class A, class T, if_is<T, group_separation> = 0> void fields(A& a, T& g) { a(g.units, g.separated_at); }
template <class A, class T, if_is<T, layer_lookahead> = 0> void fields(A& a, T& l) { a(l.classes, l.groups, l.moved); }

template <class A, class T, if_is<T, layer_report> = 0> void fields(A& a, T& l) {
    a(l.name, l.activation, l.activation_kind, l.parameters, l.units, l.effective_width, l.classes, l.signs);
    a(l.class_keys, l.class_spreads, l.max_derivative, l.inactive_units, l.frozen_units, l.lookahead);
    a(l.transient_groups, l.verdict, l.moving_parameters, l.output_zero, l.class_spread, l.why, l.fix);
}

template <class A, class T, if_is<T, symmetry_report> = 0> void fields(A& a, T& r) {
    a(r.verdict, r.layers, r.moving_parameters, r.still_parameters, r.notes, r.relative_tolerance, r.exact);
    a(r.lookahead_ran, r.lookahead_steps, r.lookahead_optimizer, r.why, r.fix);
}

template <class A, class T, if_is<T, run_result> = 0> void fields(A& a, T& r) {
    a(r.init, r.trace, r.initial, r.final, r.initial_cost, r.final_cost, r.moved, r.on_training, r.on_validation);
    a(r.saved_files, r.final_parameters);
}

// Numbers as 64-bit little-endian (doubles by their bits), containers and strings after their length.
class writer {
public:
    std::string bytes;
    template <class... T> void operator()(const T&... x) { (put(x), ...); }

private:
    void u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) bytes.push_back(char((v >> (8 * i)) & 0xff));
    }
    void put(bool b) { bytes.push_back(b ? 1 : 0); }
    void put(std::size_t n) { u64(n); }
    void put(long n) { u64(std::uint64_t(n)); }
    void put(int n) { u64(std::uint64_t(std::int64_t(n))); }
    void put(double d) {
        std::uint64_t v;
        std::memcpy(&v, &d, sizeof v);
        u64(v);
    }
    void put(const std::string& s) { put(s.size()), bytes += s; }
    void put(const tensor& t) {
        put(t.shape()[0]), put(t.shape()[1]);
        for (double d : t) put(d);
    }
    template <class T> void put(const std::vector<T>& v) {
        put(v.size());
        for (const auto& x : v) put(static_cast<const T&>(x));
    }
    template <class K, class V> void put(const std::map<K, V>& m) {
        put(m.size());
        for (const auto& [k, v] : m) put(k), put(v);
    }
    template <class T> void put(const std::optional<T>& o) {
        put(o.has_value());
        if (o) put(*o);
    }
    template <class T, class U> void put(const std::pair<T, U>& p) { put(p.first), put(p.second); }
    template <class T> void put(const T& x) {
        if constexpr (std::is_enum_v<T>)
            u64(std::uint64_t(x));
        else
            fields(*this, x);
    }
};

// The writer's mirror. Every length is checked against the bytes left before anything is allocated.
class reader {
public:
    explicit reader(const std::string& bytes) : b_(bytes) {}
    template <class... T> void operator()(T&... x) { (get(x), ...); }
    void expect_header() {
        if (b_.compare(0, header_size, header) != 0) fail("does not start with '" + std::string(header, header_size - 1) + "'");
        pos_ = header_size;
    }
    void finish() const {
        if (pos_ != b_.size()) fail(std::to_string(b_.size() - pos_) + " bytes after the end");
    }

private:
    // `at`: where the offending value starts.
    [[noreturn]] void fail(const std::string& what) const { fail(what, pos_); }
    [[noreturn]] void fail(const std::string& what, std::size_t at) const {
        throw input_error("run encoding: " + what + " (at byte " + std::to_string(at) + " of " +
                          std::to_string(b_.size()) + ")");
    }
    std::size_t left() const { return b_.size() - pos_; }
    std::uint64_t u64() {
        if (left() < 8) fail("truncated: a number needs 8 bytes, " + std::to_string(left()) + " left");
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= std::uint64_t(static_cast<unsigned char>(b_[pos_ + i])) << (8 * i);
        pos_ += 8;
        return v;
    }
    // A length of elements that take at least `each` bytes apiece.
    std::size_t length(std::size_t each) {
        std::uint64_t n = u64();
        if (n > left() / each) fail("a length of " + std::to_string(n) + " runs past the end", pos_ - 8);
        return n;
    }
    void get(bool& x) {
        if (left() < 1) fail("truncated: a bool needs 1 byte");
        unsigned char c = static_cast<unsigned char>(b_[pos_]);
        if (c > 1) fail("a bool of value " + std::to_string(c));
        ++pos_, x = c == 1;
    }
    void get(std::size_t& n) { n = u64(); }
    void get(long& n) { n = long(std::int64_t(u64())); }
    void get(int& n) {
        std::int64_t v = std::int64_t(u64());
        if (v < INT_MIN || v > INT_MAX) fail("an int of value " + std::to_string(v), pos_ - 8);
        n = int(v);
    }
    void get(double& d) {
        std::uint64_t v = u64();
        std::memcpy(&d, &v, sizeof d);
    }
    void get(std::string& s) {
        std::size_t n = length(1);
        s.assign(b_, pos_, n), pos_ += n;
    }
    void get(tensor& t) {
        std::size_t rows = u64(), cols = u64();
        // A dimension beside a zero one allocates nothing but must keep xtensor's stride arithmetic in range.
        constexpr std::size_t largest_dimension = std::size_t(1) << 32;
        if (rows > largest_dimension || cols > largest_dimension || (rows != 0 && cols > left() / 8 / rows))
            fail("an impossible tensor of " + std::to_string(rows) + " x " + std::to_string(cols), pos_ - 16);
        t = tensor::from_shape({rows, cols});
        for (double& d : t) get(d);
    }
    template <class T> void get(std::vector<T>& v) {
        std::size_t n = length(1);  // every element takes at least one byte
        v.clear();
        for (std::size_t i = 0; i < n; ++i) {
            T x{};
            get(x);
            v.push_back(std::move(x));
        }
    }
    template <class K, class V> void get(std::map<K, V>& m) {
        std::size_t n = length(1);
        m.clear();
        for (std::size_t i = 0; i < n; ++i) {
            K k{};
            V v{};
            get(k), get(v);
            if (!m.emplace(std::move(k), std::move(v)).second) fail("a key repeated in a map");
        }
    }
    template <class T> void get(std::optional<T>& o) {
        bool has = false;
        get(has);
        o.reset();
        if (has) get(o.emplace());
    }
    template <class T, class U> void get(std::pair<T, U>& p) { get(p.first), get(p.second); }
    template <class T> void get(T& x) {
        if constexpr (std::is_enum_v<T>) {
            std::uint64_t v = u64();
            if (v > std::uint64_t(last_of<T>())) fail("an enumerator of value " + std::to_string(v), pos_ - 8);
            x = T(v);
        } else {
            fields(*this, x);
        }
    }

    const std::string& b_;
    std::size_t pos_ = 0;
};

std::vector<std::size_t> runs_of(std::size_t runs, std::size_t rank, std::size_t ranks) {
    std::vector<std::size_t> mine;
    for (std::size_t i = rank; i < runs; i += ranks) mine.push_back(i);
    return mine;
}

}  // namespace

std::string encode(const run_result& run) {
    writer w;
    w.bytes = header;
    w(run);
    return std::move(w.bytes);
}

run_result decode(const std::string& bytes) {
    reader r(bytes);
    r.expect_header();
    run_result run;
    r(run);
    r.finish();
    return run;
}

std::vector<std::size_t> runs_of_rank(std::size_t runs, const collective& peers) {
    return runs_of(runs, peers.rank(), peers.size());
}

// all_gather sends every rank's bytes to every rank: each receives all runs' encodings (reports and final
// parameters, kilobytes to a few megabytes per run), small beside the training that made them.
std::vector<run_result> gather_runs(std::vector<run_result> mine, std::size_t runs, collective& peers) {
    std::vector<std::string> encoded;
    for (const auto& run : mine) encoded.push_back(encode(run));
    writer message;
    message(encoded);
    mine = {}, encoded = {};  // freed before every rank's runs arrive
    const std::vector<std::string> all = peers.all_gather(message.bytes);
    const std::size_t ranks = peers.size();
    std::vector<run_result> gathered(runs);
    // Every rank decodes every message, its own included, so all hold the same runs and a bad message fails
    // all of them alike, none waiting.
    for (std::size_t q = 0; q < ranks; ++q) {
        const auto expected = runs_of(runs, q, ranks);
        std::vector<std::string> parts;
        try {
            reader r(all[q]);
            r(parts);
            r.finish();
        } catch (const input_error& e) {
            throw input_error("gathering runs: rank " + std::to_string(q) + "'s message: " + e.what());
        }
        if (parts.size() != expected.size())
            throw input_error("gathering runs: rank " + std::to_string(q) + " sent " + std::to_string(parts.size()) +
                              " runs, expected " + std::to_string(expected.size()) + " of " + std::to_string(runs));
        for (std::size_t j = 0; j < parts.size(); ++j) {
            try {
                gathered[expected[j]] = decode(parts[j]);
            } catch (const input_error& e) {
                throw input_error("gathering runs: run " + std::to_string(expected[j]) + " from rank " +
                                  std::to_string(q) + ": " + e.what());
            }
        }
    }
    return gathered;
}

}  // namespace symgrad::symcheck
