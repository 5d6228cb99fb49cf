// The [fhs] table of model = "fhs": the variance filter (EWMA lambda, or the [garch] recursions)
// and the residual set, a CSV file next to the scenario or embedded as [fhs.residuals]
// (docs/scenario-format.md#fhs).
#include "scenario/readers.hpp"
#include "numerics/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <functional>
#include <cmath>
#include <sstream>
#include <optional>

namespace marginsim::detail {

namespace {

constexpr std::string_view lambda_expected = "a decay lambda in (0, 1), such as 0.94";
constexpr std::string_view date_expected = "an ISO date YYYY-MM-DD, later than the day before";

// Where a problem with one day or value is reported: a line of the CSV, or a node of the TOML.
using Fail = std::function<void(std::size_t day, std::string key, std::string message, std::string expected)>;

// The checks common to both sources: dates valid and strictly increasing, enough days.
void check_dates(const std::vector<std::string>& dates, const Fail& fail) {
    for (std::size_t d = 0; d < dates.size(); ++d) {
        if (!parse_calendar_day(dates[d], false)) fail(d, "date", fmt::format("not an ISO date: \"{}\"", dates[d]), std::string(date_expected));
        if (d > 0 && dates[d] <= dates[d - 1]) {
            fail(d, "date", fmt::format("{} does not come after {}: the dates must be strictly increasing", dates[d], dates[d - 1]),
                 std::string(date_expected));
        }
    }
}

std::string too_few_days_message(std::size_t days) {
    return fmt::format("{} day{} of residuals: too few to resample from", days, days == 1 ? "" : "s");
}
std::string too_few_days_expected() { return fmt::format("at least {} days", Fhs::min_days); }

std::vector<std::string> split_csv_line(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = line.find(',', start);
        fields.push_back(trimmed(std::string_view(line).substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) return fields;
        start = comma + 1;
    }
}

// The 1-based character column where field `index` of a CSV line starts.
std::size_t field_column(const std::string& line, std::size_t index) {
    std::size_t at = 0;
    for (std::size_t k = 0; k < index; ++k) at = line.find(',', at) + 1;
    return at + 1;
}

// residuals = "file.csv": header date,SYM,...; one row per day. Errors name the CSV and its line.
void read_residual_csv(const std::filesystem::path& path, const std::string& written, const TableReader& f,
                       const std::vector<Asset>& assets, Fhs& fhs) {
    const std::string file = path.string();
    const std::optional<std::string> content = read_text_file(path);
    if (!content) {
        f.fail_value("residuals", fmt::format("cannot read the residual file \"{}\" (looked for {})", written, file),
                     "a CSV file of standardised residuals (date,SYMBOL,...), its path relative to the scenario file");
    }
    const std::string columns_expected = "a header date," + quoted_symbols(assets) + ",... naming a column for every asset";
    std::istringstream in(*content);
    std::string line;
    if (!std::getline(in, line)) throw InputError(file, 1, 0, "", "empty file: no header", columns_expected);
    const std::vector<std::string> header = split_csv_line(line);
    if (header.empty() || header.front() != "date")
        throw InputError(file, 1, 1, header.empty() ? "" : header.front(), "the first column is not \"date\"", columns_expected);
    std::vector<std::size_t> column(assets.size());
    for (std::size_t i = 0; i < assets.size(); ++i) {
        const auto found = std::find(header.begin(), header.end(), assets[i].symbol);
        if (found == header.end())
            throw InputError(file, 1, 1, "", fmt::format("no column for the asset \"{}\"", assets[i].symbol),
                             columns_expected);
        column[i] = static_cast<std::size_t>(found - header.begin());
    }
    std::vector<std::size_t> lines;
    for (std::size_t number = 2; std::getline(in, line); ++number) {
        if (trimmed(line).empty()) continue;
        const std::vector<std::string> fields = split_csv_line(line);
        if (fields.size() != header.size())
            throw InputError(file, number, 1, "", fmt::format("{} fields, the header has {}", fields.size(), header.size()),
                             "one field per header column");
        fhs.dates.push_back(fields.front());
        for (std::size_t i = 0; i < assets.size(); ++i) {
            const std::string& text = fields[column[i]];
            double value = 0.0;
            const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
                throw InputError(file, number, field_column(line, column[i]), assets[i].symbol,
                                 fmt::format("not a finite number: \"{}\"", text),
                                 "a finite standardised residual");
            fhs.residuals.push_back(value);
        }
        lines.push_back(number);
    }
    check_dates(fhs.dates, [&](std::size_t day, std::string key, std::string message, std::string expected) {
        throw InputError(file, lines[day], 1, std::move(key), std::move(message), std::move(expected));
    });
    if (fhs.days() < Fhs::min_days) throw InputError(file, 0, 0, "", too_few_days_message(fhs.days()), too_few_days_expected());
}

// The array at `key` of the embedded set, one entry per day.
const toml::array& day_array(const TableReader& r, std::string_view name, std::string_view expected) {
    const toml::node* node = r.find(name);
    if (node == nullptr) r.fail_missing(name, std::string(expected));
    const toml::array* array = node->as_array();
    if (array == nullptr) r.fail_value(name, "wrong type: found " + describe(*node), std::string(expected));
    return *array;
}

// [fhs.residuals]: dates = [...] and one array per asset (extra arrays ignored).
void read_embedded_residuals(const TableReader& r, const std::vector<Asset>& assets, Fhs& fhs) {
    const toml::array& dates = day_array(r, "dates", "an array of ISO dates \"YYYY-MM-DD\", one per day");
    for (std::size_t d = 0; d < dates.size(); ++d) {
        const auto* text = dates[d].as_string();
        if (text == nullptr)
            r.context().fail(dates[d].source(), r.key(fmt::format("dates[{}]", d)), "wrong type: found " + describe(dates[d]),
                             std::string(date_expected));
        fhs.dates.push_back(text->get());
    }
    check_dates(fhs.dates, [&](std::size_t day, std::string, std::string message, std::string expected) {
        r.context().fail(dates[day].source(), r.key(fmt::format("dates[{}]", day)), std::move(message), std::move(expected));
    });
    if (fhs.days() < Fhs::min_days) r.fail_value("dates", too_few_days_message(fhs.days()), too_few_days_expected());
    fhs.residuals.assign(fhs.days() * assets.size(), 0.0);
    for (std::size_t i = 0; i < assets.size(); ++i) {
        const std::string name = assets[i].symbol;
        const toml::array& values =
            day_array(r, name, fmt::format("an array of the standardised residuals of {}, one per date", name));
        if (values.size() != fhs.days())
            r.fail_value(name, fmt::format("{} values for {} dates", values.size(), fhs.days()), "one value per date");
        for (std::size_t d = 0; d < values.size(); ++d)
            fhs.residuals[d * assets.size() + i] = read_number(r.context(), values[d], r.key(fmt::format("{}[{}]", symbol_key(name), d)),
                                                               "a finite standardised residual", any_value);
    }
}

// filter = "garch": the recursions of [garch], whose innovations key is the model's own.
std::vector<GarchParameters> garch_filter(const TableReader& root, const TableReader& f, const std::vector<Asset>& assets) {
    const auto garch = root.table("garch", "");
    if (!garch)
        f.fail_value("filter", "filter = \"garch\" needs the GARCH(1,1) parameters of every asset, but there is no [garch] table",
                     "a [garch] table with BTC = { omega = ..., alpha = ..., beta = ... } for every asset, or filter = \"ewma\"");
    if (garch->has("innovations"))
        garch->fail_value("innovations", "the innovations of the fhs model are its residual set",
                          "no innovations key in [garch] under model = \"fhs\"");
    if (f.has("lambda"))
        f.fail_value("lambda", "lambda is the decay of filter = \"ewma\", but the filter is \"garch\"",
                     "no lambda with filter = \"garch\" (its recursion is in [garch])");
    return read_garch_recursions(root, assets);
}

}  // namespace

Fhs read_fhs(const TableReader& root, const TableReader& f, const Scenario& scenario) {
    f.allow_only({"filter", "lambda", "residuals"});
    const std::vector<Asset>& assets = scenario.assets;
    Fhs fhs;
    fhs.filter = f.choice("filter", fhs_filter_names).value_or(FhsFilter::ewma);
    if (fhs.filter == FhsFilter::garch) {
        fhs.assets = garch_filter(root, f, assets);
    } else {
        if (const auto garch = root.table("garch", ""))
            garch->fail_table("[garch] is only used by model = \"fhs\" with filter = \"garch\", but the filter is \"ewma\"",
                              "filter = \"garch\" in [fhs], or no [garch] table");
        fhs.lambda = f.number("lambda", lambda_expected, [](double v) { return v > 0.0 && v < 1.0; }).value_or(0.94);
        fhs.assets.assign(assets.size(), GarchParameters{0.0, 1.0 - fhs.lambda, fhs.lambda});
    }
    const std::string_view residuals_expected =
        "residuals = \"file.csv\" (relative to the scenario file), or a table [fhs.residuals] with dates and one "
        "array per asset";
    const toml::node* residuals = f.find("residuals");
    if (residuals == nullptr) f.fail_missing("residuals", std::string(residuals_expected));
    if (const auto* file = residuals->as_string()) {
        fhs.residuals_file = file->get();
        const std::filesystem::path path = std::filesystem::path(scenario.source).parent_path() / fhs.residuals_file;
        read_residual_csv(path, fhs.residuals_file, f, assets, fhs);
    } else if (const auto table = f.table("residuals", residuals_expected)) {
        read_embedded_residuals(*table, assets, fhs);
    } else {
        f.fail_value("residuals", "wrong type: found " + describe(*residuals), std::string(residuals_expected));
    }
    return fhs;
}

}  // namespace marginsim::detail
