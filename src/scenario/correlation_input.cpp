// The correlation input: [correlation] (and [regime.stress.correlation]) as a full matrix or
// as named pairs with a default, checked (shape, range, diagonal, symmetry, PSD) or repaired.
#include "scenario/readers.hpp"

#include <fmt/format.h>
#include "numerics/correlation.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace marginsim::detail {

namespace {

constexpr double symmetry_tolerance = 1e-12;

std::string count(std::size_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

// `prefix` is the matrix's own key: "correlation.matrix", "regime.stress.correlation.matrix".
std::string matrix_key(std::string_view prefix, std::size_t i, std::size_t j) {
    return fmt::format("{}[{}][{}]", prefix, i, j);
}

// A matrix as a TOML array of rows, to 6 significant digits: how a repaired matrix is shown.
std::string format_matrix(const std::vector<double>& matrix, std::size_t n) {
    std::string text = "[";
    for (std::size_t i = 0; i < n; ++i) {
        text += i == 0 ? "[" : ", [";
        for (std::size_t j = 0; j < n; ++j) {
            text += fmt::format("{}{:.6g}", j == 0 ? "" : ", ", matrix[i * n + j]);
        }
        text += ']';
    }
    return text + ']';
}

struct NamedPair {
    std::size_t first = 0;
    std::size_t second = 0;
};

// The assets named by a key "A/B" of [correlation] pairs. Symbols may themselves hold a '/':
// every split point is tried, and the key must name two assets at exactly one.
NamedPair read_pair_name(const Context& context, const toml::key& name, const std::string& key,
                         const std::vector<Asset>& assets) {
    const std::string_view text = name.str();
    const std::string expected =
        fmt::format("a pair \"A/B\" of two asset symbols among {}", quoted_symbols(assets));
    std::optional<NamedPair> found;
    std::string_view unknown;
    for (std::size_t slash = text.find('/'); slash != std::string_view::npos;
         slash = text.find('/', slash + 1)) {
        const auto a = asset_index(assets, text.substr(0, slash));
        const auto b = asset_index(assets, text.substr(slash + 1));
        if (a && b) {
            if (found) {
                context.fail(name.source(), key,
                             "ambiguous pair: more than one split names two assets", expected);
            }
            found = NamedPair{*a, *b};
        } else if (unknown.empty()) {
            unknown = a ? text.substr(slash + 1) : text.substr(0, slash);
        }
    }
    if (!found) {
        if (text.find('/') == std::string_view::npos) {
            context.fail(name.source(), key, "not a pair: no '/' between two symbols", expected);
        }
        context.fail(name.source(), key, fmt::format("no asset named \"{}\"", unknown),
                     expected);
    }
    if (found->first == found->second) {
        context.fail(name.source(), key,
                     fmt::format("a pair of \"{}\" with itself: its correlation is 1 by "
                                 "definition",
                                 assets[found->first].symbol),
                     "a pair of two different assets");
    }
    return *found;
}

// pairs = { "BTC/ETH" = 0.8, ... }, default = 0.5: the full matrix, `default` (0 when absent)
// for every pair not named. Checks in file order, so a pair given twice is reported where it
// is repeated.
std::vector<double> read_pairs(const TableReader& c, const std::vector<Asset>& assets) {
    Context& context = c.context();
    const std::size_t n = assets.size();
    c.table("pairs", "a table of pairs such as { \"BTC/ETH\" = 0.8 }");  // fails unless a table
    const std::string_view correlation_expected = "a correlation in [-1, 1]";
    const auto in_range = [](double v) { return v >= -1.0 && v <= 1.0; };
    const double fallback = c.number("default", correlation_expected, in_range).value_or(0.0);
    std::vector<double> matrix(n * n, fallback);
    for (std::size_t i = 0; i < n; ++i) matrix[i * n + i] = 1.0;

    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [name, node] : *c.find("pairs")->as_table()) {
        entries.emplace_back(&name, &node);
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const auto& x = a.first->source().begin;
        const auto& y = b.first->source().begin;
        return std::pair(x.line, x.column) < std::pair(y.line, y.column);
    });
    std::vector<const toml::key*> given(n * n, nullptr);
    for (const auto& [name, node] : entries) {
        const std::string key = fmt::format("{}.\"{}\"", c.key("pairs"), name->str());
        const NamedPair pair = read_pair_name(context, *name, key, assets);
        const double value = read_number(context, *node, key, correlation_expected, in_range);
        const std::size_t ij = pair.first * n + pair.second;
        if (const toml::key* earlier = given[ij]) {
            context.fail(name->source(), key,
                         fmt::format("the pair {}/{} is given twice: \"{}\" at line {} already "
                                     "sets it",
                                     assets[pair.first].symbol, assets[pair.second].symbol,
                                     earlier->str(), earlier->source().begin.line),
                         "each pair once, in either order");
        }
        given[ij] = given[pair.second * n + pair.first] = name;
        matrix[ij] = matrix[pair.second * n + pair.first] = value;
    }
    return matrix;
}

std::vector<double> identity_matrix(std::size_t n) {
    std::vector<double> matrix(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) matrix[i * n + i] = 1.0;
    return matrix;
}

}  // namespace

