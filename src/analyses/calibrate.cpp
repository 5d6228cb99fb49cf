#include "marginsim/calibrate.hpp"

#include "numerics/correlation.hpp"
#include "marginsim/error.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <system_error>
#include <utility>

namespace marginsim {

std::string format_date(Date date) {
    const std::chrono::year_month_day ymd(date);
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

std::string_view to_string(CovarianceMethod method) noexcept {
    switch (method) {
        case CovarianceMethod::sample: return "sample";
        case CovarianceMethod::ewma: return "ewma";
    }
    return "unknown";
}

namespace {

constexpr double days_per_year = 365.0;
constexpr std::array<std::string_view, 4> quote_currencies{"USDT", "USDC", "BUSD", "USD"};

bool ends_with_quote(std::string_view text, std::string_view& quote) {
    for (std::string_view q : quote_currencies) {
        if (text.size() > q.size() && text.substr(text.size() - q.size()) == q) {
            quote = q;
            return true;
        }
    }
    return false;
}

std::string lowercase(std::string_view text) {
    std::string result(text);
    for (char& c : result) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return result;
}

// ---------------------------------------------------------------------------------------------
// CSV reading

struct Line {
    std::size_t number = 0;  // 1-based
    std::string_view text;
};

std::vector<Line> split_lines(std::string_view text) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
    std::vector<Line> lines;
    std::size_t number = 1;
    while (!text.empty()) {
        const std::size_t end = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, end);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back({number++, line});
        text.remove_prefix(std::min(end + 1, text.size()));
    }
    return lines;
}

bool blank(std::string_view text) {
    return text.find_first_not_of(" \t") == std::string_view::npos;
}

struct Cell {
    std::string_view text;
    std::size_t column = 0;  // 1-based, of the cell's first character
};

// Fields separated by commas, without surrounding blanks and double quotes.
std::vector<Cell> split_cells(std::string_view line) {
    std::vector<Cell> cells;
    std::size_t begin = 0;
    while (true) {
        const std::size_t end = std::min(line.find(',', begin), line.size());
        std::string_view cell = line.substr(begin, end - begin);
        std::size_t column = begin + 1;
        while (!cell.empty() && (cell.front() == ' ' || cell.front() == '\t')) {
            cell.remove_prefix(1);
            ++column;
        }
        while (!cell.empty() && (cell.back() == ' ' || cell.back() == '\t')) cell.remove_suffix(1);
        if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') {
            cell = cell.substr(1, cell.size() - 2);
            ++column;
        }
        cells.push_back({cell, column});
        if (end == line.size()) break;
        begin = end + 1;
    }
    return cells;
}

struct Columns {
    std::size_t count = 0;
    std::size_t date = 0;
    std::size_t close = 0;
    std::optional<std::size_t> symbol;
};

std::optional<Columns> header_columns(std::string_view line) {
    const std::vector<Cell> cells = split_cells(line);
    std::optional<std::size_t> date;
    std::optional<std::size_t> close;
    Columns columns;
    columns.count = cells.size();
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const std::string name = lowercase(cells[i].text);
        if (name == "date" && !date) date = i;
        if (name == "close" && !close) close = i;
        if (name == "symbol" && !columns.symbol) columns.symbol = i;
    }
    if (!date || !close) return std::nullopt;
    columns.date = *date;
    columns.close = *close;
    return columns;
}

