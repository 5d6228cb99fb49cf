// The model tables: [jumps] (Merton jumps, market-wide and idiosyncratic, on top of any model),
// [regime] (calm and stress regimes, each with its own innovations and jump switch) and [garch]
// (GARCH(1,1) variance per asset), each required by its model or switch and refused otherwise.
#include "scenario/readers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace marginsim::detail {

namespace {

// The entries of a table keyed by asset symbol, in file order, each with its asset index;
// a key that names no asset is an error.
struct SymbolEntry {
    std::size_t asset = 0;
    std::string key;
    const toml::node* node = nullptr;
};

std::vector<SymbolEntry> symbol_entries(const TableReader& owner, std::string_view name,
                                        const std::vector<Asset>& assets) {
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [symbol, node] : *owner.find(name)->as_table()) entries.emplace_back(&symbol, &node);
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const auto& x = a.first->source().begin;
        const auto& y = b.first->source().begin;
        return std::pair(x.line, x.column) < std::pair(y.line, y.column);
    });
    std::vector<SymbolEntry> result;
    for (const auto& [symbol, node] : entries) {
        const std::string key = owner.key(name) + '.' + symbol_key(symbol->str());
        const auto asset = asset_index(assets, symbol->str());
        if (!asset) {
            owner.context().fail(symbol->source(), key,
                                 fmt::format("no asset named \"{}\"", symbol->str()),
                                 "one of the asset symbols " + quoted_symbols(assets));
        }
        result.push_back({*asset, key, node});
    }
    return result;
}

// A per-asset number: one number for every asset, or a table { BTC = ..., ETH = ... } naming
// each asset once. Empty when the key is absent.
template <class Ok>
std::vector<double> per_asset_numbers(const TableReader& t, std::string_view name,
                                      const std::vector<Asset>& assets, std::string_view expected,
                                      Ok ok) {
    const toml::node* node = t.find(name);
    if (node == nullptr) return {};
    const std::string per_symbol =
        fmt::format("{}: one number for every asset, or a table {{ {} = ..., ... }} with a "
                    "value for each asset",
                    expected, symbol_key(assets.front().symbol));
    if (!node->is_table()) {
        if (!node->is_number()) t.fail_value(name, "wrong type: found " + describe(*node), per_symbol);
        return std::vector<double>(assets.size(), *t.number(name, expected, ok));
    }
    std::vector<double> values(assets.size(), 0.0);
    std::vector<bool> given(assets.size(), false);
    for (const SymbolEntry& entry : symbol_entries(t, name, assets)) {
        values[entry.asset] = read_number(t.context(), *entry.node, entry.key, expected, ok);
        given[entry.asset] = true;
    }
    std::string missing;
    for (std::size_t i = 0; i < assets.size(); ++i) {
        if (!given[i]) missing += fmt::format("{}\"{}\"", missing.empty() ? "" : ", ", assets[i].symbol);
    }
    if (!missing.empty()) {
        t.fail_value(name, fmt::format("no value for {}", missing),
                     fmt::format("a value for every asset: {}", quoted_symbols(assets)));
    }
    return values;
}

constexpr std::string_view intensity_expected = "a number of events per year in [0, 1000]";
constexpr std::string_view jump_mean_expected = "a mean log jump in [-5, 5]";
constexpr std::string_view jump_vol_expected = "a standard deviation of the log jump in [0, 2]";
bool intensity_range(double v) { return v >= 0.0 && v <= 1000.0; }
bool jump_mean_range(double v) { return v >= -5.0 && v <= 5.0; }
bool jump_vol_range(double v) { return v >= 0.0 && v <= 2.0; }