// Reads the matrix row by row, with the checks of the contract in order: shape, range,
// unit diagonal, symmetry (positive semi-definiteness is checked by the caller).
std::vector<double> read_matrix(const TableReader& c, std::size_t n) {
    Context& context = c.context();
    const toml::node& node = *c.find("matrix");
    const std::string matrix_name = c.key("matrix");
    const std::string square =
        fmt::format("a {0} x {0} matrix: one row and one column per asset, in [[assets]] order", n);
    const toml::array* rows = node.as_array();
    if (rows == nullptr)
        context.fail(node.source(), matrix_name, "wrong type: found " + describe(node),
                     square);
    if (rows->size() != n) {
        context.fail(node.source(), matrix_name,
                     fmt::format("found {} for {} assets", count(rows->size(), "row", "rows"), n),
                     square);
    }
    std::vector<const toml::array*> row_arrays;
    for (std::size_t i = 0; i < n; ++i) {
        const toml::node& row = (*rows)[i];
        const std::string key = fmt::format("{}[{}]", matrix_name, i);
        const std::string row_expected = fmt::format("a row of {} numbers, one per asset", n);
        const toml::array* values = row.as_array();
        if (values == nullptr)
            context.fail(row.source(), key, "wrong type: found " + describe(row), row_expected);
        if (values->size() != n) {
            context.fail(
                row.source(), key,
                fmt::format("found {} for {} assets", count(values->size(), "entry", "entries"), n),
                row_expected);
        }
        row_arrays.push_back(values);
    }
    std::vector<double> matrix(n * n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            matrix[i * n + j] = read_number(context, (*row_arrays[i])[j], matrix_key(matrix_name, i, j),
                                            "a correlation in [-1, 1]",
                                            [](double v) { return v >= -1.0 && v <= 1.0; });
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double a = matrix[i * n + i];
        if (std::abs(a - 1.0) > symmetry_tolerance) {
            context.fail((*row_arrays[i])[i].source(), matrix_key(matrix_name, i, i),
                         "not a unit diagonal: found " + format_input(a),
                         "1 on the diagonal: each asset's correlation with itself");
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            const double lower = matrix[i * n + j];
            const double upper = matrix[j * n + i];
            if (std::abs(lower - upper) > symmetry_tolerance) {
                context.fail(
                    (*row_arrays[i])[j].source(), matrix_key(matrix_name, i, j),
                    fmt::format("not symmetric: found {}, but {} is {}", format_input(lower),
                                matrix_key(matrix_name, j, i), format_input(upper)),
                    "a symmetric matrix: [i][j] equal to [j][i]");
            }
        }
    }
    return matrix;
}

// A [correlation]-style table (matrix, or pairs with a default; repair), `fallback` when it
// gives neither matrix nor pairs. Used for [correlation] and [regime.stress.correlation].
CorrelationRead read_correlation_table(const TableReader& c, const std::vector<Asset>& assets,
                                       std::vector<double> fallback) {
    const std::size_t n = assets.size();
    CorrelationRead result;
    result.matrix = std::move(fallback);
    c.allow_only({"matrix", "pairs", "default", "repair"});
    const bool repair =
        c.choice<bool>("repair", {{false, "none"}, {true, "nearest"}}).value_or(false);
    const std::string one_of =
        "exactly one of matrix (the full matrix) or pairs (with an optional default)";
    if (c.has("matrix") && c.has("pairs")) c.fail_table("both matrix and pairs are given", one_of);
    if (c.has("default") && !c.has("pairs")) {
        c.fail_value("default", "default is only used with pairs, but no pairs are given",
                     "pairs = { \"A/B\" = ... } next to default, or no default");
    }
    if (!c.has("matrix") && !c.has("pairs")) return result;

    const std::string_view source_key = c.has("matrix") ? "matrix" : "pairs";
    std::vector<double> matrix = c.has("matrix") ? read_matrix(c, n) : read_pairs(c, assets);
    const std::string key = c.key(source_key);
    const double smallest = detail::smallest_eigenvalue(matrix, n);
    if (smallest < psd_tolerance) {
        const toml::source_region& at = c.find(source_key)->source();
        if (!repair) {
            c.context().fail(
                at, key,
                fmt::format("{}not positive semi-definite: smallest eigenvalue {:.3g}",
                            source_key == "pairs" ? "the matrix of pairs and default is " : "",
                            smallest),
                fmt::format("a positive semi-definite matrix, correlations that can hold "
                            "together; or repair = \"nearest\" in [{}] to use the nearest valid "
                            "correlation matrix",
                            c.path()));
        }
        detail::NearestCorrelation nearest = detail::nearest_correlation(matrix, n);
        matrix = std::move(nearest.matrix);
        result.repaired = true;
        result.repair_distance = nearest.frobenius_distance;
        c.context().warn(at,
                         fmt::format("{} is not positive semi-definite (smallest eigenvalue "
                                     "{:.3g}): replaced by the nearest correlation matrix, "
                                     "Frobenius distance {:.3g}: {}",
                                     key, smallest, nearest.frobenius_distance,
                                     format_matrix(matrix, n)));
    }
    result.matrix = std::move(matrix);
    return result;
}

void read_correlation(const TableReader& root, Scenario& scenario) {
    const std::size_t n = scenario.assets.size();
    scenario.correlation = identity_matrix(n);
    const auto table = root.table("correlation", "a table [correlation]");
    if (!table) return;
    CorrelationRead read = read_correlation_table(*table, scenario.assets, identity_matrix(n));
    scenario.correlation = std::move(read.matrix);
    scenario.correlation_repaired = read.repaired;
    scenario.correlation_repair_distance = read.repair_distance;
}

}  // namespace marginsim::detail
