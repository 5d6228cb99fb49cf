#pragma once
// The report of a backtest (docs/backtest.md#report): JSON (schema marginsim.backtest/1:
// options, windows with their realised flags and each model's P(liquidation) per mode,
// skipped start dates, scores per model and flag, notes), CSV (one row per window and model)
// and the text table of scores.

#include <string>

#include "marginsim/backtest.hpp"

namespace marginsim {

std::string to_json(const BacktestResult& result);
std::string to_csv(const BacktestResult& result);
std::string backtest_text(const BacktestResult& result);

}  // namespace marginsim