std::optional<int> parse_digits(std::string_view text) {
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// YYYY-MM-DD, optionally followed by a time ("2026-03-30 00:00:00", "2026-03-30T00:00Z").
std::optional<Date> parse_date(std::string_view text) {
    if (text.size() < 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    if (text.size() > 10 && text[10] != ' ' && text[10] != 'T') return std::nullopt;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
    }
    const auto year = parse_digits(text.substr(0, 4));
    const auto month = parse_digits(text.substr(5, 2));
    const auto day = parse_digits(text.substr(8, 2));
    const std::chrono::year_month_day ymd{std::chrono::year(*year),
                                          std::chrono::month(static_cast<unsigned>(*month)),
                                          std::chrono::day(static_cast<unsigned>(*day))};
    if (!ymd.ok()) return std::nullopt;
    return Date(ymd);
}

std::optional<double> parse_number(std::string_view text) {
    double value = 0.0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

class CsvContext {
public:
    explicit CsvContext(std::string source) : source_(std::move(source)) {}
    const std::string& source() const noexcept { return source_; }

    [[noreturn]] void fail(std::size_t line, std::size_t column, std::string key,
                           std::string message, std::string expected) const {
        throw InputError(source_, line, column, std::move(key), std::move(message),
                         std::move(expected));
    }

private:
    std::string source_;
};

const std::string header_expected =
    "a header line naming the date and close columns: CryptoDataDownload's "
    "\"Unix,Date,Symbol,Open,High,Low,Close,...\" after the publisher's line, or \"date,close\"";

// The header: the first non-blank line, or the second one after a preamble (the publisher's
// URL of CryptoDataDownload files). Returns the index of the header in `lines`.
std::pair<std::size_t, Columns> find_header(const CsvContext& context,
                                            const std::vector<Line>& lines) {
    std::vector<std::size_t> candidates;
    for (std::size_t i = 0; i < lines.size() && candidates.size() < 2; ++i) {
        if (!blank(lines[i].text)) candidates.push_back(i);
    }
    if (candidates.empty()) context.fail(0, 0, "", "empty file", header_expected + " and rows");
    for (std::size_t i : candidates) {
        if (const auto columns = header_columns(lines[i].text)) return {i, *columns};
    }
    context.fail(
        lines[candidates.back()].number, 1, "",
        candidates.size() == 1 ? "no header line" : "no header line in the first two lines",
        header_expected);
}

struct Row {
    std::size_t line = 0;
    Date date;
    double close = 0.0;
};

std::string file_name(std::string_view source) {
    return std::filesystem::path(source).filename().string();
}

}  // namespace

std::string strip_quote_currency(std::string_view pair) {
    std::string_view quote;
    if (!ends_with_quote(pair, quote)) return std::string(pair);
    std::string_view base = pair.substr(0, pair.size() - quote.size());
    if (base.back() == '/' || base.back() == '-' || base.back() == '_') base.remove_suffix(1);
    return base.empty() ? std::string(pair) : std::string(base);
}

std::string symbol_from_file_name(const std::filesystem::path& path) {
    const std::string stem = path.stem().string();
    std::size_t begin = 0;
    while (begin <= stem.size()) {
        const std::size_t end = std::min(stem.find('_', begin), stem.size());
        const std::string_view part = std::string_view(stem).substr(begin, end - begin);
        std::string_view quote;
        if (ends_with_quote(part, quote)) return strip_quote_currency(part);
        begin = end + 1;
    }
    return stem;
}

PriceSeries parse_price_csv(std::string_view text, std::string_view source_name,
                            const std::optional<std::string>& symbol) {
    const CsvContext context{std::string(source_name)};
    const std::vector<Line> lines = split_lines(text);
    const auto [header, columns] = find_header(context, lines);

    std::vector<Row> rows;
    std::string symbol_cell;
    std::size_t symbol_line = 0;
    for (std::size_t i = header + 1; i < lines.size(); ++i) {
        const Line& line = lines[i];
        if (blank(line.text)) continue;
        const std::vector<Cell> cells = split_cells(line.text);
        if (cells.size() != columns.count) {
            context.fail(
                line.number, 1, "",
                fmt::format("found {} fields, the header has {}", cells.size(), columns.count),
                "one field per header column, separated by commas");
        }
        const Cell& date_cell = cells[columns.date];
        const auto date = parse_date(date_cell.text);
        if (!date) {
            context.fail(line.number, date_cell.column, "date",
                         fmt::format("not a date: found \"{}\"", date_cell.text),
                         "a calendar date YYYY-MM-DD");
        }
        const Cell& close_cell = cells[columns.close];
        const auto close = parse_number(close_cell.text);
        if (!close || !std::isfinite(*close) || *close <= 0.0) {
            context.fail(line.number, close_cell.column, "close",
                         fmt::format("{}: found \"{}\"", close ? "not a price > 0" : "not a number",
                                     close_cell.text),
                         "a closing price > 0");
        }
        if (columns.symbol) {
            const std::string_view cell = cells[*columns.symbol].text;
            if (symbol_line == 0) {
                symbol_cell = std::string(cell);
                symbol_line = line.number;
            } else if (cell != symbol_cell) {
                context.fail(line.number, cells[*columns.symbol].column, "symbol",
                             fmt::format("found \"{}\", but line {} has \"{}\"", cell, symbol_line,
                                         symbol_cell),
                             "one asset per file: the same symbol on every row");
            }
        }
        rows.push_back({line.number, *date, *close});
    }
    if (rows.empty()) {
        context.fail(lines[header].number, 1, "", "no price rows after the header",
                     "one row per day with a date and a close");
    }

    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
        return a.date < b.date || (a.date == b.date && a.line < b.line);
    });
    PriceSeries series;
    series.source = std::string(source_name);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        if (k > 0 && rows[k].date == rows[k - 1].date) {
            context.fail(rows[k].line, 1, "date",
                         fmt::format("{} appears twice: also on line {}", format_date(rows[k].date),
                                     rows[k - 1].line),
                         "one row per date");
        }
        series.dates.push_back(rows[k].date);
        series.closes.push_back(rows[k].close);
    }
    if (symbol) {
        series.symbol = *symbol;
    } else if (!symbol_cell.empty()) {
        series.symbol = strip_quote_currency(symbol_cell);
    } else {
        series.symbol = symbol_from_file_name(std::filesystem::path(source_name));
    }
    if (series.symbol.empty()) {
        context.fail(0, 0, "symbol", "no symbol: the file name gives none",
                     "a Symbol column, or --symbols naming the asset of each file");
    }
    return series;
}

