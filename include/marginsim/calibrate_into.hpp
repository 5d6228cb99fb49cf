#pragma once
// `marginsim calibrate PRICES... --into SCENARIO`: a book's market section updated in place
// from a calibration (docs/cli.md#calibrate). The scenario's text is spliced, not rewritten:
// each [[assets]] volatility, the [correlation] table, [simulation] model and dof, and the
// model's tables ([garch], [regime] and its subtables) change; every other byte stays.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "marginsim/calibrate.hpp"
#include "marginsim/scenario.hpp"

namespace marginsim {

// The price files of a book's assets, in the book's [[assets]] order.
struct BookPriceFiles {
    std::vector<std::filesystem::path> files;
    std::vector<std::string> symbols;
    std::vector<std::string> ignored;  // "SYMBOL (FILE)" of the price files the book does not hold
};

// Matches the price files (their symbols: `symbols`, one per file, else read from each file as
// calibrate does) to the assets of the scenario text. Throws InputError naming the scenario
// and the asset when an asset has no price file.
BookPriceFiles book_price_files(std::string_view scenario_text, const std::string& scenario_source,
                                const std::vector<std::filesystem::path>& files,
                                const std::vector<std::string>& symbols);

struct VolatilityChange {
    std::string symbol;
    double before = 0.0;
    double after = 0.0;
};

struct CalibratedInto {
    std::string text;  // the updated scenario
    std::vector<VolatilityChange> volatility;
    std::string model_before;
    std::string model_after;
    std::vector<std::string> removed;  // tables and keys taken out: "[garch]", "dof"
    bool kept_jumps = false;  // the book's jumps were on: [jumps] kept, and jumps = true
    // [uncertainty] returns before and after, when the book has it (Calibration::uncertainty_returns).
    std::optional<std::pair<double, double>> uncertainty_returns;
};

// The scenario text with the market of `calibration` (calibrated on book_price_files' files,
// in the book's order; its model: calibration.model, else the book's own). The result is
// loaded with parse_scenario(text, scenario_source, load) before it is returned: InputError
// when it does not load, or when the scenario's layout cannot be updated in place (a
// volatility or model not on a `key = value` line of its own).
CalibratedInto calibrate_into(std::string_view scenario_text, const std::string& scenario_source,
                              const Calibration& calibration, const LoadOptions& load = {});

// The book's [simulation] model, as calibrate names it; none when calibrate does not fit it
// (jump) or the text does not parse.
std::optional<CalibratedModel> book_model(std::string_view scenario_text);
// The book's [fhs] filter: ewma when it has none, or the text does not parse.
FhsFilter book_fhs_filter(std::string_view scenario_text);

// What changed, one line each: "BTC volatility 0.4411 -> 0.4523", "model gaussian -> garch".
std::string into_summary(const CalibratedInto& result, const std::string& scenario_source);

}  // namespace marginsim
