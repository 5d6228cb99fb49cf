#pragma once
// The readers of a scenario's tables, one group per file of src/scenario, called in order by
// load.cpp: each reads its table through TableReader and checks what it can check alone.

#include "marginsim/scenario.hpp"
#include "scenario/toml_reader.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace marginsim::detail {

// settings.cpp: [simulation], [account] and [liquidation].
Simulation read_simulation(const TableReader& root);
double read_balance(const TableReader& root);
// `dof` of table t (present): a number > 2, with a warning near 2.
double read_dof(const TableReader& t);
void read_liquidation(const TableReader& root, Scenario& scenario);

// tiers.cpp: inline tier tables and references to bundled ones.
// The directories where tier table references are looked up, in order (LoadOptions).
struct TierSearch {
    std::vector<std::filesystem::path> dirs;
};
TierSearch tier_search(const LoadOptions& options, std::string_view source_name);
std::vector<Tier> read_tiers(const TableReader& asset, std::string_view symbol);
std::vector<Tier> read_tier_reference(const TableReader& asset, const TierSearch& search,
                                      std::string_view symbol);
// "assets[0].tiers[2]", or for a referenced table "tiers[2] of \"binance-usdm/BTCUSDT\"".
std::string tier_name(const Asset& asset, std::size_t asset_index, std::size_t k);

// assets.cpp: [[assets]], and assets looked up by symbol.
std::vector<Asset> read_assets(const TableReader& root, const TierSearch& search);
std::optional<std::size_t> asset_index(const std::vector<Asset>& assets, std::string_view symbol);
std::string quoted_symbols(const std::vector<Asset>& assets);  // "BTC", "ETH"
std::string known_symbols(const std::vector<Asset>& assets);   // one of the asset symbols ...
// A symbol as a TOML key in messages: bare when TOML allows it, quoted otherwise.
std::string symbol_key(std::string_view symbol);

// correlation_input.cpp: [correlation] as a matrix or as pairs.
struct CorrelationRead {
    std::vector<double> matrix;
    double repair_distance = 0.0;
    bool repaired = false;
};
// A [correlation]-style table (matrix, or pairs with a default; repair), `fallback` when it
// gives neither matrix nor pairs. Used for [correlation] and [regime.stress.correlation].
CorrelationRead read_correlation_table(const TableReader& c, const std::vector<Asset>& assets,
                                       std::vector<double> fallback);
void read_correlation(const TableReader& root, Scenario& scenario);
// The square matrix at key `matrix` of `c`, n x n, checked in the contract's order: shape,
// range, unit diagonal, symmetry. Positive semi-definiteness is left to the caller.
std::vector<double> read_matrix(const TableReader& c, std::size_t n);
// The smallest eigenvalue below which a correlation matrix is not positive semi-definite.
inline constexpr double psd_tolerance = -1e-10;

// crash_models.cpp: [jumps], [regime], [garch] and [uncertainty]; the first three each required by its model and refused otherwise.
void read_model_tables(const TableReader& root, Scenario& scenario);
// [uncertainty] (absent: off); refused under the regime model.
ParameterUncertainty read_uncertainty(const TableReader& root, const Scenario& scenario);
// The { omega, alpha, beta } of every asset in [garch] (its innovations key left to the caller).
std::vector<GarchParameters> read_garch_recursions(const TableReader& root, const std::vector<Asset>& assets);

// fhs_input.cpp: [fhs] (model = "fhs"), with its filter and residual set.
Fhs read_fhs(const TableReader& root, const TableReader& fhs, const Scenario& scenario);

// positions.cpp: [[positions]], then the checks of the whole book (checks.hpp).
void read_positions(const TableReader& root, Scenario& scenario);

}  // namespace marginsim::detail