PriceSeries read_price_csv(const std::filesystem::path& path,
                           const std::optional<std::string>& symbol) {
    const std::string name = path.string();
    const std::string expected = "a readable daily price CSV file";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw InputError(name, 0, 0, "", "file not found", expected);
    }
    if (std::filesystem::is_directory(path, ec)) {
        throw InputError(name, 0, 0, "", "is a directory, not a price file", expected);
    }
    std::ifstream in(path, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in && !in.eof()) throw InputError(name, 0, 0, "", "cannot read the file", expected);
    return parse_price_csv(text, name, symbol);
}

// ---------------------------------------------------------------------------------------------
// Alignment

namespace {

std::string joined_sources(const std::vector<PriceSeries>& series) {
    std::string text;
    for (const PriceSeries& s : series) text += (text.empty() ? "" : ", ") + s.source;
    return text;
}

void check_distinct_symbols(const std::vector<PriceSeries>& series) {
    for (std::size_t i = 0; i < series.size(); ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            if (series[i].symbol != series[j].symbol) continue;
            throw InputError(series[i].source, 0, 0, "symbol",
                             fmt::format("symbol \"{}\" is already the symbol of {}",
                                         series[i].symbol, series[j].source),
                             "one symbol per file: name them with --symbols A,B,...");
        }
    }
}

std::vector<Date> common_dates(const std::vector<PriceSeries>& series) {
    std::vector<Date> common = series[0].dates;
    for (std::size_t i = 1; i < series.size(); ++i) {
        std::vector<Date> next;
        std::set_intersection(common.begin(), common.end(), series[i].dates.begin(),
                              series[i].dates.end(), std::back_inserter(next));
        if (next.empty()) {
            throw InputError(
                series[i].source, 0, 0, "",
                fmt::format("no date in common with the files before it: they share {} .. {}, "
                            "this file covers {} .. {}",
                            format_date(common.front()), format_date(common.back()),
                            format_date(series[i].dates.front()),
                            format_date(series[i].dates.back())),
                "price files covering a common period");
        }
        common = std::move(next);
    }
    return common;
}

double close_on(const PriceSeries& series, Date date) {
    const auto at = std::lower_bound(series.dates.begin(), series.dates.end(), date);
    assert(at != series.dates.end() && *at == date);
    return series.closes[static_cast<std::size_t>(at - series.dates.begin())];
}

}  // namespace