// The per-asset market jump sizes of [jumps]: mean and vol, required when intensity > 0.
std::vector<JumpSize> read_market_jumps(const TableReader& j, const std::vector<Asset>& assets,
                                        double intensity) {
    std::vector<JumpSize> sizes(assets.size());
    const std::vector<double> mean =
        per_asset_numbers(j, "mean", assets, jump_mean_expected, jump_mean_range);
    const std::vector<double> vol =
        per_asset_numbers(j, "vol", assets, jump_vol_expected, jump_vol_range);
    if (intensity > 0.0) {
        if (mean.empty()) j.fail_missing("mean", "the mean log jump of each asset, such as -0.08");
        if (vol.empty()) j.fail_missing("vol", "the standard deviation of each asset's log jump");
    }
    for (std::size_t i = 0; i < assets.size(); ++i) {
        sizes[i].mean = mean.empty() ? 0.0 : mean[i];
        sizes[i].vol = vol.empty() ? 0.0 : vol[i];
    }
    return sizes;
}

// [jumps.idiosyncratic.SOL]: intensity, mean and vol of the jumps of one asset alone.
void read_idiosyncratic_jumps(const TableReader& j, const std::vector<Asset>& assets, Jumps& jumps) {
    jumps.idiosyncratic_intensity.assign(assets.size(), 0.0);
    jumps.idiosyncratic.assign(assets.size(), JumpSize{});
    const auto table = j.table("idiosyncratic",
                               "a table of assets, such as [jumps.idiosyncratic.SOL] with "
                               "intensity, mean and vol");
    if (!table) return;
    for (const SymbolEntry& entry : symbol_entries(j, "idiosyncratic", assets)) {
        const toml::table* sub = entry.node->as_table();
        if (sub == nullptr) {
            j.context().fail(entry.node->source(), entry.key, "wrong type: found " + describe(*entry.node),
                             "a table { intensity, mean, vol } for this asset");
        }
        const TableReader a(j.context(), *sub, entry.key);
        a.allow_only({"intensity", "mean", "vol"});
        jumps.idiosyncratic_intensity[entry.asset] =
            a.required_number("intensity", intensity_expected, intensity_range);
        jumps.idiosyncratic[entry.asset].mean =
            a.required_number("mean", jump_mean_expected, jump_mean_range);
        jumps.idiosyncratic[entry.asset].vol =
            a.required_number("vol", jump_vol_expected, jump_vol_range);
    }
}

Jumps read_jumps(const TableReader& j, const std::vector<Asset>& assets) {
    j.allow_only({"intensity", "mean", "vol", "idiosyncratic"});
    Jumps jumps;
    jumps.intensity = j.required_number("intensity", intensity_expected, intensity_range);
    jumps.market = read_market_jumps(j, assets, jumps.intensity);
    read_idiosyncratic_jumps(j, assets, jumps);
    return jumps;
}

constexpr std::string_view stress_vol_expected = "an annualised volatility in [0, 10)";

// [regime.stress]: exactly one of volatility_scale (times the calm volatilities) or volatility
// (per asset); correlation as in [correlation], the calm matrix when absent.
void read_stress(const TableReader& st, const Scenario& scenario, Regimes& regimes) {
    st.allow_only({"volatility_scale", "volatility", "correlation", "innovations", "dof", "jumps"});
    const std::string one_of =
        "exactly one of volatility_scale (a factor on the [[assets]] volatilities) or volatility "
        "(per asset)";
    const bool has_scale = st.has("volatility_scale");
    if (has_scale && st.has("volatility")) st.fail_table("both volatility_scale and volatility are given", one_of);
    if (!has_scale && !st.has("volatility")) st.fail_table("no stress volatility: neither volatility_scale nor volatility is given", one_of);
    if (has_scale) {
        const double scale = *st.number("volatility_scale", "a factor in [0, 100]",
                                        [](double v) { return v >= 0.0 && v <= 100.0; });
        for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
            const double vol = scale * scenario.assets[i].volatility;
            if (vol >= 10.0) {
                st.fail_value("volatility_scale",
                              fmt::format("the stress volatility of {} would be {}, out of range",
                                          scenario.assets[i].symbol, format_amount(vol)),
                              "a scale keeping every stress volatility below 10");
            }
            regimes.stress_volatility.push_back(vol);
        }
    } else {
        regimes.stress_volatility = per_asset_numbers(st, "volatility", scenario.assets, stress_vol_expected,
                                                      [](double v) { return v >= 0.0 && v < 10.0; });
    }
    regimes.stress_correlation = scenario.correlation;
    if (const auto c = st.table("correlation", "a table [regime.stress.correlation] like [correlation]")) {
        CorrelationRead read = read_correlation_table(*c, scenario.assets, scenario.correlation);
        regimes.stress_correlation = std::move(read.matrix);
        regimes.stress_correlation_repaired = read.repaired;
        regimes.stress_correlation_repair_distance = read.repair_distance;
    }
}

