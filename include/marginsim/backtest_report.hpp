#pragma once
// The report of a backtest (docs/backtest.md#report): JSON (schema marginsim.backtest/1:
// options, windows with their realised flags and each model's P(liquidation) per mode,
// skipped start dates, scores per model and flag, the catalogue's crash windows, notes), CSV
// (one row per window and model),
// the text table of scores and a self-contained HTML page (header, scores, reliability
// diagrams, predictions over time with the realised windows marked).

#include <string>

#include "marginsim/backtest.hpp"

namespace marginsim {

std::string to_json(const BacktestResult& result);
std::string to_csv(const BacktestResult& result);
std::string backtest_text(const BacktestResult& result);
std::string to_html(const BacktestResult& result);

}  // namespace marginsim