AlignedReturns align_returns(const std::vector<PriceSeries>& series,
                             std::optional<int> window_days) {
    assert(!series.empty());
    assert(!window_days || *window_days > 0);
    check_distinct_symbols(series);
    const std::vector<Date> common = common_dates(series);

    AlignedReturns data;
    data.window_days = window_days;
    data.last_date = common.back();
    Date history_start = series[0].dates.front();
    for (const PriceSeries& s : series) {
        history_start = std::max(history_start, s.dates.front());
        data.series.push_back(
            {s.symbol, s.source, s.dates.size(), s.dates.front(), s.dates.back()});
        data.last_close.push_back(close_on(s, data.last_date));
    }
    Date calendar_start = history_start;
    if (window_days) {
        const Date window_start = data.last_date - std::chrono::days(*window_days);
        data.window_truncated = history_start > window_start;
        calendar_start = std::max(window_start, history_start);
    }
    const auto first = std::lower_bound(common.begin(), common.end(), calendar_start);
    const std::vector<Date> dates(first, common.end());
    data.first_date = dates.front();
    data.common_dates = dates.size();
    data.missing_days =
        static_cast<std::size_t>((data.last_date - calendar_start).count() + 1) - dates.size();

    data.returns.resize(series.size());
    for (std::size_t k = 1; k < dates.size(); ++k) {
        if ((dates[k] - dates[k - 1]).count() != 1) {
            ++data.dropped_returns;
            continue;
        }
        data.return_dates.push_back(dates[k]);
        for (std::size_t i = 0; i < series.size(); ++i) {
            data.returns[i].push_back(
                std::log(close_on(series[i], dates[k]) / close_on(series[i], dates[k - 1])));
        }
    }
    if (data.return_count() < min_calibration_returns) {
        throw InputError(
            joined_sources(series), 0, 0, "",
            fmt::format("only {} daily returns between common dates one day apart in {} .. {}",
                        data.return_count(), format_date(data.first_date),
                        format_date(data.last_date)),
            fmt::format("at least {} returns: a longer --window, or files sharing more "
                        "consecutive days",
                        min_calibration_returns));
    }
    return data;
}

// ---------------------------------------------------------------------------------------------
// Estimators

namespace detail {

namespace {

std::vector<double> means(const std::vector<std::vector<double>>& returns) {
    std::vector<double> result;
    for (const std::vector<double>& r : returns) {
        double sum = 0.0;
        for (double x : r) sum += x;
        result.push_back(sum / static_cast<double>(r.size()));
    }
    return result;
}

}  // namespace

std::vector<double> sample_covariance(const std::vector<std::vector<double>>& returns) {
    const std::size_t d = returns.size();
    const std::size_t n = returns[0].size();
    assert(n >= 2);
    const std::vector<double> mean = means(returns);
    std::vector<double> covariance(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j <= i; ++j) {
            double sum = 0.0;
            for (std::size_t k = 0; k < n; ++k) {
                sum += (returns[i][k] - mean[i]) * (returns[j][k] - mean[j]);
            }
            covariance[i * d + j] = covariance[j * d + i] = sum / static_cast<double>(n - 1);
        }
    }
    return covariance;
}

std::vector<double> ewma_covariance(const std::vector<std::vector<double>>& returns,
                                    double lambda) {
    assert(lambda > 0.0 && lambda < 1.0);
    const std::size_t d = returns.size();
    const std::size_t n = returns[0].size();
    // Weights lambda^(n-1-k), from the newest return back, normalised to sum to 1.
    std::vector<double> weight(n);
    double total = 0.0;
    double w = 1.0;
    for (std::size_t k = n; k-- > 0;) {
        weight[k] = w;
        total += w;
        w *= lambda;
    }
    std::vector<double> covariance(d * d, 0.0);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j <= i; ++j) {
            double sum = 0.0;
            for (std::size_t k = 0; k < n; ++k) sum += weight[k] * returns[i][k] * returns[j][k];
            covariance[i * d + j] = covariance[j * d + i] = sum / total;
        }
    }
    return covariance;
}

double ewma_effective_count(std::size_t n, double lambda) {
    double sum = 0.0;
    double sum_sq = 0.0;
    double w = 1.0;
    for (std::size_t k = 0; k < n; ++k) {
        sum += w;
        sum_sq += w * w;
        w *= lambda;
    }
    return sum * sum / sum_sq;
}