// The state's own model, of [regime.calm] or [regime.stress]: innovations (with dof when
// student_t) and, when the scenario has jumps, whether they hit paths in this state.
RegimeState read_state_model(const TableReader& t, bool scenario_jumps) {
    RegimeState state;
    state.innovations = t.choice("innovations", innovations_names).value_or(Innovations::gaussian);
    if (state.innovations == Innovations::student_t) {
        if (!t.has("dof")) t.fail_missing("dof", "degrees of freedom for innovations = \"student_t\": a number > 2");
        state.dof = read_dof(t);
    } else if (t.has("dof")) {
        t.fail_value("dof", "dof is only used with innovations = \"student_t\", but they are gaussian",
                     "no dof, or innovations = \"student_t\"");
    }
    const std::optional<bool> jumps = t.boolean("jumps", "true or false: whether [jumps] hit paths in this regime");
    if (jumps && !scenario_jumps) {
        t.fail_value("jumps", "the scenario has no jumps",
                     "jumps = true in [simulation] with a [jumps] table, or no jumps key here");
    }
    state.jumps = scenario_jumps && jumps.value_or(true);
    return state;
}

Regimes read_regimes(const TableReader& r, const Scenario& scenario) {
    r.allow_only({"calm_to_stress", "stress_to_calm", "start", "calm", "stress"});
    Regimes regimes;
    const std::string_view switching = "a switching intensity per year in [0, 10000]";
    const auto in_range = [](double v) { return v >= 0.0 && v <= 10000.0; };
    regimes.calm_to_stress = r.required_number("calm_to_stress", switching, in_range);
    regimes.stress_to_calm = r.required_number("stress_to_calm", switching, in_range);
    regimes.start = r.choice("start", start_regime_names)
                        .value_or(StartRegime::stationary);
    if (regimes.start == StartRegime::stationary &&
        regimes.calm_to_stress + regimes.stress_to_calm <= 0.0) {
        r.fail_value("stress_to_calm",
                     "no stationary share with both switching intensities 0: the start "
                     "regime is stationary",
                     "a positive calm_to_stress or stress_to_calm, or start = \"calm\" or "
                     "\"stress\"");
    }
    const auto stress = r.table("stress", "a table [regime.stress]");
    if (!stress) {
        r.context().fail(r.source(), r.key("stress"), "missing required table",
                         "a [regime.stress] table with volatility_scale or volatility, and "
                         "optionally correlation");
    }
    read_stress(*stress, scenario, regimes);
    const bool jumps = scenario.simulation.jumps;
    regimes.states[1] = read_state_model(*stress, jumps);
    if (const auto calm = r.table("calm", "a table [regime.calm] with innovations, dof or jumps")) {
        calm->allow_only({"innovations", "dof", "jumps"});
        regimes.states[0] = read_state_model(*calm, jumps);
    } else {
        regimes.states[0].jumps = jumps;
    }
    return regimes;
}

constexpr std::string_view omega_expected = "a daily variance omega in (0, 1] (squared daily log-return units)";
constexpr std::string_view alpha_expected = "a number alpha in [0, 1)";
constexpr std::string_view beta_expected = "a number beta in [0, 1)";

