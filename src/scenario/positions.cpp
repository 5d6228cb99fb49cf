// The [[positions]] tables (symbol, side, margin, leverage or quantity, entry price, mode),
// then the checks of the whole book (checks.hpp).
#include "scenario/checks.hpp"
#include "scenario/readers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace marginsim::detail {

namespace {

Position read_position(const TableReader& p, const std::vector<Asset>& assets) {
    p.allow_only({"symbol", "side", "margin", "leverage", "quantity", "entry_price", "mode"});
    Position position;
    const std::string symbols = known_symbols(assets);
    if (!p.has("symbol")) p.fail_missing("symbol", symbols);
    position.symbol = *p.text("symbol", symbols);
    const auto asset = std::find_if(assets.begin(), assets.end(),
                                    [&](const Asset& a) { return a.symbol == position.symbol; });
    if (asset == assets.end()) {
        p.fail_value("symbol", fmt::format("no asset named \"{}\"", position.symbol), symbols);
    }
    position.asset = static_cast<std::size_t>(asset - assets.begin());

    const auto side =
        p.choice("side", side_names);
    if (!side) p.fail_missing("side", "one of \"long\", \"short\"");
    position.side = *side;
    position.margin = p.required_number("margin", "an initial margin > 0", positive);
    const auto leverage = p.number("leverage", "a leverage >= 1", at_least_one);
    const auto quantity = p.number("quantity", "a quantity > 0 in the base asset", positive);
    const std::string one_of = "exactly one of leverage >= 1 or quantity > 0";
    if (leverage && quantity) p.fail_table("both leverage and quantity are given", one_of);
    if (!leverage && !quantity) p.fail_table("neither leverage nor quantity is given", one_of);
    position.entry_price =
        p.number("entry_price", "an entry price > 0", positive).value_or(asset->price);
    position.mode = p.choice("mode", position_mode_names).value_or(MarginMode::cross);
    if (leverage) {
        position.leverage = *leverage;
        position.quantity = position.margin * position.leverage / position.entry_price;
    } else {
        position.quantity = *quantity;
        position.leverage = position.quantity * position.entry_price / position.margin;
        if (position.leverage < 1.0) {
            p.fail_value(
                "quantity",
                fmt::format("leverage {} is below 1: quantity {} at entry price {} is a "
                            "notional of {}, less than the margin {}",
                            format_amount(position.leverage), format_input(position.quantity),
                            format_input(position.entry_price),
                            format_amount(position.notional_at_entry()),
                            format_input(position.margin)),
                "quantity * entry_price >= margin, i.e. leverage >= 1");
        }
    }
    if (!std::isfinite(position.quantity) || !std::isfinite(position.notional_at_entry())) {
        p.fail_table(fmt::format("numbers too large: margin {}, leverage {}, quantity {} and "
                                 "entry price {} overflow",
                                 format_input(position.margin), format_amount(position.leverage),
                                 format_amount(position.quantity),
                                 format_input(position.entry_price)),
                     std::string(overflow_expected));
    }
    return position;
}

}  // namespace

void read_positions(const TableReader& root, Scenario& scenario) {
    const std::vector<TableReader> tables = root.required_tables("positions", "position");
    std::vector<toml::source_region> regions;
    for (const TableReader& table : tables) {
        scenario.positions.push_back(read_position(table, scenario.assets));
        regions.push_back(table.source());
    }
    Context& context = root.context();
    for (const auto& problem :
         {tier_limit_problem(scenario), margins_problem(scenario), start_problem(scenario)}) {
        if (problem) {
            context.fail(regions[problem->position], problem->key, problem->message,
                         problem->expected);
        }
    }
    for (const BookProblem& start : start_liquidations(scenario))
        context.warn(regions[start.position], fmt::format("{}: {}; {}", start.key, start.message, start.expected));
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        if (const auto overflow = notional_overflow(scenario, j))
            context.fail(regions[j], tables[j].path(), overflow->message, overflow->expected);
    }
}

}  // namespace marginsim::detail