double student_t_log_likelihood(const std::vector<double>& mahalanobis_sq, std::size_t dimension,
                                double dof, double scale) {
    assert(dof > 2.0 && scale > 0.0);
    const double d = static_cast<double>(dimension);
    const double n = static_cast<double>(mahalanobis_sq.size());
    // Unit variance: scale matrix R (dof - 2) / dof, so 1 + m / dof becomes 1 + m / (dof - 2).
    const double divisor = scale * (dof - 2.0);
    double tail = 0.0;
    for (double m : mahalanobis_sq) tail += std::log1p(m / divisor);
    return n * (std::lgamma(0.5 * (dof + d)) - std::lgamma(0.5 * dof) -
                0.5 * d * std::log(dof - 2.0) - 0.5 * d * std::log(scale)) -
           0.5 * (dof + d) * tail;
}

double student_t_scale(const std::vector<double>& mahalanobis_sq, std::size_t dimension,
                       double dof) {
    // The score equation in s, n d = (dof + d) sum q / (1 + q) with q = m / (s (dof - 2)),
    // solved by its fixed-point (EM) iteration from s = 1.
    const double d = static_cast<double>(dimension);
    const double n = static_cast<double>(mahalanobis_sq.size());
    double s = 1.0;
    for (int iteration = 0; iteration < 500; ++iteration) {
        double sum = 0.0;
        for (double m : mahalanobis_sq) sum += m / (dof - 2.0 + m / s);
        const double next = (dof + d) / (n * d) * sum;
        const bool done = std::abs(next - s) <= 1e-12 * s;
        s = next;
        if (done) break;
    }
    return s;
}

double student_t_profile_log_likelihood(const std::vector<double>& mahalanobis_sq,
                                        std::size_t dimension, double dof) {
    return student_t_log_likelihood(mahalanobis_sq, dimension, dof,
                                    student_t_scale(mahalanobis_sq, dimension, dof));
}

DofEstimate fit_student_t_dof(const std::vector<double>& mahalanobis_sq, std::size_t dimension) {
    // Search in u = log(dof - 2): the likelihood changes fastest near 2. A grid finds the
    // peak's bracket, golden-section search refines it.
    const auto loglik = [&](double u) {
        return student_t_profile_log_likelihood(mahalanobis_sq, dimension, 2.0 + std::exp(u));
    };
    const double lo = std::log(min_dof - 2.0);
    const double hi = std::log(max_dof - 2.0);
    constexpr int grid = 120;
    const auto grid_u = [&](int k) { return lo + (hi - lo) * k / grid; };
    int best = 0;
    double best_value = loglik(lo);
    for (int k = 1; k <= grid; ++k) {
        const double value = loglik(grid_u(k));
        if (value > best_value) {
            best = k;
            best_value = value;
        }
    }
    DofEstimate result;
    if (best == 0 || best == grid) {
        result.at_bound = true;
        result.estimate = {best == 0 ? min_dof : max_dof, std::numeric_limits<double>::quiet_NaN()};
        return result;
    }
    const double golden = 0.5 * (std::sqrt(5.0) - 1.0);
    double a = grid_u(best - 1);
    double b = grid_u(best + 1);
    double c = b - golden * (b - a);
    double e = a + golden * (b - a);
    double fc = loglik(c);
    double fe = loglik(e);
    while (b - a > 1e-10) {
        if (fc > fe) {
            b = e;
            e = c;
            fe = fc;
            c = b - golden * (b - a);
            fc = loglik(c);
        } else {
            a = c;
            c = e;
            fc = fe;
            e = a + golden * (b - a);
            fe = loglik(e);
        }
    }
    const double dof = 2.0 + std::exp(0.5 * (a + b));
    // Observed information: minus the second derivative in dof, by central differences.
    const double h = 1e-2 * (dof - 2.0);
    const auto at = [&](double v) {
        return student_t_profile_log_likelihood(mahalanobis_sq, dimension, v);
    };
    const double curvature = (at(dof + h) - 2.0 * at(dof) + at(dof - h)) / (h * h);
    result.estimate = {dof, curvature < 0.0 ? 1.0 / std::sqrt(-curvature)
                                            : std::numeric_limits<double>::quiet_NaN()};
    return result;
}

}  // namespace detail

