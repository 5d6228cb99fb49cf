// `import binance`: the exports read and checked, the history calibrated with the calibration
// of `marginsim calibrate`, the scenario written with where every number came from, loaded
// back and its liquidation prices set beside Binance's.

#include "marginsim/import.hpp"

#include <chrono>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "importers/binance_export.hpp"
#include "importers/imported_book.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/error.hpp"
#include "marginsim/liquidation.hpp"
#include "marginsim/scenario.hpp"
#include "numerics/correlation.hpp"

namespace marginsim {

namespace {

using importers::BookAsset;
using importers::BookPosition;
using importers::ImportedBook;

// Shortest text that reads back as the same double; a valid TOML number.
std::string num(double value) { return fmt::format("{}", value); }

std::string fixed(double value, int decimals) {
    std::string text = fmt::format("{:.{}f}", value, decimals);
    if (text == fmt::format("-{:.{}f}", 0.0, decimals)) text.erase(0, 1);
    return text;
}

// Where the asset's daily closes are: one CSV file per asset in the history directory,
// named as `marginsim calibrate` reads symbols from file names (Binance_BTCUSDT_d.csv -> BTC).
std::vector<std::filesystem::path> history_files(const ImportedBook& book,
                                                 const std::filesystem::path& dir) {
    std::error_code error;
    if (!std::filesystem::is_directory(dir, error)) {
        throw InputError(dir.string(), 0, 0, "--history", "not a directory",
                         "a directory of daily price CSV files, one per asset");
    }
    std::map<std::string, std::vector<std::filesystem::path>> by_symbol;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".csv") continue;
        by_symbol[symbol_from_file_name(entry.path())].push_back(entry.path());
    }
    std::vector<std::filesystem::path> files;
    for (const BookAsset& asset : book.assets) {
        const auto found = by_symbol.find(asset.symbol);
        if (found == by_symbol.end()) {
            throw InputError(dir.string(), 0, 0, asset.symbol,
                             fmt::format("no daily price history for {} ({})", asset.symbol,
                                         asset.exchange_symbol),
                             fmt::format("a file such as Binance_{}_d.csv in the history directory "
                                         "(--history DIR; docs/import.md)",
                                         asset.exchange_symbol));
        }
        if (found->second.size() > 1) {
            throw InputError(dir.string(), 0, 0, asset.symbol,
                             fmt::format("{} files give {}: {} and {}", found->second.size(),
                                         asset.symbol, found->second[0].filename().string(),
                                         found->second[1].filename().string()),
                             "one price file per asset");
        }
        files.push_back(found->second.front());
    }
    return files;
}

std::string utc_time(long long milliseconds) {
    const auto time = std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(milliseconds));
    return fmt::format("{} {:02}:{:02}:{:02} UTC", format_date(std::chrono::floor<std::chrono::days>(time)),
                       (milliseconds / 3600000) % 24, (milliseconds / 60000) % 60, (milliseconds / 1000) % 60);
}

void write_header(std::string& out, const ImportedBook& book, const BinanceExportFiles& files,
                  const ImportOptions& options, const Calibration& c) {
    out += "# Imported by `marginsim import binance`";
    if (!options.generated_at.empty()) out += " on " + options.generated_at;
    out += " from Binance USDⓈ-M exports:\n";
    out += fmt::format("#   account:   {} (GET /fapi/v2/account)\n", files.account.string());
    out += fmt::format("#   positions: {} (GET /fapi/v2/positionRisk)\n", files.positions.string());
    out += fmt::format("#   brackets:  {} (GET /fapi/v1/leverageBracket)\n", files.brackets.string());
    if (book.exported_at) out += fmt::format("#   latest updateTime in them: {}\n", utc_time(*book.exported_at));
    for (const std::string& skipped : book.skipped) out += "# Not imported: " + skipped + "\n";
    for (const std::string& warning : book.warnings) out += "# Check: " + warning + "\n";
    out += fmt::format("# Volatilities and correlations: the calibration of `marginsim calibrate` on the\n"
                       "# daily closes in {}:\n", options.history_dir.string());
    for (const SeriesInfo& s : c.data.series) {
        out += fmt::format("#   {}: {}\n", s.symbol, std::filesystem::path(s.source).filename().string());
    }
    out += fmt::format("# Window: closes {} .. {}", format_date(c.data.first_date), format_date(c.data.last_date));
    if (c.data.window_days) {
        out += fmt::format(" ({} calendar days up to the last common date{})", *c.data.window_days,
                           c.data.window_truncated ? ", truncated to the common history" : "");
    }
    out += fmt::format(", {} daily log returns, sample method.\n", c.data.return_count());
    out += "# `marginsim liq` on this file: its as_configured table is the account as Binance\n"
           "# margins it; each position's comment gives Binance's liquidationPrice beside it.\n";
}

