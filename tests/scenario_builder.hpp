#pragma once
// Builds Scenario values in code, so that engine tests do not depend on the parser.

#include <cmath>
#include <string>
#include <vector>

#include "marginsim/scenario.hpp"

namespace marginsim::testing {

struct ScenarioBuilder {
    Scenario scenario;

    ScenarioBuilder(double balance, double horizon_days, int steps_per_day, std::uint64_t paths = 10000) {
        scenario.source = "built-in-test";
        scenario.balance = balance;
        scenario.fee_rate = 0.005;
        scenario.simulation.paths = paths;
        scenario.simulation.horizon_days = horizon_days;
        scenario.simulation.steps_per_day = steps_per_day;
        scenario.simulation.steps = static_cast<int>(std::llround(horizon_days * steps_per_day));
        scenario.simulation.dt_years = 1.0 / (365.0 * steps_per_day);
        scenario.simulation.seed = 7;
    }
    ScenarioBuilder& student_t(double dof) {
        scenario.simulation.model = PriceModel::student_t;
        scenario.simulation.dof = dof;
        return *this;
    }
    // Jumps on: market-wide jumps of the same law on every asset added so far, on top of the
    // model chosen so far (gaussian: model = "jump", its earlier spelling).
    ScenarioBuilder& jumps(double intensity, double mean, double vol) {
        const std::size_t n = scenario.assets.size();
        if (scenario.simulation.model == PriceModel::gaussian) scenario.simulation.model = PriceModel::jump;
        scenario.simulation.jumps = true;
        scenario.jumps.intensity = intensity;
        scenario.jumps.market.assign(n, JumpSize{mean, vol});
        scenario.jumps.idiosyncratic_intensity.assign(n, 0.0);
        scenario.jumps.idiosyncratic.assign(n, JumpSize{});
        return *this;
    }
    // After jumps(): idiosyncratic jumps of one asset.
    ScenarioBuilder& idiosyncratic_jumps(std::size_t asset, double intensity, double mean, double vol) {
        scenario.jumps.idiosyncratic_intensity[asset] = intensity;
        scenario.jumps.idiosyncratic[asset] = JumpSize{mean, vol};
        return *this;
    }
    // model = "regime", after the assets and the calm correlation: stress volatilities
    // `stress_vol_scale` times the calm ones, the given stress correlation matrix.
    ScenarioBuilder& regimes(double calm_to_stress, double stress_to_calm, double stress_vol_scale,
                             std::vector<double> stress_correlation,
                             StartRegime start = StartRegime::stationary) {
        scenario.simulation.model = PriceModel::regime;
        Regimes& r = scenario.regimes;
        r.calm_to_stress = calm_to_stress;
        r.stress_to_calm = stress_to_calm;
        r.start = start;
        r.stress_volatility.clear();
        for (const Asset& a : scenario.assets) r.stress_volatility.push_back(stress_vol_scale * a.volatility);
        r.stress_correlation = std::move(stress_correlation);
        // Both regimes gaussian, hit by the jumps when jumps() came first (as the file's default).
        r.states = {RegimeState{Innovations::gaussian, 0.0, scenario.simulation.jumps},
                    RegimeState{Innovations::gaussian, 0.0, scenario.simulation.jumps}};
        return *this;
    }
    ScenarioBuilder& policy(LiquidationPolicy p, double fee_rate = 0.005) {
        scenario.policy = p;
        scenario.fee_rate = fee_rate;
        return *this;
    }
    ScenarioBuilder& asset(std::string symbol, double price, double vol, double drift = 0.0,
                           double mm_rate = 0.005, double funding = 0.0) {
        Asset a;
        a.symbol = std::move(symbol);
        a.price = price;
        a.volatility = vol;
        a.drift = drift;
        a.tiers = {Tier{no_cap, mm_rate, 0.0, {}}};
        a.funding_rate = funding;
        scenario.assets.push_back(std::move(a));
        resize_correlation();
        return *this;
    }
    ScenarioBuilder& tiers(std::vector<Tier> table) {
        scenario.assets.back().tiers = std::move(table);
        return *this;
    }
    // Same correlation for every pair.
    ScenarioBuilder& uniform_correlation(double rho) {
        const std::size_t n = scenario.assets.size();
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) scenario.correlation[i * n + j] = i == j ? 1.0 : rho;
        return *this;
    }
    ScenarioBuilder& correlation(std::vector<double> matrix) {
        scenario.correlation = std::move(matrix);
        return *this;
    }
    ScenarioBuilder& position(const std::string& symbol, Side side, double margin, double leverage,
                              MarginMode mode = MarginMode::cross, double entry_price = 0.0) {
        Position p;
        p.symbol = symbol;
        for (std::size_t i = 0; i < scenario.assets.size(); ++i)
            if (scenario.assets[i].symbol == symbol) p.asset = i;
        p.side = side;
        p.margin = margin;
        p.leverage = leverage;
        p.entry_price = entry_price > 0.0 ? entry_price : scenario.assets[p.asset].price;
        p.quantity = margin * leverage / p.entry_price;
        p.mode = mode;
        scenario.positions.push_back(p);
        return *this;
    }
    Scenario build() const { return scenario; }

private:
    void resize_correlation() {
        const std::size_t n = scenario.assets.size();
        std::vector<double> identity(n * n, 0.0);
        for (std::size_t i = 0; i < n; ++i) identity[i * n + i] = 1.0;
        scenario.correlation = std::move(identity);
    }
};

}  // namespace marginsim::testing