namespace {

using RowMajorMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> excess_kurtosis(const std::vector<std::vector<double>>& returns) {
    std::vector<double> result;
    for (const std::vector<double>& r : returns) {
        double mean = 0.0;
        for (double x : r) mean += x;
        mean /= static_cast<double>(r.size());
        double m2 = 0.0;
        double m4 = 0.0;
        for (double x : r) {
            const double s = (x - mean) * (x - mean);
            m2 += s;
            m4 += s * s;
        }
        m2 /= static_cast<double>(r.size());
        m4 /= static_cast<double>(r.size());
        result.push_back(m4 / (m2 * m2) - 3.0);
    }
    return result;
}

std::vector<double> correlation_of(const std::vector<double>& covariance, std::size_t d) {
    std::vector<double> correlation(d * d);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
            correlation[i * d + j] =
                i == j ? 1.0
                       : covariance[i * d + j] /
                             std::sqrt(covariance[i * d + i] * covariance[j * d + j]);
        }
    }
    return correlation;
}

void check_moving(const AlignedReturns& data, const std::vector<double>& covariance) {
    const std::size_t d = data.asset_count();
    for (std::size_t i = 0; i < d; ++i) {
        if (covariance[i * d + i] > 0.0) continue;
        throw InputError(data.series[i].source, 0, 0, "close",
                         fmt::format("the closes of {} do not move in {} .. {}: no volatility, "
                                     "and no correlation with the other assets",
                                     data.series[i].symbol, format_date(data.first_date),
                                     format_date(data.last_date)),
                         "prices that change in the window");
    }
}

// Squared Mahalanobis norms of the returns standardised by the sample mean and volatility,
// under the sample correlation; none when that matrix is singular.
std::optional<std::vector<double>> standardised_norms(const AlignedReturns& data) {
    const std::size_t d = data.asset_count();
    const std::size_t n = data.return_count();
    const std::vector<double> covariance = detail::sample_covariance(data.returns);
    const std::vector<double> correlation = correlation_of(covariance, d);
    const auto size = static_cast<Eigen::Index>(d);
    const Eigen::MatrixXd r = Eigen::Map<const RowMajorMatrix>(correlation.data(), size, size);
    const Eigen::LLT<Eigen::MatrixXd> llt(r);
    if (llt.info() != Eigen::Success) return std::nullopt;
    const Eigen::MatrixXd l = llt.matrixL();
    if (l.diagonal().minCoeff() < 1e-6 * l.diagonal().maxCoeff()) return std::nullopt;

    std::vector<double> mean(d);
    std::vector<double> scale(d);
    for (std::size_t i = 0; i < d; ++i) {
        double sum = 0.0;
        for (double x : data.returns[i]) sum += x;
        mean[i] = sum / static_cast<double>(n);
        scale[i] = std::sqrt(covariance[i * d + i]);
    }
    Eigen::MatrixXd x(size, static_cast<Eigen::Index>(n));
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t k = 0; k < n; ++k) {
            x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) =
                (data.returns[i][k] - mean[i]) / scale[i];
        }
    }
    const Eigen::MatrixXd y = llt.matrixL().solve(x);  // m_k = |L^-1 x_k|^2
    std::vector<double> norms(n);
    for (std::size_t k = 0; k < n; ++k) {
        norms[k] = y.col(static_cast<Eigen::Index>(k)).squaredNorm();
    }
    return norms;
}

void add_notes(Calibration& c) {
    const AlignedReturns& data = c.data;
    if (data.window_truncated) {
        c.notes.push_back(fmt::format(
            "the files share only {} .. {}: shorter than the {} days requested",
            format_date(data.first_date), format_date(data.last_date), *data.window_days));
    }
    if (data.dropped_returns > 0) {
        c.notes.push_back(
            fmt::format("{} calendar days of the window are missing from some file: the {} returns "
                        "spanning them are left out (a return over two days is not a daily return)",
                        data.missing_days, data.dropped_returns));
    }
    if (c.method == CovarianceMethod::ewma) {
        c.notes.push_back(fmt::format(
            "ewma with lambda {}: the estimates weigh about the last {:.0f} returns; standard "
            "errors use that effective number",
            c.lambda, c.effective_returns));
    }
    if (!c.dof) {
        c.notes.push_back(
            "the correlation matrix is singular (assets moving in lockstep): no Student-t dof "
            "fitted");
    } else if (c.dof->at_bound) {
        c.notes.push_back(
            c.dof->estimate.value >= max_dof
                ? fmt::format("the Student-t likelihood keeps rising up to dof {}: the returns "
                              "show no fat tails, the gaussian model fits",
                              max_dof)
                : fmt::format("the Student-t likelihood keeps rising down to dof {}: tails "
                              "fatter than the student_t model can represent",
                              min_dof));
    }
}

}  // namespace