// BTC = { omega, alpha, beta }: one asset's recursion, stationary (alpha + beta < 1).
GarchParameters read_garch_asset(const TableReader& a) {
    a.allow_only({"omega", "alpha", "beta"});
    GarchParameters p;
    p.omega = a.required_number("omega", omega_expected, [](double v) { return v > 0.0 && v <= 1.0; });
    p.alpha = a.required_number("alpha", alpha_expected, [](double v) { return v >= 0.0 && v < 1.0; });
    p.beta = a.required_number("beta", beta_expected, [](double v) { return v >= 0.0 && v < 1.0; });
    if (p.persistence() >= 1.0) {
        a.fail_value("alpha",
                     fmt::format("alpha + beta = {} + {} = {} is not below 1: the variance would have no "
                                 "long-run level and grow without bound",
                                 format_input(p.alpha), format_input(p.beta), format_amount(p.persistence())),
                     "alpha + beta < 1");
    }
    return p;
}

// innovations = "student_t" takes simulation.dof; "gaussian" refuses it (as the gaussian model).
void check_garch_dof(const TableReader& root, const TableReader& g, Innovations innovations) {
    const TableReader simulation = *root.table("simulation", "");
    const bool has_dof = simulation.has("dof");
    if (innovations == Innovations::student_t && !has_dof) {
        g.fail_value("innovations", "innovations = \"student_t\" needs the degrees of freedom, but simulation.dof is not given",
                     "dof = a number > 2 in [simulation], or innovations = \"gaussian\"");
    }
    if (innovations == Innovations::gaussian && has_dof) {
        simulation.fail_value("dof",
                              "dof is only used by the garch model with innovations = \"student_t\", but the "
                              "innovations are \"gaussian\"",
                              "no dof, or innovations = \"student_t\" in [garch]");
    }
}

// [garch]: innovations, and one table { omega, alpha, beta } per asset, every asset named once.
Garch read_garch(const TableReader& root, const TableReader& g, const std::vector<Asset>& assets) {
    Garch garch;
    garch.innovations = g.choice("innovations", innovations_names).value_or(Innovations::gaussian);
    check_garch_dof(root, g, garch.innovations);
    garch.assets.resize(assets.size());
    std::vector<bool> given(assets.size(), false);
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [name, node] : *root.find("garch")->as_table()) {
        if (name.str() != "innovations") entries.emplace_back(&name, &node);
    }
    std::sort(entries.begin(), entries.end(), [](const auto& x, const auto& y) {
        const auto& a = x.first->source().begin;
        const auto& b = y.first->source().begin;
        return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    for (const auto& [name, node] : entries) {
        const std::string key = g.key(name->str());
        const auto asset = asset_index(assets, name->str());
        if (!asset) {
            g.context().fail(name->source(), key, fmt::format("unknown key: no asset named \"{}\"", name->str()),
                             "innovations, or one of the asset symbols " + quoted_symbols(assets) +
                                 " = { omega = ..., alpha = ..., beta = ... }");
        }
        const toml::table* sub = node->as_table();
        if (sub == nullptr) {
            g.context().fail(node->source(), key, "wrong type: found " + describe(*node),
                             "a table { omega = ..., alpha = ..., beta = ... } for this asset");
        }
        garch.assets[*asset] = read_garch_asset(TableReader(g.context(), *sub, key));
        given[*asset] = true;
    }
    std::string missing;
    for (std::size_t i = 0; i < assets.size(); ++i) {
        if (!given[i]) missing += fmt::format("{}\"{}\"", missing.empty() ? "" : ", ", assets[i].symbol);
    }
    if (!missing.empty()) {
        g.fail_table(fmt::format("no GARCH parameters for {}", missing),
                     fmt::format("an entry {} = {{ omega = ..., alpha = ..., beta = ... }} for every asset: {}",
                                 symbol_key(assets.front().symbol), quoted_symbols(assets)));
    }
    return garch;
}

}  // namespace

