// Loading a scenario: the file read and parsed, then each table read in pipeline order
// (readers.hpp) and the warnings collected.
#include "scenario/checks.hpp"
#include "scenario/overrides.hpp"
#include "scenario/readers.hpp"

#include <filesystem>
#include <system_error>

namespace marginsim {
namespace {

using namespace detail;

Scenario build_scenario(const toml::table& document, std::string_view source_name,
                        const LoadOptions& options) {
    Context context{std::string(source_name)};
    const TableReader root(context, document, "");
    root.allow_only({"simulation", "account", "liquidation", "assets", "correlation", "positions",
                     "jumps", "regime", "garch", "fhs", "uncertainty"});

    Scenario scenario;
    scenario.source = std::string(source_name);
    scenario.simulation = read_simulation(root);
    scenario.balance = read_balance(root);
    read_liquidation(root, scenario);
    scenario.assets = read_assets(root, tier_search(options, source_name));
    const std::vector<TableReader> assets = root.tables("assets", "", "");
    for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
        if (const auto overflow = price_overflow(scenario, i))
            assets[i].fail_value(overflow->key, overflow->message, overflow->expected);
    }
    read_correlation(root, scenario);
    read_model_tables(root, scenario);
    scenario.uncertainty = read_uncertainty(root, scenario);
    if (const auto problem = jump_problem(scenario))
        root.table("jumps", "")->fail_value(problem->key, problem->message, problem->expected);
    read_positions(root, scenario);
    scenario.warnings = context.take_warnings();
    return scenario;
}

// The document with the overrides of `options` applied, read; an error about a key an override
// set names the override.
Scenario build_overridden(toml::table document, std::string_view source_name, const LoadOptions& options) {
    const std::vector<AppliedOverride> applied = apply_overrides(document, options.overrides);
    try {
        Scenario scenario = build_scenario(document, source_name, options);
        for (const ScenarioOverride& given : options.overrides) scenario.overrides.push_back(given.text());
        return scenario;
    } catch (const InputError& error) {
        throw located_in_override(error, std::string(source_name), applied);
    }
}

}  // namespace

Scenario parse_scenario(std::string_view toml_text, std::string_view source_name,
                        const LoadOptions& options) {
    return build_overridden(parse_toml(toml_text, std::string(source_name)), source_name, options);
}

Scenario load_scenario(const std::filesystem::path& path, const LoadOptions& options) {
    const std::string name = path.string();
    const detail::InputKind kind = detail::input_kind(path);
    if (kind == detail::InputKind::missing) {
        throw InputError(name, 0, 0, "", "scenario file not found",
                         "a path to a readable TOML scenario file");
    }
    if (kind == detail::InputKind::directory) {
        throw InputError(name, 0, 0, "", "is a directory, not a scenario file",
                         "a path to a readable TOML scenario file");
    }
    const std::optional<std::string> text = read_text_file(path);
    if (!text) {
        throw InputError(name, 0, 0, "", "cannot read the scenario file",
                         "a path to a readable TOML scenario file");
    }
    return parse_scenario(*text, name, options);
}

}  // namespace marginsim