void write_asset(std::string& out, const BookAsset& a, const Calibration& c, std::size_t i) {
    out += fmt::format("\n[[assets]]\nsymbol = \"{}\"  # {}\n", a.symbol, a.exchange_symbol);
    out += fmt::format("price = {}  # markPrice\n", num(a.mark_price));
    out += fmt::format("volatility = {}  # calibrated, standard error {}\n", fixed(c.volatility[i].value, 4),
                       fixed(c.volatility[i].standard_error, 4));
    out += fmt::format("# leverageBracket {}: notionalCap, maintMarginRatio, cum, initialLeverage\n",
                       a.exchange_symbol);
    if (!a.max_leverage_dropped.empty()) out += "# max_leverage left out: " + a.max_leverage_dropped + "\n";
    if (!a.last_cap_dropped.empty()) out += "# last notional_cap left out: " + a.last_cap_dropped + "\n";
    out += "tiers = [";
    for (std::size_t k = 0; k < a.brackets.size(); ++k) {
        const importers::BinanceBracket& b = a.brackets[k];
        out += k == 0 ? " { " : ",\n         { ";
        if (k + 1 < a.brackets.size() || a.last_cap_dropped.empty()) {
            out += fmt::format("notional_cap = {}, ", num(b.notional_cap));
        }
        out += fmt::format("rate = {}, amount = {}", num(b.maint_margin_ratio), num(b.cum));
        if (a.max_leverage_dropped.empty()) out += fmt::format(", max_leverage = {}", num(b.initial_leverage));
        out += " }";
    }
    out += " ]\n";
}

void write_correlation(std::string& out, const Calibration& c) {
    const std::size_t d = c.asset_count();
    if (d < 2) return;
    out += "\n[correlation]\n# In [[assets]] order:";
    for (const SeriesInfo& s : c.data.series) out += ' ' + s.symbol;
    out += '\n' + correlation_matrix_toml(c);
}

std::string lp_comment(const BookPosition& p, const std::optional<double>& ours) {
    const std::string binance =
        p.exchange_liquidation_price ? fixed(*p.exchange_liquidation_price, 2) : std::string("none");
    if (!ours && p.exchange_liquidation_price == std::nullopt) return "liquidation price: none at Binance or here";
    return fmt::format("liquidationPrice {}, marginsim {}", binance, ours ? fixed(*ours, 2) : std::string("none"));
}

void write_position(std::string& out, const ImportedBook& book, const BookPosition& p,
                    const std::optional<std::optional<double>>& ours) {
    const BookAsset& a = book.assets[p.asset];
    out += fmt::format("\n[[positions]]  # positions[{}] {} {}", p.export_index, a.exchange_symbol, p.position_side);
    if (ours) out += ": " + lp_comment(p, *ours);
    out += fmt::format("\nsymbol = \"{}\"\nside = \"{}\"\nquantity = {}  # |positionAmt|\n", a.symbol,
                       p.is_long ? "long" : "short", num(p.quantity));
    out += fmt::format("entry_price = {}\n", num(p.entry_price));
    if (p.isolated) {
        out += fmt::format("margin = {}  # isolatedWallet (leverage {} at Binance)\n", num(p.margin),
                           num(p.exchange_leverage));
    } else {
        out += fmt::format("margin = {}  # initial margin, quantity x entry / leverage {}{}\n", num(p.margin),
                           num(p.exchange_leverage), book.cross_margin_scale < 1.0 ? ", scaled to the wallet" : "");
    }
    out += fmt::format("mode = \"{}\"\n", p.isolated ? "isolated" : "cross");
}