Calibration calibrate(AlignedReturns data, const CalibrationOptions& options) {
    assert(data.return_count() >= 2);
    Calibration c;
    c.method = options.method;
    const std::size_t d = data.asset_count();
    const std::size_t n = data.return_count();
    const std::vector<double> covariance =
        options.method == CovarianceMethod::ewma
            ? detail::ewma_covariance(data.returns, options.lambda)
            : detail::sample_covariance(data.returns);
    check_moving(data, covariance);
    if (options.method == CovarianceMethod::ewma) {
        c.lambda = options.lambda;
        c.effective_returns = detail::ewma_effective_count(n, options.lambda);
    } else {
        c.effective_returns = static_cast<double>(n);
    }
    c.excess_kurtosis = excess_kurtosis(data.returns);

    const double n_eff = c.effective_returns;
    const std::vector<double>& g2 = c.excess_kurtosis;
    for (std::size_t i = 0; i < d; ++i) {
        const double vol = std::sqrt(days_per_year * covariance[i * d + i]);
        c.volatility.push_back({vol, vol * std::sqrt((2.0 + g2[i]) / (4.0 * n_eff))});
    }
    const std::vector<double> correlation = correlation_of(covariance, d);
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = 0; j < d; ++j) {
            const double r = correlation[i * d + j];
            const double elliptical = std::max(0.0, 1.0 + (g2[i] + g2[j]) / 6.0);
            c.correlation.push_back({r, (1.0 - r * r) * std::sqrt(elliptical / n_eff)});
        }
    }
    if (const auto norms = standardised_norms(data)) {
        c.dof = detail::fit_student_t_dof(*norms, d);
    }
    c.data = std::move(data);
    add_notes(c);
    return c;
}

Calibration calibrate_files(const std::vector<std::filesystem::path>& files,
                            const std::vector<std::string>& symbols,
                            const CalibrationOptions& options) {
    assert(!files.empty());
    if (!symbols.empty() && symbols.size() != files.size()) {
        throw InputError("", 0, 0, "--symbols",
                         fmt::format("{} symbols for {} price files", symbols.size(), files.size()),
                         "one symbol per price file, in the order of the files");
    }
    std::vector<PriceSeries> series;
    for (std::size_t i = 0; i < files.size(); ++i) {
        series.push_back(read_price_csv(
            files[i], symbols.empty() ? std::nullopt : std::optional<std::string>(symbols[i])));
    }
    return calibrate(align_returns(series, options.window_days), options);
}

// ---------------------------------------------------------------------------------------------
// Snippet

namespace {

std::string toml_string(std::string_view text) {
    std::string result = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            result += '\\';
            result += c;
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            result +=
                fmt::format("\\u{:04X}", static_cast<unsigned>(static_cast<unsigned char>(c)));
        } else {
            result += c;
        }
    }
    return result + '"';
}

std::string fixed(double value, int decimals) {
    std::string text = fmt::format("{:.{}f}", value, decimals);
    if (text == fmt::format("-{:.{}f}", 0.0, decimals)) text.erase(0, 1);
    return text;
}

// The fewest decimals, from 4, at which the rounded matrix stays positive semi-definite.
int correlation_decimals(const Calibration& c) {
    const std::size_t d = c.asset_count();
    for (int decimals = 4; decimals < 12; ++decimals) {
        std::vector<double> rounded(d * d);
        for (std::size_t k = 0; k < d * d; ++k) {
            rounded[k] = *parse_number(fixed(c.correlation[k].value, decimals));
        }
        if (detail::smallest_eigenvalue(rounded, d) >= 0.0) return decimals;
    }
    return 12;
}

std::string standard_error(double se, int decimals = 4) {
    return std::isfinite(se) ? fixed(se, decimals) : std::string("n/a");
}

