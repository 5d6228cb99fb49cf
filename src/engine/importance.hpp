#pragma once
// The market-wide selloff that importance sampling aims at (docs/model.md#importance-sampling):
// the one place that reads both the book and the market model's parameters to choose the tilt
// the sampler then applies blindly.

#include <vector>

#include "engine/margin_book.hpp"
#include "engine/market_model.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

// One tilt component: the selloff that brings a mode's first liquidation to the mean path.
struct SelloffTarget {
    std::vector<MarginMode> modes;   // whose first liquidation is there
    double shift_sd = 0.0;           // the drift over the horizon, in sd of the direction
    std::vector<double> log_return;  // per asset, the tilted mean path's at the horizon
};

struct SelloffTilt {
    ImportanceTilt tilt;                  // inactive when no market-wide move liquidates
    std::vector<SelloffTarget> targets;   // one per tilt component, shallowest first
};

// The direction of the standard normals that lowers the cross account's surplus fastest at the
// start prices (the exposures dS/dln P_i through the vols and correlation factor) and, per
// account mode, the drift along it that brings the mean path to the mode's first liquidation at
// the horizon (the assets' drifts included), found by bisection on the book's own margin rule:
// one tilt component per distinct rare target (between 1.5 and 12 sd).
SelloffTilt selloff_tilt(const Scenario& scenario, const MarginBook& book, const MarketModel& model);

}  // namespace marginsim