std::string scenario_text(const ImportedBook& book, const BinanceExportFiles& files, const ImportOptions& options,
                          const Calibration& c, const std::vector<std::optional<double>>& ours) {
    std::string out;
    write_header(out, book, files, options, c);
    out += fmt::format("\n[simulation]\nhorizon_days = {}  # the horizon of the question: edit\n",
                       num(options.horizon_days));
    if (c.dof && !c.dof->at_bound) {
        out += fmt::format("# Fat tails: the same history fits model = \"student_t\" with dof = {:.2f}\n",
                           c.dof->estimate.value);
    }
    out += fmt::format("\n[account]\nbalance = {}  # totalWalletBalance: the cross wallet {} plus the "
                       "isolated wallets\n", num(book.balance), num(book.cross_wallet));
    for (std::size_t i = 0; i < book.assets.size(); ++i) write_asset(out, book.assets[i], c, i);
    write_correlation(out, c);
    for (std::size_t j = 0; j < book.positions.size(); ++j) {
        write_position(out, book, book.positions[j],
                       ours.empty() ? std::nullopt : std::optional<std::optional<double>>(ours[j]));
    }
    return out;
}

}  // namespace

ImportResult import_binance(const BinanceExportFiles& files, const ImportOptions& options) {
    const std::string account_file = files.account.string();
    const std::string positions_file = files.positions.string();
    const std::string brackets_file = files.brackets.string();
    const ImportedBook book = importers::build_binance_book(
        importers::parse_binance_account(importers::read_export_file(files.account), account_file),
        importers::parse_binance_positions(importers::read_export_file(files.positions), positions_file),
        importers::parse_binance_brackets(importers::read_export_file(files.brackets), brackets_file),
        account_file, positions_file, brackets_file);
    std::vector<std::string> symbols;
    for (const BookAsset& a : book.assets) symbols.push_back(a.symbol);
    CalibrationOptions calibration_options;
    calibration_options.window_days = options.window_days;
    const Calibration calibration =
        calibrate_files(history_files(book, options.history_dir), symbols, calibration_options);

    // Loaded back as `liq` would load it: the import writes nothing the scenario loader refuses.
    const std::string draft = scenario_text(book, files, options, calibration, {});
    const Scenario scenario = parse_scenario(draft, "the imported scenario");
    const LiquidationPanel panel = liquidation_panel(scenario);
    const auto& rows = panel.modes[mode_index(MarginMode::as_configured)].rows;

    ImportResult result;
    std::vector<std::optional<double>> ours;
    for (std::size_t j = 0; j < book.positions.size(); ++j) {
        const BookPosition& p = book.positions[j];
        const BookAsset& a = book.assets[p.asset];
        ours.push_back(rows[j].liquidation_price);
        result.positions.push_back({a.exchange_symbol, a.symbol, p.is_long ? "long" : "short",
                                    p.isolated ? "isolated" : "cross", p.exchange_liquidation_price,
                                    rows[j].liquidation_price});
        const bool agree = p.exchange_liquidation_price && rows[j].liquidation_price
                               ? std::abs(*p.exchange_liquidation_price - *rows[j].liquidation_price) < 0.005
                               : p.exchange_liquidation_price.has_value() == rows[j].liquidation_price.has_value();
        if (!agree) {
            result.warnings.push_back(fmt::format(
                "positions[{}] {} {}: {}: are the brackets those of the account, and were the "
                "exports taken at the same moment?",
                p.export_index, a.exchange_symbol, p.position_side, lp_comment(p, rows[j].liquidation_price)));
        }
    }
    result.scenario_toml = scenario_text(book, files, options, calibration, ours);
    result.skipped = book.skipped;
    result.warnings.insert(result.warnings.begin(), book.warnings.begin(), book.warnings.end());
    for (const std::string& warning : scenario.warnings) result.warnings.push_back(warning);
    return result;
}

}  // namespace marginsim