void write_header(std::string& out, const Calibration& c) {
    const AlignedReturns& data = c.data;
    out += "# Calibrated by `marginsim calibrate` from daily closes:\n";
    for (const SeriesInfo& s : data.series) {
        out += fmt::format("#   {}: {}\n", s.symbol, file_name(s.source));
    }
    out += fmt::format("# Window: closes {} .. {}", format_date(data.first_date),
                       format_date(data.last_date));
    if (data.window_days) {
        out += fmt::format(" ({} calendar days up to the last common date)", *data.window_days);
    } else {
        out += " (all dates the files share)";
    }
    out += fmt::format(";\n# {} daily log returns", data.return_count());
    if (data.dropped_returns > 0) {
        out += fmt::format(" ({} returns spanning a missing day left out)", data.dropped_returns);
    }
    out += ".\n";
    if (c.method == CovarianceMethod::ewma) {
        out += fmt::format(
            "# Method: ewma (RiskMetrics, lambda {}, zero-mean returns; about {:.0f} effective "
            "returns).\n",
            c.lambda, c.effective_returns);
    } else {
        out +=
            "# Method: sample (volatility sqrt(365) x standard deviation, Pearson correlation).\n";
    }
    out += "# Standard errors (one sigma) are in the comments.\n";
}

void write_assets(std::string& out, const Calibration& c) {
    for (std::size_t i = 0; i < c.asset_count(); ++i) {
        const SeriesInfo& s = c.data.series[i];
        out += "\n[[assets]]\n";
        out += fmt::format("symbol = {}\n", toml_string(s.symbol));
        out += fmt::format("price = {}  # last close, {}\n", c.data.last_close[i],
                           format_date(c.data.last_date));
        out +=
            fmt::format("volatility = {}  # standard error {}\n", fixed(c.volatility[i].value, 4),
                        standard_error(c.volatility[i].standard_error));
        out += "drift = 0.0\n";
        out += fmt::format(
            "# Placeholder: replace with the exchange's maintenance margin rate, or with a tier\n"
            "# table reference instead of this line, e.g. tiers = \"binance-usdm/{}USDT\".\n",
            s.symbol);
        out += "maintenance_margin_rate = 0.005\n";
    }
}

void write_correlation(std::string& out, const Calibration& c) {
    const std::size_t d = c.asset_count();
    if (d < 2) return;
    const int decimals = correlation_decimals(c);
    out += "\n[correlation]\n# In [[assets]] order:";
    for (const SeriesInfo& s : c.data.series) out += ' ' + s.symbol;
    out += ". Standard errors:";
    for (std::size_t i = 0; i < d; ++i) {
        for (std::size_t j = i + 1; j < d; ++j) {
            out += fmt::format("\n#   {}/{} {}", c.data.series[i].symbol, c.data.series[j].symbol,
                               standard_error(c.correlation_at(i, j).standard_error));
        }
    }
    out += "\nmatrix = [";
    for (std::size_t i = 0; i < d; ++i) {
        out += i == 0 ? "[" : ",\n          [";
        for (std::size_t j = 0; j < d; ++j) {
            out += j == 0 ? "" : ", ";
            out += i == j ? "1.0" : fixed(c.correlation_at(i, j).value, decimals);
        }
        out += ']';
    }
    out += "]\n";
    if (decimals == 12) out += "repair = \"nearest\"  # singular to rounding\n";
}

void write_dof(std::string& out, const Calibration& c) {
    out += '\n';
    if (!c.dof) {
        out += "# Student-t dof: not fitted, the correlation matrix is singular.\n";
        return;
    }
    const DofEstimate& dof = *c.dof;
    if (dof.at_bound && dof.estimate.value >= max_dof) {
        out += fmt::format(
            "# Student-t dof: the likelihood keeps rising up to {}: no fat tails, "
            "keep model = \"gaussian\".\n",
            max_dof);
        return;
    }
    out += fmt::format(
        "# Fat tails: Student-t degrees of freedom by maximum likelihood {} (standard error "
        "{}{}).\n"
        "# To simulate with them, set in [simulation]:\n"
        "# model = \"student_t\"\n"
        "# dof = {}\n",
        fixed(dof.estimate.value, 2), standard_error(dof.estimate.standard_error, 2),
        dof.at_bound ? ", at the lower bound of the search" : "", fixed(dof.estimate.value, 2));
}

}  // namespace

std::string to_toml_snippet(const Calibration& calibration) {
    std::string out;
    write_header(out, calibration);
    write_assets(out, calibration);
    write_correlation(out, calibration);
    write_dof(out, calibration);
    return out;
}

}  // namespace marginsim
