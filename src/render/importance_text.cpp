// The sentence every rendering of an importance-sampled run prints about how it drew its paths
// (docs/model.md#importance-sampling).
#include <cmath>

#include <fmt/format.h>

#include "marginsim/report.hpp"
#include "render/format.hpp"
#include "render/report_parts.hpp"

namespace marginsim {
namespace {

// A log return as the price move it makes, in percent with its sign: -0.371 -> "-31%".
std::string price_move(double log_return) {
    const double percent = 100.0 * std::expm1(log_return);
    return std::abs(percent) >= 10.0 ? fmt::format("{:+.0f}%", percent) : fmt::format("{:+.2g}%", percent);
}

std::string moves(const SimulationInfo& info, const std::vector<double>& log_return) {
    std::string text;
    for (std::size_t i = 0; i < info.symbols.size() && i < log_return.size(); ++i) {
        if (i != 0) text += ", ";
        text += info.symbols[i] + " " + price_move(log_return[i]);
    }
    return text;
}

// "BTC -42%, ETH -62%", or with several targets "BTC -20%, ... (isolated, as_configured) and
// BTC -42%, ... (cross)".
std::string selloff_moves(const SimulationInfo& info, const ImportanceInfo& importance) {
    detail::check_importance_assets(info, importance);
    if (importance.targets.size() <= 1) return moves(info, importance.selloff_log_return);
    std::string text;
    for (std::size_t k = 0; k < importance.targets.size(); ++k) {
        const ImportanceTarget& target = importance.targets[k];
        if (k != 0) text += k + 1 == importance.targets.size() ? " and " : "; ";
        std::string modes;
        for (const MarginMode mode : target.modes) modes += (modes.empty() ? "" : ", ") + std::string(to_string(mode));
        text += moves(info, target.selloff_log_return) + " (" + modes + ")";
    }
    return text;
}

}  // namespace

std::string importance_sentence(const SimulationInfo& info) {
    if (!info.importance) return "";
    const ImportanceInfo& importance = *info.importance;
    if (importance.shift_sd == 0.0)
        return "importance sampling: no market-wide move makes a rare liquidation, so the paths were "
               "sampled plainly";
    const bool several = importance.targets.size() > 1;
    return fmt::format("importance sampling: {:g}% of the paths drawn around {} to {} by the horizon; {} effective paths, intervals from the weighted sample's variance",
                       100.0 * importance.tilted_fraction,
                       several ? "market-wide moves" : "a market-wide move", selloff_moves(info, importance),
                       detail::grouped(importance.effective_paths));
}

}  // namespace marginsim
