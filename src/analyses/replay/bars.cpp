// The history a replay reads: the price file of each asset of a book in a directory, the bars
// aligned on common dates, the named crash windows and the `--replay` values, and the check
// that a window is covered by every file.

#include "marginsim/replay.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>

#include <fmt/format.h>

#include "marginsim/error.hpp"
#include "scenario/toml_reader.hpp"

namespace marginsim {
namespace {

using std::chrono::days;

Date ymd(int y, unsigned m, unsigned d) {
    return Date(std::chrono::year_month_day{std::chrono::year(y), std::chrono::month(m), std::chrono::day(d)});
}

std::string lowercase(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool has_date(const PriceSeries& series, Date date) {
    return std::binary_search(series.dates.begin(), series.dates.end(), date);
}

std::size_t index_of(const PriceSeries& series, Date date) {
    return static_cast<std::size_t>(std::lower_bound(series.dates.begin(), series.dates.end(), date) -
                                    series.dates.begin());
}

}  // namespace

bool DailyBars::window_complete(std::size_t k, int days_count) const noexcept {
    if (k == 0 || days_count < 1 || k + static_cast<std::size_t>(days_count) > dates.size()) return false;
    const Date reference = dates[k - 1];
    for (int i = 1; i <= days_count; ++i) {
        if (dates[k - 1 + static_cast<std::size_t>(i)] != reference + days(i)) return false;
    }
    return true;
}

DailyBars daily_bars(const std::vector<PriceSeries>& series) {
    DailyBars bars;
    if (series.empty()) return bars;
    const std::size_t n = series.size();
    bars.open.resize(n);
    bars.high.resize(n);
    bars.low.resize(n);
    bars.close.resize(n);
    for (const PriceSeries& s : series) {
        bars.symbols.push_back(s.symbol);
        bars.sources.push_back(s.source);
        bars.has_extremes.push_back(s.has_extremes());
    }
    for (const Date date : series.front().dates) {
        if (!std::all_of(series.begin(), series.end(), [date](const PriceSeries& s) { return has_date(s, date); }))
            continue;
        bars.dates.push_back(date);
        for (std::size_t i = 0; i < n; ++i) {
            const PriceSeries& s = series[i];
            const std::size_t k = index_of(s, date);
            const double close = s.closes[k];
            bars.close[i].push_back(close);
            bars.open[i].push_back(!s.opens.empty() ? s.opens[k] : k > 0 ? s.closes[k - 1] : close);
            bars.high[i].push_back(s.has_extremes() ? s.highs[k] : close);
            bars.low[i].push_back(s.has_extremes() ? s.lows[k] : close);
        }
    }
    if (bars.dates.empty()) {
        throw InputError(series.front().source, 0, 0, "", "the price files share no date",
                         "daily bars on common dates for every asset of the book");
    }
    return bars;
}

std::vector<PriceSeries> read_history(const Scenario& book, const std::filesystem::path& dir) {
    const std::string where = dir.string();
    if (detail::input_kind(dir) != detail::InputKind::directory) {
        throw InputError(where, 0, 0, "", "not a directory", "a directory of daily price CSV files, one per asset");
    }
    // Through the input files (recorded on MPI rank 0, replayed on the others: input_files.hpp).
    std::vector<std::filesystem::path> files;
    for (const std::filesystem::path& file : detail::input_directory_files(dir))
        if (lowercase(file.extension().string()) == ".csv") files.push_back(file);
    std::vector<PriceSeries> series;
    for (const Asset& asset : book.assets) {
        std::vector<std::filesystem::path> matches;
        for (const auto& file : files)
            if (lowercase(symbol_from_file_name(file)) == lowercase(asset.symbol)) matches.push_back(file);
        if (matches.empty()) {
            throw InputError(where, 0, 0, "", fmt::format("no price file for the asset {} in {}", asset.symbol, where),
                             fmt::format("a daily price CSV whose name gives the symbol, such as "
                                         "Binance_{0}USDT_d.csv or {0}.csv",
                                         asset.symbol));
        }
        if (matches.size() > 1) {
            throw InputError(where, 0, 0, "",
                             fmt::format("two price files for the asset {}: {} and {}", asset.symbol,
                                         matches[0].filename().string(), matches[1].filename().string()),
                             "one file per asset");
        }
        series.push_back(read_price_csv(matches.front(), asset.symbol));
    }
    return series;
}

const std::vector<ReplayWindow>& replay_catalogue() {
    static const std::vector<ReplayWindow> catalogue{
        {"covid-2020-03-12", ymd(2020, 3, 12), 2,
         "Black Thursday: the COVID-19 panic sold off every market; BTC lost half its price in two days "
         "(low on 2020-03-13) before a rebound"},
        {"may-2021", ymd(2021, 5, 19), 5,
         "China barred its financial institutions from crypto services, after weeks of selling: BTC touched "
         "30,000 intraday, ETH and SOL fell further, and their lows came on 2021-05-23"},
        {"luna-2022-05", ymd(2022, 5, 9), 5,
         "TerraUSD lost its dollar peg and LUNA went to zero: BTC fell from 34,000 to 26,700 by 2022-05-12, "
         "SOL halved"},
        {"ftx-2022-11", ymd(2022, 11, 8), 4,
         "FTX halted withdrawals (2022-11-08), Binance walked away from a rescue (11-09), FTX filed for "
         "bankruptcy (11-11): SOL, tied to FTX and Alameda, lost more than half"},
        {"yen-carry-2024-08-05", ymd(2024, 8, 5), 3,
         "The unwinding of the yen carry trade after the Bank of Japan's hike and weak US payrolls: the Nikkei "
         "fell 12% in a day, BTC touched 49,000, ETH fell more than 20% intraday"},
        {"2025-10-10", ymd(2025, 10, 10), 3,
         "US tariffs of 100% on Chinese imports announced late on 2025-10-10: the largest liquidation cascade on "
         "record, BTC from 121,700 to 102,000 intraday, SOL down 24%"},
    };
    return catalogue;
}

std::vector<ReplayWindow> replay_windows(const std::vector<std::string>& requests, std::optional<int> days_count,
                                         int default_days) {
    if ((days_count && *days_count < 1) || default_days < 1) {
        throw InputError("--days", 0, 0, "", fmt::format("{} days", days_count ? *days_count : default_days),
                         "at least one day to replay");
    }
    std::vector<ReplayWindow> windows;
    const auto add = [&](ReplayWindow window) {
        if (days_count) window.days = *days_count;
        const bool seen = std::any_of(windows.begin(), windows.end(), [&](const ReplayWindow& w) {
            return w.name == window.name && w.start == window.start && w.days == window.days;
        });
        if (!seen) windows.push_back(std::move(window));
    };
    const std::vector<ReplayWindow>& catalogue = replay_catalogue();
    for (const std::string& request : requests) {
        if (request == "all") {
            for (const ReplayWindow& window : catalogue) add(window);
            continue;
        }
        const auto named = std::find_if(catalogue.begin(), catalogue.end(),
                                        [&](const ReplayWindow& window) { return window.name == request; });
        if (named != catalogue.end()) {
            add(*named);
        } else if (const auto date = parse_iso_date(request)) {
            add({request, *date, default_days, ""});
        } else {
            throw InputError("--replay " + request, 0, 0, "",
                             "not a date YYYY-MM-DD nor the name of a window of the catalogue",
                             "a date such as 2020-03-12, a name that `marginsim stress --list` prints, or all");
        }
    }
    return windows;
}

void check_window(const std::vector<PriceSeries>& series, const ReplayWindow& window) {
    const Date first = window.start - days(1);
    for (const PriceSeries& s : series) {
        for (int i = 0; i <= window.days; ++i) {
            const Date date = first + days(i);
            if (has_date(s, date)) continue;
            const std::string history =
                fmt::format("its history: {} .. {}", format_date(s.dates.front()), format_date(s.dates.back()));
            const std::string why = date < s.dates.front() ? "before " + history
                                    : date > s.dates.back() ? "after " + history
                                                            : "a day missing from the file (" + history + ")";
            throw InputError(
                s.source, 0, 0, "",
                fmt::format("{} has no daily bar for {}, {}; the window {} ({} to {}, {} day{}) needs the closes "
                            "from {} on",
                            s.symbol, format_date(date), why, window.name, format_date(window.start),
                            format_date(window.start + days(window.days - 1)), window.days,
                            window.days == 1 ? "" : "s", format_date(first)),
                "a bar for every day of the window and the day before it: another date, or fewer --days");
        }
    }
}

}  // namespace marginsim