namespace {

// [jumps]: required when jumps are on ([simulation] jumps = true, or model = "jump"), refused
// otherwise.
void check_jumps_table(const TableReader& root, const Scenario& scenario) {
    const auto table = root.table("jumps", "a table [jumps]");
    const bool on = scenario.simulation.jumps;
    if (table && !on) {
        table->fail_table("[jumps] is only used with jumps on, but they are off",
                          "jumps = true in [simulation] (jumps on top of the model), or no [jumps] table");
    }
    if (!table && on) {
        const toml::table& simulation = *root.find("simulation")->as_table();
        const bool switched = simulation.get("jumps") != nullptr;
        const toml::node* asking = switched ? simulation.get("jumps") : simulation.get("model");
        root.context().fail(asking->source(), "jumps", "missing required table",
                            fmt::format("a [jumps] table with intensity, mean and vol for {}",
                                        switched ? "jumps = true" : "model = \"jump\""));
    }
}

}  // namespace

// [jumps], [regime], [garch] and [fhs]: each required when its model (or switch) is on and
// refused otherwise, like dof.
void read_model_tables(const TableReader& root, Scenario& scenario) {
    const PriceModel model = scenario.simulation.model;
    const struct {
        std::string_view name;
        PriceModel model;
        std::string_view holds;
    } tables[] = {{"regime", PriceModel::regime, "calm_to_stress, stress_to_calm and [regime.stress]"},
                  {"garch", PriceModel::garch, "omega, alpha and beta for every asset"},
                  {"fhs", PriceModel::fhs, "residuals (a file or [fhs.residuals])"}};
    check_jumps_table(root, scenario);
    for (const auto& t : tables) {
        const auto table = root.table(t.name, fmt::format("a table [{}]", t.name));
        if (t.model == PriceModel::garch && model == PriceModel::fhs) continue;  // read_fhs decides
        if (table && model != t.model) {
            table->fail_table(fmt::format("[{}] is only used by model = \"{}\", but the model is \"{}\"",
                                          t.name, to_string(t.model), to_string(model)),
                              fmt::format("model = \"{}\" in [simulation], or no [{}] table",
                                          to_string(t.model), t.name));
        }
        if (!table && model == t.model) {
            // Points at the model that asks for the table.
            const toml::node* model_node = root.find("simulation")->as_table()->get("model");
            root.context().fail(model_node->source(), std::string(t.name), "missing required table",
                                fmt::format("a [{}] table with {} for model = \"{}\"", t.name,
                                            t.holds, to_string(t.model)));
        }
    }
    if (scenario.simulation.jumps) scenario.jumps = read_jumps(*root.table("jumps", ""), scenario.assets);
    if (model == PriceModel::regime) scenario.regimes = read_regimes(*root.table("regime", ""), scenario);
    if (model == PriceModel::garch) scenario.garch = read_garch(root, *root.table("garch", ""), scenario.assets);
    if (model == PriceModel::fhs) scenario.fhs = read_fhs(root, *root.table("fhs", ""), scenario);
}

// [uncertainty]: returns = nu, the number of daily returns the volatilities were estimated from,
// at least ParameterUncertainty::fewest_returns.
ParameterUncertainty read_uncertainty(const TableReader& root, const Scenario& scenario) {
    const auto table = root.table("uncertainty", "a table [uncertainty]");
    if (!table) return {};
    table->allow_only({"returns"});
    const PriceModel model = scenario.simulation.model;
    if (model == PriceModel::regime) {
        table->fail_table(
            "[uncertainty] draws one volatility per asset and path, but the regime model has one per regime",
            "no [uncertainty] table with model = \"regime\", or another model");
    }
    const double fewest = ParameterUncertainty::fewest_returns(scenario.asset_count());
    const std::string expected = fmt::format("a number of daily returns >= {} (the number of assets + 1)", fewest);
    ParameterUncertainty uncertainty;
    uncertainty.returns = table->required_number("returns", expected, [&](double v) { return v >= fewest; });
    return uncertainty;
}

std::vector<GarchParameters> read_garch_recursions(const TableReader& root, const std::vector<Asset>& assets) {
    return read_garch(root, *root.table("garch", ""), assets).assets;
}

}  // namespace marginsim::detail
