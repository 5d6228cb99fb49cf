#include "marginsim/detailed_run.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "engine/block_runner.hpp"

namespace marginsim {
namespace {

// out[k] = the sum of the bins up to step k's last one (bin k * ticks), `value` of it.
template <class Bin, class Out, class Value>
void sum_to_steps(const std::vector<Bin>& by_bin, std::size_t ticks, std::vector<Out>& out, Value value) {
    Bin sum{};
    for (std::size_t k = 0, bin = 0; k < out.size(); ++k) {
        for (; bin <= k * ticks; ++bin)
            if (bin < by_bin.size()) sum += by_bin[bin];
        out[k] = value(sum);
    }
}

// A mode's details from the merged statistics, before summarize() reorders the samples.
ModeDetail detail_of(const BlockStats& total, std::size_t m, int steps, bool every_loss) {
    const ModeSample& sample = total.modes[m];
    ModeDetail out;
    if (every_loss && total.weighted) {
        std::vector<std::pair<float, float>> pairs;
        for (std::size_t k = 0; k < sample.loss.size(); ++k)
            if (!std::isnan(sample.loss[k]))
                pairs.emplace_back(static_cast<float>(sample.loss[k]), static_cast<float>(total.weight[k]));
        std::sort(pairs.begin(), pairs.end());
        for (const auto& [loss, weight] : pairs) {
            out.sorted_loss.push_back(loss);
            out.sorted_weight.push_back(weight);
        }
    } else if (every_loss) {
        out.sorted_loss.reserve(sample.loss.size());
        for (const double loss : sample.loss)
            if (!std::isnan(loss)) out.sorted_loss.push_back(static_cast<float>(loss));  // NaN: overflowed
        std::sort(out.sorted_loss.begin(), out.sorted_loss.end());
    }
    assert(sample.first_liquidation_steps.empty());  // merged: folded into the counts per bin
    // Counts per time bin, ticks_per_step bins a step: step k ends with bin k * ticks.
    const auto ticks = static_cast<std::size_t>(total.ticks_per_step);
    const std::vector<std::uint64_t>& by_bin = sample.liquidations_by_step;
    assert(by_bin.size() <= static_cast<std::size_t>(steps) * ticks + 1);
    out.liquidated_by_step.assign(static_cast<std::size_t>(steps) + 1, 0);
    sum_to_steps(by_bin, ticks, out.liquidated_by_step, [](std::uint64_t count) { return count; });
    if (total.weighted) {
        out.liquidated_weight_by_step.assign(static_cast<std::size_t>(steps) + 1, 0.0);
        sum_to_steps(sample.weight_by_step, ticks, out.liquidated_weight_by_step,
                     [](const WeightSum& weight) { return weight.value(); });
    }
    out.contagion = contagion_proportion(total, sample);
    return out;
}

}  // namespace

DetailedRun run_detailed(const Scenario& scenario, const RunOptions& options, const RunControl& control,
                         Details details) {
    DetailedRun run;
    const bool every_loss = details == Details::every_loss;
    run.report = detail::run_report(
        scenario, options, control,
        [&](const Scenario& applied, const BlockStats& total) {
            for (std::size_t m = 0; m < mode_count; ++m)
                run.modes[m] = detail_of(total, m, applied.simulation.steps, every_loss);
        },
        every_loss);
    return run;
}

RunWithLosses run_with_losses(const Scenario& scenario, const RunOptions& options, const RunControl& control) {
    RunWithLosses run;
    run.report = detail::run_report(scenario, options, control, [&](const Scenario&, const BlockStats& total) {
        for (std::size_t m = 0; m < mode_count; ++m) run.losses[m] = total.modes[m].loss;
        if (total.weighted) run.weights = total.weight;
    });
    return run;
}

std::vector<double> liquidation_probability_by_step(const ModeDetail& detail, std::uint64_t paths) {
    std::vector<double> out;
    if (!detail.liquidated_weight_by_step.empty()) {
        for (const double weight : detail.liquidated_weight_by_step) out.push_back(weight / static_cast<double>(paths));
        return out;
    }
    out.reserve(detail.liquidated_by_step.size());
    for (const std::uint64_t hits : detail.liquidated_by_step)
        out.push_back(static_cast<double>(hits) / static_cast<double>(paths));
    return out;
}

}  // namespace marginsim
