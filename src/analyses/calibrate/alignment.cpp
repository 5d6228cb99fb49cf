// Alignment of several price series on the dates they share, and their daily log returns.

#include "marginsim/calibrate.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <iterator>
#include <utility>

#include <fmt/format.h>

#include "marginsim/error.hpp"

namespace marginsim {

std::string format_date(Date date) {
    const std::chrono::year_month_day ymd(date);
    return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(ymd.year()),
                       static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
}

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

std::size_t index_on(const PriceSeries& series, Date date) {
    const auto at = std::lower_bound(series.dates.begin(), series.dates.end(), date);
    assert(at != series.dates.end() && *at == date);
    return static_cast<std::size_t>(at - series.dates.begin());
}

double close_on(const PriceSeries& series, Date date) { return series.closes[index_on(series, date)]; }

std::size_t line_on(const PriceSeries& series, Date date) {
    return series.lines.empty() ? 0 : series.lines[index_on(series, date)];
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
    data.return_lines.resize(series.size());
    for (std::size_t k = 1; k < dates.size(); ++k) {
        if ((dates[k] - dates[k - 1]).count() != 1) {
            ++data.dropped_returns;
            continue;
        }
        data.return_dates.push_back(dates[k]);
        for (std::size_t i = 0; i < series.size(); ++i) {
            data.returns[i].push_back(
                std::log(close_on(series[i], dates[k]) / close_on(series[i], dates[k - 1])));
            data.return_lines[i].push_back(
                {line_on(series[i], dates[k - 1]), line_on(series[i], dates[k])});
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

}  // namespace marginsim
