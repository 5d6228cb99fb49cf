// Daily price files: CryptoDataDownload/Binance and plain `date,close` CSVs, read into one
// asset's series of closes (with the day's open, high and low when the file has them), with
// the symbol from a column or the file name.

#include "marginsim/calibrate.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "analyses/calibrate/calibrate_parts.hpp"
#include "marginsim/error.hpp"
#include "numerics/text.hpp"
#include "scenario/toml_reader.hpp"

namespace marginsim {
namespace detail {

std::optional<double> parse_number(std::string_view text) {
    double value = 0.0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace detail

namespace {

using detail::parse_number;

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
    std::optional<std::size_t> open;
    std::optional<std::size_t> high;  // high and low: both or neither
    std::optional<std::size_t> low;
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
        if (name == "open" && !columns.open) columns.open = i;
        if (name == "high" && !columns.high) columns.high = i;
        if (name == "low" && !columns.low) columns.low = i;
    }
    if (!date || !close) return std::nullopt;
    if (!columns.high || !columns.low) columns.high = columns.low = std::nullopt;
    columns.date = *date;
    columns.close = *close;
    return columns;
}

// YYYY-MM-DD, optionally followed by a time ("2026-03-30 00:00:00", "2026-03-30T00:00Z").
std::optional<Date> parse_date(std::string_view text) { return detail::parse_calendar_day(text, true); }

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
    double open = 0.0;  // 0 when the file has no such column
    double high = 0.0;
    double low = 0.0;
};

// A price cell of a row: a finite number > 0.
double price_cell(const CsvContext& context, const Line& line, const Cell& cell, const std::string& key,
                  const std::string& expected) {
    const auto value = parse_number(cell.text);
    if (!value || !std::isfinite(*value) || *value <= 0.0) {
        context.fail(line.number, cell.column, key,
                     fmt::format("{}: found \"{}\"", value ? "not a price > 0" : "not a number", cell.text),
                     expected);
    }
    return *value;
}

// The open, high and low of a row, when the file has those columns: low <= high, and the
// close and the open inside [low, high].
void read_extremes(const CsvContext& context, const Line& line, const std::vector<Cell>& cells,
                   const Columns& columns, Row& row) {
    if (columns.open) row.open = price_cell(context, line, cells[*columns.open], "open", "an opening price > 0");
    if (!columns.high) return;
    const Cell& high_cell = cells[*columns.high];
    row.high = price_cell(context, line, high_cell, "high", "the day's highest price > 0");
    row.low = price_cell(context, line, cells[*columns.low], "low", "the day's lowest price > 0");
    if (row.high < row.low) {
        context.fail(line.number, high_cell.column, "high",
                     fmt::format("the high {} is below the low {}", high_cell.text, cells[*columns.low].text),
                     "low <= high");
    }
    const auto check_inside = [&](std::size_t column, double value, const char* key) {
        if (value >= row.low && value <= row.high) return;
        context.fail(line.number, cells[column].column, key,
                     fmt::format("{} {} lies outside the day's range [low {}, high {}]", key, cells[column].text,
                                 cells[*columns.low].text, high_cell.text),
                     fmt::format("low <= {} <= high", key));
    };
    check_inside(columns.close, row.close, "close");
    if (columns.open) check_inside(*columns.open, row.open, "open");
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
        const double close = price_cell(context, line, cells[columns.close], "close", "a closing price > 0");
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
        Row row{line.number, *date, close};
        read_extremes(context, line, cells, columns, row);
        rows.push_back(row);
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
        series.lines.push_back(rows[k].line);
        if (columns.open) series.opens.push_back(rows[k].open);
        if (columns.high) {
            series.highs.push_back(rows[k].high);
            series.lows.push_back(rows[k].low);
        }
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
    const detail::InputKind kind = detail::input_kind(path);
    if (kind == detail::InputKind::missing) {
        throw InputError(name, 0, 0, "", "file not found", expected);
    }
    if (kind == detail::InputKind::directory) {
        throw InputError(name, 0, 0, "", "is a directory, not a price file", expected);
    }
    // Through the input files (recorded on MPI rank 0, replayed on the others: input_files.hpp).
    const std::optional<std::string> text = detail::read_text_file(path);
    if (!text) throw InputError(name, 0, 0, "", "cannot read the file", expected);
    return parse_price_csv(*text, name, symbol);
}

std::optional<Date> parse_iso_date(std::string_view text) { return parse_date(text); }

}  // namespace marginsim
