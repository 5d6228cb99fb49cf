#include "marginsim/scenario.hpp"

#include "numerics/correlation.hpp"
#include "marginsim/error.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <system_error>
#include <utility>

namespace marginsim {

std::string_view to_string(PriceModel model) noexcept {
    switch (model) {
        case PriceModel::gaussian: return "gaussian";
        case PriceModel::student_t: return "student_t";
        case PriceModel::jump: return "jump";
        case PriceModel::regime: return "regime";
    }
    return "unknown";
}

std::string_view to_string(StartRegime start) noexcept {
    switch (start) {
        case StartRegime::calm: return "calm";
        case StartRegime::stress: return "stress";
        case StartRegime::stationary: return "stationary";
    }
    return "unknown";
}

double JumpSize::kappa() const noexcept { return std::expm1(mean + 0.5 * vol * vol); }

std::string_view to_string(LiquidationPolicy policy) noexcept {
    switch (policy) {
        case LiquidationPolicy::full: return "full";
        case LiquidationPolicy::fee: return "fee";
    }
    return "unknown";
}

std::string_view to_string(Side side) noexcept {
    switch (side) {
        case Side::long_side: return "long";
        case Side::short_side: return "short";
    }
    return "unknown";
}

std::string_view to_string(MarginMode mode) noexcept {
    switch (mode) {
        case MarginMode::isolated: return "isolated";
        case MarginMode::cross: return "cross";
        case MarginMode::as_configured: return "as_configured";
    }
    return "unknown";
}

double Scenario::cross_wallet(MarginMode mode) const noexcept {
    switch (mode) {
        case MarginMode::isolated: return 0.0;  // every position isolated: no cross pool
        case MarginMode::cross: return balance;
        case MarginMode::as_configured: break;
    }
    double wallet = balance;
    for (const Position& position : positions) {
        if (position.mode == MarginMode::isolated) wallet -= position.margin;
    }
    return wallet;
}

void set_paths(Scenario& scenario, std::uint64_t paths) {
    assert(paths > 0);
    scenario.simulation.paths = paths;
}

std::size_t tier_index(const std::vector<Tier>& tiers, double notional) noexcept {
    assert(!tiers.empty());
    const std::size_t last = tiers.size() - 1;
    for (std::size_t k = 0; k < last; ++k) {
        if (notional <= tiers[k].notional_cap) return k;
    }
    // Notionals above a capped last tier stay in the last tier: validation rejects positions
    // that start there, but prices may carry a position past it during a path.
    return last;
}

double maintenance_margin(const std::vector<Tier>& tiers, double notional) noexcept {
    const Tier& tier = tiers[tier_index(tiers, notional)];
    return notional * tier.rate - tier.amount;
}

namespace {

// The value as the user wrote it (shortest round-trip form).
std::string format_input(double value) { return fmt::format("{}", value); }

// A computed amount, without floating-point noise such as 449.99999999999994.
std::string format_amount(double value) { return fmt::format("{:.10g}", value); }

std::string format_float_literal(double value) {
    std::string text = format_input(value);
    if (std::isfinite(value) && text.find_first_of(".e") == std::string::npos) text += ".0";
    return text;
}

// "the string \"10\"", "the integer 5": what the user wrote, for wrong-type messages.
std::string describe(const toml::node& node) {
    if (const auto* s = node.as_string()) return fmt::format("the string \"{}\"", s->get());
    if (const auto* i = node.as_integer()) return fmt::format("the integer {}", i->get());
    if (const auto* f = node.as_floating_point()) {
        return "the floating-point number " + format_float_literal(f->get());
    }
    if (const auto* b = node.as_boolean())
        return b->get() ? "the boolean true" : "the boolean false";
    if (node.is_array_of_tables()) return "an array of tables";
    if (node.is_array()) return "an array";
    if (node.is_table()) return "a table";
    if (node.is_date()) return "a date";
    if (node.is_time()) return "a time";
    return "a date-time";
}

std::string join(std::initializer_list<std::string_view> names, std::string_view quote = "") {
    std::string text;
    for (std::string_view name : names) {
        if (!text.empty()) text += ", ";
        text += quote;
        text += name;
        text += quote;
    }
    return text;
}

// Where errors point: the file, and the position of a node or key in it.
class Context {
public:
    explicit Context(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const toml::source_region& at, std::string key, std::string message,
                           std::string expected) const {
        throw InputError(file_, at.begin.line, at.begin.column, std::move(key), std::move(message),
                         std::move(expected));
    }

    void warn(const toml::source_region& at, std::string_view text) {
        const std::string_view file =
            file_.empty() ? std::string_view("<input>") : std::string_view(file_);
        warnings_.push_back(
            fmt::format("{}:{}:{}: {}", file, at.begin.line, at.begin.column, text));
    }

    std::vector<std::string> take_warnings() { return std::move(warnings_); }
    // Warnings raised while reading another file (a tier table), already located there.
    void add_warnings(std::vector<std::string> more) {
        warnings_.insert(warnings_.end(), std::make_move_iterator(more.begin()),
                         std::make_move_iterator(more.end()));
    }

private:
    std::string file_;
    std::vector<std::string> warnings_;
};

// A finite number (TOML integer or float) at `node`, satisfying `ok`.
template <class Ok>
double read_number(const Context& context, const toml::node& node, const std::string& key,
                   std::string_view expected, Ok ok) {
    double value = 0.0;
    std::string as_written;  // 1.0 stays 1.0 in messages, 7 stays 7
    if (const auto* i = node.as_integer()) {
        value = static_cast<double>(i->get());
        as_written = std::to_string(i->get());
    } else if (const auto* f = node.as_floating_point()) {
        value = f->get();
        as_written = format_float_literal(value);
    } else {
        context.fail(node.source(), key, "wrong type: found " + describe(node),
                     std::string(expected));
    }
    if (!std::isfinite(value)) {
        context.fail(node.source(), key, "not a finite number: found " + as_written,
                     std::string(expected));
    }
    if (!ok(value)) {
        context.fail(node.source(), key, "out of range: found " + as_written,
                     std::string(expected));
    }
    return value;
}

// A TOML table being read, named by its dotted key path (`positions[2]`; empty for the root).
class TableReader {
public:
    TableReader(Context& context, const toml::table& table, std::string path)
        : context_(&context), table_(&table), path_(std::move(path)) {}

    Context& context() const noexcept { return *context_; }
    const toml::source_region& source() const noexcept { return table_->source(); }
    const std::string& path() const noexcept { return path_; }
    std::string key(std::string_view name) const {
        return path_.empty() ? std::string(name) : path_ + '.' + std::string(name);
    }
    const toml::node* find(std::string_view name) const { return table_->get(name); }
    bool has(std::string_view name) const { return find(name) != nullptr; }
    // Where the value of `name` is written; the table's own position when it is absent.
    SourcePosition position_of(std::string_view name) const {
        const toml::node* node = find(name);
        const toml::source_position at = (node != nullptr ? node->source() : source()).begin;
        return {at.line, at.column};
    }

    // Rejects keys not in `names`, reporting the first in file order: typos never pass silently.
    void allow_only(std::initializer_list<std::string_view> names) const {
        const toml::key* first_unknown = nullptr;
        for (auto&& [name, node] : *table_) {
            if (std::find(names.begin(), names.end(), name.str()) != names.end()) continue;
            if (first_unknown == nullptr || precedes(name.source(), first_unknown->source())) {
                first_unknown = &name;
            }
        }
        if (first_unknown != nullptr) {
            context_->fail(first_unknown->source(), key(first_unknown->str()), "unknown key",
                           "one of " + join(names));
        }
    }

    [[noreturn]] void fail_missing(std::string_view name, std::string expected) const {
        context_->fail(source(), key(name), "missing required key", std::move(expected));
    }
    [[noreturn]] void fail_table(std::string message, std::string expected) const {
        context_->fail(source(), path_, std::move(message), std::move(expected));
    }
    [[noreturn]] void fail_value(std::string_view name, std::string message,
                                 std::string expected) const {
        const toml::node* node = find(name);
        assert(node != nullptr);
        context_->fail(node->source(), key(name), std::move(message), std::move(expected));
    }

    template <class Ok>
    std::optional<double> number(std::string_view name, std::string_view expected, Ok ok) const {
        const toml::node* node = find(name);
        if (node == nullptr) return std::nullopt;
        return read_number(*context_, *node, key(name), expected, ok);
    }

    template <class Ok>
    double required_number(std::string_view name, std::string_view expected, Ok ok) const {
        if (!has(name)) fail_missing(name, std::string(expected));
        return *number(name, expected, ok);
    }

    // A TOML integer in [min, max]; floats such as 100000.0 are rejected.
    std::optional<std::int64_t> integer(std::string_view name, std::string_view expected,
                                        std::int64_t min, std::int64_t max) const {
        const toml::node* node = find(name);
        if (node == nullptr) return std::nullopt;
        const auto* value = node->as_integer();
        if (value == nullptr) {
            context_->fail(node->source(), key(name), "wrong type: found " + describe(*node),
                           std::string(expected));
        }
        const std::int64_t v = value->get();
        if (v < min) {
            context_->fail(node->source(), key(name), fmt::format("out of range: found {}", v),
                           std::string(expected));
        }
        if (v > max) {
            context_->fail(node->source(), key(name), fmt::format("too large: found {}", v),
                           fmt::format("an integer <= {}", max));
        }
        return v;
    }

    std::optional<std::string> text(std::string_view name, std::string_view expected) const {
        const toml::node* node = find(name);
        if (node == nullptr) return std::nullopt;
        const auto* value = node->as_string();
        if (value == nullptr) {
            context_->fail(node->source(), key(name), "wrong type: found " + describe(*node),
                           std::string(expected));
        }
        return value->get();
    }

    template <class Enum>
    std::optional<Enum> choice(
        std::string_view name,
        std::initializer_list<std::pair<std::string_view, Enum>> options) const {
        std::string allowed;
        for (const auto& option : options) {
            allowed += allowed.empty() ? "one of \"" : ", \"";
            allowed += option.first;
            allowed += '"';
        }
        const std::optional<std::string> value = text(name, allowed);
        if (!value) return std::nullopt;
        for (const auto& option : options) {
            if (option.first == *value) return option.second;
        }
        fail_value(name, fmt::format("unknown value \"{}\"", *value), allowed);
    }

    // An optional sub-table such as [simulation].
    std::optional<TableReader> table(std::string_view name, std::string_view expected) const {
        const toml::node* node = find(name);
        if (node == nullptr) return std::nullopt;
        const toml::table* sub = node->as_table();
        if (sub == nullptr) {
            context_->fail(node->source(), key(name), "wrong type: found " + describe(*node),
                           std::string(expected));
        }
        return TableReader(*context_, *sub, key(name));
    }

    // An array of tables such as [[assets]] or tiers = [ {...}, {...} ]; empty when absent.
    std::vector<TableReader> tables(std::string_view name, std::string_view expected,
                                    std::string_view element_expected) const {
        std::vector<TableReader> result;
        const toml::node* node = find(name);
        if (node == nullptr) return result;
        const toml::array* array = node->as_array();
        if (array == nullptr) {
            context_->fail(node->source(), key(name), "wrong type: found " + describe(*node),
                           std::string(expected));
        }
        for (std::size_t i = 0; i < array->size(); ++i) {
            const toml::node& element = (*array)[i];
            const std::string element_key = fmt::format("{}[{}]", key(name), i);
            const toml::table* sub = element.as_table();
            if (sub == nullptr) {
                context_->fail(element.source(), element_key,
                               "wrong type: found " + describe(element),
                               std::string(element_expected));
            }
            result.emplace_back(*context_, *sub, element_key);
        }
        return result;
    }

private:
    static bool precedes(const toml::source_region& a, const toml::source_region& b) {
        return std::pair(a.begin.line, a.begin.column) < std::pair(b.begin.line, b.begin.column);
    }

    Context* context_;
    const toml::table* table_;
    std::string path_;
};

constexpr double symmetry_tolerance = 1e-12;
constexpr double psd_tolerance = -1e-10;
constexpr double continuity_tolerance = 1e-6;  // relative to the tier boundary's notional
constexpr double leverage_tolerance = 1e-12;
constexpr std::int64_t int_max = std::numeric_limits<int>::max();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

bool positive(double v) { return v > 0.0; }
bool non_negative(double v) { return v >= 0.0; }
bool unit_interval(double v) { return v >= 0.0 && v < 1.0; }
bool at_least_one(double v) { return v >= 1.0; }
bool any_value(double) { return true; }

Simulation read_simulation(const TableReader& root) {
    const auto table = root.table("simulation", "a table [simulation]");
    if (!table) {
        root.context().fail(root.source(), "simulation", "missing required table",
                            "a [simulation] table with at least horizon_days");
    }
    const TableReader& s = *table;
    s.allow_only({"paths", "horizon_days", "steps_per_day", "seed", "model", "dof", "threads"});

    Simulation sim;
    sim.paths = static_cast<std::uint64_t>(
        s.integer("paths", "an integer > 0", 1, int64_max).value_or(100000));
    sim.horizon_days = s.required_number("horizon_days", "a number of days > 0", positive);
    sim.steps_per_day =
        static_cast<int>(s.integer("steps_per_day", "an integer > 0", 1, int_max).value_or(24));
    sim.seed =
        static_cast<std::uint64_t>(s.integer("seed", "an integer >= 0", 0, int64_max).value_or(1));
    sim.model = s.choice<PriceModel>("model", {{"gaussian", PriceModel::gaussian},
                                               {"student_t", PriceModel::student_t},
                                               {"jump", PriceModel::jump},
                                               {"regime", PriceModel::regime}})
                    .value_or(PriceModel::gaussian);
    const std::string_view dof_expected = "a number > 2: the variance is infinite for dof <= 2";
    if (sim.model == PriceModel::student_t) {
        if (!s.has("dof")) {
            s.fail_missing("dof", "degrees of freedom for model = \"student_t\": a number > 2");
        }
        sim.dof = *s.number("dof", dof_expected, [](double v) { return v > 2.0; });
    } else if (s.has("dof")) {
        s.fail_value("dof",
                     fmt::format("dof is only used by model = \"student_t\", but the model is "
                                 "\"{}\"",
                                 to_string(sim.model)),
                     fmt::format("no dof with the {} model, or model = \"student_t\"",
                                 to_string(sim.model)));
    }
    sim.threads = static_cast<int>(
        s.integer("threads", "an integer >= 0, 0 = all cores", 0, int_max).value_or(0));

    const double steps = std::round(sim.horizon_days * sim.steps_per_day);
    if (steps < 1.0) {
        s.fail_value("horizon_days",
                     fmt::format("too short for one monitoring step: {} days at {} steps per day "
                                 "rounds to 0 steps",
                                 format_input(sim.horizon_days), sim.steps_per_day),
                     fmt::format("at least half a step: horizon_days >= {} at {} steps per day",
                                 format_amount(0.5 / sim.steps_per_day), sim.steps_per_day));
    }
    if (steps > static_cast<double>(int_max)) {
        s.fail_value(
            "horizon_days",
            fmt::format("too long: {} days at {} steps per day is {} monitoring steps",
                        format_input(sim.horizon_days), sim.steps_per_day, format_amount(steps)),
            fmt::format("at most {} steps", int_max));
    }
    sim.steps = static_cast<int>(std::llround(sim.horizon_days * sim.steps_per_day));
    sim.dt_years = 1.0 / (365.0 * sim.steps_per_day);
    sim.paths_at = s.position_of("paths");
    sim.horizon_days_at = s.position_of("horizon_days");
    sim.steps_per_day_at = s.position_of("steps_per_day");
    return sim;
}

double read_balance(const TableReader& root) {
    const auto table = root.table("account", "a table [account]");
    if (!table) {
        root.context().fail(root.source(), "account", "missing required table",
                            "an [account] table with balance > 0");
    }
    table->allow_only({"balance"});
    const double balance =
        table->required_number("balance", "a balance > 0 in the quote currency", positive);
    if (balance > max_amount) {
        table->fail_value("balance", fmt::format("too large: found {}", format_input(balance)),
                          fmt::format("a balance <= {}, the largest amount the engine computes with",
                                      format_input(max_amount)));
    }
    return balance;
}

void read_liquidation(const TableReader& root, Scenario& scenario) {
    scenario.policy = LiquidationPolicy::full;
    scenario.fee_rate = 0.005;
    const auto table = root.table("liquidation", "a table [liquidation]");
    if (!table) return;
    table->allow_only({"policy", "fee_rate"});
    scenario.policy = table
                          ->choice<LiquidationPolicy>("policy", {{"full", LiquidationPolicy::full},
                                                                 {"fee", LiquidationPolicy::fee}})
                          .value_or(LiquidationPolicy::full);
    scenario.fee_rate = table->number("fee_rate", "a fraction of notional in [0, 1)", unit_interval)
                            .value_or(0.005);
}

// Reads one tier of `tiers`; `previous` is the tier before it (null for the first).
Tier read_tier(const TableReader& t, const Tier* previous, bool last, std::string_view symbol) {
    t.allow_only({"notional_cap", "rate", "amount", "max_leverage"});
    Tier tier;
    const auto cap =
        t.number("notional_cap",
                 "a notional > 0; omit notional_cap on the last tier for no upper bound", positive);
    if (!cap && !last) {
        t.fail_missing("notional_cap", "a notional cap > 0: only the last tier may omit it");
    }
    tier.notional_cap = cap.value_or(no_cap);
    if (cap && previous != nullptr && *cap <= previous->notional_cap) {
        t.fail_value(
            "notional_cap",
            fmt::format("not above the previous tier's cap: found {}, the previous cap is {}",
                        format_input(*cap), format_input(previous->notional_cap)),
            "notional caps strictly increasing from tier to tier");
    }
    tier.rate = t.required_number("rate", "a maintenance margin rate in [0, 1)", unit_interval);
    if (previous != nullptr && tier.rate < previous->rate) {
        t.fail_value(
            "rate",
            fmt::format("below the previous tier's rate: found {}, the previous rate is {}",
                        format_input(tier.rate), format_input(previous->rate)),
            "rates that do not decrease as the notional grows");
    }
    // Continuity at the lower boundary: the previous tier's formula and this one agree there.
    // The first tier has no lower boundary: a given amount there is kept without a check.
    const double continuous =
        previous == nullptr
            ? 0.0
            : previous->amount + previous->notional_cap * (tier.rate - previous->rate);
    if (const auto amount = t.number("amount", "a maintenance amount >= 0", non_negative)) {
        tier.amount = *amount;
        if (previous != nullptr &&
            std::abs(*amount - continuous) > continuity_tolerance * previous->notional_cap) {
            t.context().warn(t.find("amount")->source(),
                             fmt::format("{} = {} breaks continuity of the {} maintenance margin: "
                                         "the continuous value is {}",
                                         t.key("amount"), format_input(*amount), symbol,
                                         format_amount(continuous)));
        }
    } else {
        tier.amount = continuous;
    }
    tier.max_leverage = t.number("max_leverage", "a leverage >= 1", at_least_one);
    return tier;
}

std::vector<Tier> read_tiers(const TableReader& asset, std::string_view symbol) {
    const std::vector<TableReader> rows = asset.tables(
        "tiers",
        "an array of tiers such as [ { notional_cap = 50000, rate = 0.004 }, { rate = 0.005 } ]",
        "a tier: an inline table { notional_cap, rate, amount, max_leverage }");
    if (rows.empty()) {
        asset.fail_value("tiers", "empty tier table",
                         "at least one tier { notional_cap, rate, amount, max_leverage }");
    }
    std::vector<Tier> tiers;
    tiers.reserve(rows.size());
    for (std::size_t k = 0; k < rows.size(); ++k) {
        tiers.push_back(
            read_tier(rows[k], k == 0 ? nullptr : &tiers.back(), k + 1 == rows.size(), symbol));
    }
    return tiers;
}

// The directories where tier table references are looked up, in order (LoadOptions).
struct TierSearch {
    std::vector<std::filesystem::path> dirs;
};

TierSearch tier_search(const LoadOptions& options, std::string_view source_name) {
    TierSearch search;
    if (!options.tiers_dir.empty()) search.dirs.push_back(options.tiers_dir);
    search.dirs.push_back(std::filesystem::path(source_name).parent_path() / "exchanges");
    return search;
}

// "binance-usdm/BTCUSDT": relative segments of letters, digits, '.', '_' and '-', never "..",
// so that a reference cannot leave the directories it is looked up in.
bool valid_tier_reference(std::string_view reference) {
    if (reference.empty()) return false;
    std::size_t begin = 0;
    while (begin <= reference.size()) {
        const std::size_t end = std::min(reference.find('/', begin), reference.size());
        const std::string_view segment = reference.substr(begin, end - begin);
        if (segment.empty() || segment == "." || segment == "..") return false;
        for (char c : segment) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
            if (!ok) return false;
        }
        begin = end + 1;
    }
    return true;
}

std::optional<std::string> read_text_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) return std::nullopt;
    return text;
}

// toml++ descriptions read "Error while parsing ...": continue our sentence in lower case.
std::string lowercase_first(std::string_view text) {
    std::string result(text);
    if (!result.empty() && result[0] >= 'A' && result[0] <= 'Z')
        result[0] = static_cast<char>(result[0] - 'A' + 'a');
    return result;
}

toml::table parse_toml(std::string_view text, const std::string& source_name) {
    try {
        return toml::parse(text, source_name);
    } catch (const toml::parse_error& error) {
        throw InputError(source_name, error.source().begin.line, error.source().begin.column, "",
                         "TOML syntax error: " + lowercase_first(error.description()),
                         "valid TOML syntax, see https://toml.io");
    }
}

// The tier table of `tiers = "binance-usdm/BTCUSDT"`: the file binance-usdm/BTCUSDT.toml in the
// first search directory holding it, read and validated like an inline table. Its errors and
// warnings point into that file.
std::vector<Tier> read_tier_reference(const TableReader& asset, const TierSearch& search,
                                      std::string_view symbol) {
    const std::string reference = *asset.text("tiers", "");
    const std::string expected =
        "a tier table: an array of tiers, or a reference such as \"binance-usdm/BTCUSDT\" to "
        "the file binance-usdm/BTCUSDT.toml in --tiers-dir or in the exchanges directory next "
        "to the scenario";
    if (!valid_tier_reference(reference)) {
        asset.fail_value("tiers", fmt::format("not a tier table reference: \"{}\"", reference),
                         expected);
    }
    std::string tried;
    for (const std::filesystem::path& dir : search.dirs) {
        const std::filesystem::path file = (dir / (reference + ".toml")).lexically_normal();
        std::error_code ec;
        if (!std::filesystem::is_regular_file(file, ec)) {
            tried += fmt::format("{}{}", tried.empty() ? "" : ", ", file.string());
            continue;
        }
        const std::optional<std::string> text = read_text_file(file);
        if (!text) {
            asset.fail_value("tiers",
                             fmt::format("tier table \"{}\": cannot read {}", reference,
                                         file.string()),
                             "a readable tier table file");
        }
        const toml::table document = parse_toml(*text, file.string());
        Context context{file.string()};
        const TableReader root(context, document, "");
        root.allow_only({"tiers"});
        if (!root.has("tiers")) {
            root.fail_missing("tiers", "tiers = [ { notional_cap, rate, amount, max_leverage }, "
                                       "... ]: the tier table of the file");
        }
        std::vector<Tier> tiers = read_tiers(root, symbol);
        asset.context().add_warnings(context.take_warnings());
        return tiers;
    }
    asset.fail_value("tiers",
                     fmt::format("tier table \"{}\" not found: tried {}", reference, tried),
                     expected);
}

// Symbols are shown in reports, CSV rows and messages: no control characters, and no
// surrounding spaces that would make "BTC " a different asset from "BTC".
bool clean_symbol(std::string_view symbol) {
    const bool control = std::any_of(symbol.begin(), symbol.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    return !control && symbol.front() != ' ' && symbol.back() != ' ';
}

// The correlation matrix and its factorisation grow with the square and the cube of the
// asset count: a thousand assets take seconds to check, a hundred thousand would not end.
constexpr std::size_t max_assets = 1000;

std::vector<Asset> read_assets(const TableReader& root, const TierSearch& search) {
    const std::vector<TableReader> tables =
        root.tables("assets", "an array of tables: one [[assets]] table per asset",
                    "a table: one [[assets]] entry");
    if (tables.empty()) {
        const toml::node* node = root.find("assets");
        root.context().fail(node != nullptr ? node->source() : root.source(), "assets",
                            node != nullptr ? "no assets defined" : "missing required table",
                            "at least one [[assets]] table");
    }
    if (tables.size() > max_assets) {
        tables[max_assets].fail_table(
            fmt::format("{} assets, more than the {} the engine takes", tables.size(), max_assets),
            fmt::format("at most {} [[assets]] tables: the correlation matrix grows with the "
                        "square of the count",
                        max_assets));
    }
    std::vector<Asset> assets;
    for (std::size_t i = 0; i < tables.size(); ++i) {
        const TableReader& a = tables[i];
        a.allow_only({"symbol", "price", "volatility", "drift", "maintenance_margin_rate", "tiers",
                      "funding_rate"});
        Asset asset;
        const std::string_view symbol_expected = "a non-empty symbol such as \"BTC\"";
        if (!a.has("symbol")) a.fail_missing("symbol", std::string(symbol_expected));
        asset.symbol = *a.text("symbol", symbol_expected);
        if (asset.symbol.empty())
            a.fail_value("symbol", "empty symbol", std::string(symbol_expected));
        if (!clean_symbol(asset.symbol)) {
            a.fail_value("symbol",
                         fmt::format("symbol \"{}\" has a control character or a leading or "
                                     "trailing space",
                                     asset.symbol),
                         "a symbol of printable characters without surrounding spaces, such as "
                         "\"BTC\"");
        }
        for (std::size_t j = 0; j < assets.size(); ++j) {
            if (assets[j].symbol == asset.symbol) {
                a.fail_value("symbol",
                             fmt::format("duplicate symbol \"{}\", already used by assets[{}]",
                                         asset.symbol, j),
                             "a different symbol for each asset");
            }
        }
        asset.price = a.required_number("price", "a price > 0", positive);
        asset.volatility = a.required_number("volatility", "an annualised volatility in [0, 10)",
                                             [](double v) { return v >= 0.0 && v < 10.0; });
        asset.drift = a.number("drift", "a finite annualised drift", any_value).value_or(0.0);
        const bool has_rate = a.has("maintenance_margin_rate");
        const bool has_tiers = a.has("tiers");
        const std::string one_of = "exactly one of maintenance_margin_rate or tiers";
        if (has_rate && has_tiers)
            a.fail_table("both maintenance_margin_rate and tiers are given", one_of);
        if (!has_rate && !has_tiers)
            a.fail_table(
                "no maintenance margin: neither maintenance_margin_rate nor tiers is given",
                one_of);
        if (has_rate) {
            const double rate = *a.number("maintenance_margin_rate",
                                          "a maintenance margin rate in [0, 1)", unit_interval);
            asset.tiers.push_back(Tier{no_cap, rate, 0.0, std::nullopt});
        } else if (a.find("tiers")->is_string()) {
            asset.tiers = read_tier_reference(a, search, asset.symbol);
            asset.tier_table = *a.text("tiers", "");
        } else {
            asset.tiers = read_tiers(a, asset.symbol);
        }
        asset.funding_rate =
            a.number("funding_rate", "a funding rate per 8 hours in (-1, 1)", [](double v) {
                 return std::abs(v) < 1.0;
             }).value_or(0.0);
        assets.push_back(std::move(asset));
    }
    return assets;
}

std::string count(std::size_t n, std::string_view one, std::string_view many) {
    return fmt::format("{} {}", n, n == 1 ? one : many);
}

// `prefix` is the matrix's own key: "correlation.matrix", "regime.stress.correlation.matrix".
std::string matrix_key(std::string_view prefix, std::size_t i, std::size_t j) {
    return fmt::format("{}[{}][{}]", prefix, i, j);
}

// A matrix as a TOML array of rows, to 6 significant digits: how a repaired matrix is shown.
std::string format_matrix(const std::vector<double>& matrix, std::size_t n) {
    std::string text = "[";
    for (std::size_t i = 0; i < n; ++i) {
        text += i == 0 ? "[" : ", [";
        for (std::size_t j = 0; j < n; ++j) {
            text += fmt::format("{}{:.6g}", j == 0 ? "" : ", ", matrix[i * n + j]);
        }
        text += ']';
    }
    return text + ']';
}

// Reads the matrix row by row, with the checks of the contract in order: shape, range,
// unit diagonal, symmetry (positive semi-definiteness is checked by the caller).
std::vector<double> read_matrix(const TableReader& c, std::size_t n) {
    Context& context = c.context();
    const toml::node& node = *c.find("matrix");
    const std::string matrix_name = c.key("matrix");
    const std::string square =
        fmt::format("a {0} x {0} matrix: one row and one column per asset, in [[assets]] order", n);
    const toml::array* rows = node.as_array();
    if (rows == nullptr)
        context.fail(node.source(), matrix_name, "wrong type: found " + describe(node),
                     square);
    if (rows->size() != n) {
        context.fail(node.source(), matrix_name,
                     fmt::format("found {} for {} assets", count(rows->size(), "row", "rows"), n),
                     square);
    }
    std::vector<const toml::array*> row_arrays;
    for (std::size_t i = 0; i < n; ++i) {
        const toml::node& row = (*rows)[i];
        const std::string key = fmt::format("{}[{}]", matrix_name, i);
        const std::string row_expected = fmt::format("a row of {} numbers, one per asset", n);
        const toml::array* values = row.as_array();
        if (values == nullptr)
            context.fail(row.source(), key, "wrong type: found " + describe(row), row_expected);
        if (values->size() != n) {
            context.fail(
                row.source(), key,
                fmt::format("found {} for {} assets", count(values->size(), "entry", "entries"), n),
                row_expected);
        }
        row_arrays.push_back(values);
    }
    std::vector<double> matrix(n * n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            matrix[i * n + j] = read_number(context, (*row_arrays[i])[j], matrix_key(matrix_name, i, j),
                                            "a correlation in [-1, 1]",
                                            [](double v) { return v >= -1.0 && v <= 1.0; });
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        const double a = matrix[i * n + i];
        if (std::abs(a - 1.0) > symmetry_tolerance) {
            context.fail((*row_arrays[i])[i].source(), matrix_key(matrix_name, i, i),
                         "not a unit diagonal: found " + format_input(a),
                         "1 on the diagonal: each asset's correlation with itself");
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < i; ++j) {
            const double lower = matrix[i * n + j];
            const double upper = matrix[j * n + i];
            if (std::abs(lower - upper) > symmetry_tolerance) {
                context.fail(
                    (*row_arrays[i])[j].source(), matrix_key(matrix_name, i, j),
                    fmt::format("not symmetric: found {}, but {} is {}", format_input(lower),
                                matrix_key(matrix_name, j, i), format_input(upper)),
                    "a symmetric matrix: [i][j] equal to [j][i]");
            }
        }
    }
    return matrix;
}

struct NamedPair {
    std::size_t first = 0;
    std::size_t second = 0;
};

std::optional<std::size_t> asset_index(const std::vector<Asset>& assets, std::string_view symbol) {
    for (std::size_t i = 0; i < assets.size(); ++i) {
        if (assets[i].symbol == symbol) return i;
    }
    return std::nullopt;
}

std::string quoted_symbols(const std::vector<Asset>& assets) {
    std::string text;
    for (const Asset& asset : assets) {
        text += fmt::format("{}\"{}\"", text.empty() ? "" : ", ", asset.symbol);
    }
    return text;
}

// The assets named by a key "A/B" of [correlation] pairs. Symbols may themselves hold a '/':
// every split point is tried, and the key must name two assets at exactly one.
NamedPair read_pair_name(const Context& context, const toml::key& name, const std::string& key,
                         const std::vector<Asset>& assets) {
    const std::string_view text = name.str();
    const std::string expected =
        fmt::format("a pair \"A/B\" of two asset symbols among {}", quoted_symbols(assets));
    std::optional<NamedPair> found;
    std::string_view unknown;
    for (std::size_t slash = text.find('/'); slash != std::string_view::npos;
         slash = text.find('/', slash + 1)) {
        const auto a = asset_index(assets, text.substr(0, slash));
        const auto b = asset_index(assets, text.substr(slash + 1));
        if (a && b) {
            if (found) {
                context.fail(name.source(), key,
                             "ambiguous pair: more than one split names two assets", expected);
            }
            found = NamedPair{*a, *b};
        } else if (unknown.empty()) {
            unknown = a ? text.substr(slash + 1) : text.substr(0, slash);
        }
    }
    if (!found) {
        if (text.find('/') == std::string_view::npos) {
            context.fail(name.source(), key, "not a pair: no '/' between two symbols", expected);
        }
        context.fail(name.source(), key, fmt::format("no asset named \"{}\"", unknown),
                     expected);
    }
    if (found->first == found->second) {
        context.fail(name.source(), key,
                     fmt::format("a pair of \"{}\" with itself: its correlation is 1 by "
                                 "definition",
                                 assets[found->first].symbol),
                     "a pair of two different assets");
    }
    return *found;
}

// pairs = { "BTC/ETH" = 0.8, ... }, default = 0.5: the full matrix, `default` (0 when absent)
// for every pair not named. Checks in file order, so a pair given twice is reported where it
// is repeated.
std::vector<double> read_pairs(const TableReader& c, const std::vector<Asset>& assets) {
    Context& context = c.context();
    const std::size_t n = assets.size();
    c.table("pairs", "a table of pairs such as { \"BTC/ETH\" = 0.8 }");  // fails unless a table
    const std::string_view correlation_expected = "a correlation in [-1, 1]";
    const auto in_range = [](double v) { return v >= -1.0 && v <= 1.0; };
    const double fallback = c.number("default", correlation_expected, in_range).value_or(0.0);
    std::vector<double> matrix(n * n, fallback);
    for (std::size_t i = 0; i < n; ++i) matrix[i * n + i] = 1.0;

    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [name, node] : *c.find("pairs")->as_table()) {
        entries.emplace_back(&name, &node);
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
        const auto& x = a.first->source().begin;
        const auto& y = b.first->source().begin;
        return std::pair(x.line, x.column) < std::pair(y.line, y.column);
    });
    std::vector<const toml::key*> given(n * n, nullptr);
    for (const auto& [name, node] : entries) {
        const std::string key = fmt::format("{}.\"{}\"", c.key("pairs"), name->str());
        const NamedPair pair = read_pair_name(context, *name, key, assets);
        const double value = read_number(context, *node, key, correlation_expected, in_range);
        const std::size_t ij = pair.first * n + pair.second;
        if (const toml::key* earlier = given[ij]) {
            context.fail(name->source(), key,
                         fmt::format("the pair {}/{} is given twice: \"{}\" at line {} already "
                                     "sets it",
                                     assets[pair.first].symbol, assets[pair.second].symbol,
                                     earlier->str(), earlier->source().begin.line),
                         "each pair once, in either order");
        }
        given[ij] = given[pair.second * n + pair.first] = name;
        matrix[ij] = matrix[pair.second * n + pair.first] = value;
    }
    return matrix;
}

struct CorrelationRead {
    std::vector<double> matrix;
    double repair_distance = 0.0;
    bool repaired = false;
};

// A [correlation]-style table (matrix, or pairs with a default; repair), `fallback` when it
// gives neither matrix nor pairs. Used for [correlation] and [regime.stress.correlation].
CorrelationRead read_correlation_table(const TableReader& c, const std::vector<Asset>& assets,
                                       std::vector<double> fallback) {
    const std::size_t n = assets.size();
    CorrelationRead result;
    result.matrix = std::move(fallback);
    c.allow_only({"matrix", "pairs", "default", "repair"});
    const bool repair =
        c.choice<bool>("repair", {{"none", false}, {"nearest", true}}).value_or(false);
    const std::string one_of =
        "exactly one of matrix (the full matrix) or pairs (with an optional default)";
    if (c.has("matrix") && c.has("pairs")) c.fail_table("both matrix and pairs are given", one_of);
    if (c.has("default") && !c.has("pairs")) {
        c.fail_value("default", "default is only used with pairs, but no pairs are given",
                     "pairs = { \"A/B\" = ... } next to default, or no default");
    }
    if (!c.has("matrix") && !c.has("pairs")) return result;

    const std::string_view source_key = c.has("matrix") ? "matrix" : "pairs";
    std::vector<double> matrix = c.has("matrix") ? read_matrix(c, n) : read_pairs(c, assets);
    const std::string key = c.key(source_key);
    const double smallest = detail::smallest_eigenvalue(matrix, n);
    if (smallest < psd_tolerance) {
        const toml::source_region& at = c.find(source_key)->source();
        if (!repair) {
            c.context().fail(
                at, key,
                fmt::format("{}not positive semi-definite: smallest eigenvalue {:.3g}",
                            source_key == "pairs" ? "the matrix of pairs and default is " : "",
                            smallest),
                fmt::format("a positive semi-definite matrix, correlations that can hold "
                            "together; or repair = \"nearest\" in [{}] to use the nearest valid "
                            "correlation matrix",
                            c.path()));
        }
        detail::NearestCorrelation nearest = detail::nearest_correlation(matrix, n);
        matrix = std::move(nearest.matrix);
        result.repaired = true;
        result.repair_distance = nearest.frobenius_distance;
        c.context().warn(at,
                         fmt::format("{} is not positive semi-definite (smallest eigenvalue "
                                     "{:.3g}): replaced by the nearest correlation matrix, "
                                     "Frobenius distance {:.3g}: {}",
                                     key, smallest, nearest.frobenius_distance,
                                     format_matrix(matrix, n)));
    }
    result.matrix = std::move(matrix);
    return result;
}

std::vector<double> identity_matrix(std::size_t n) {
    std::vector<double> matrix(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) matrix[i * n + i] = 1.0;
    return matrix;
}

void read_correlation(const TableReader& root, Scenario& scenario) {
    const std::size_t n = scenario.assets.size();
    scenario.correlation = identity_matrix(n);
    const auto table = root.table("correlation", "a table [correlation]");
    if (!table) return;
    CorrelationRead read = read_correlation_table(*table, scenario.assets, identity_matrix(n));
    scenario.correlation = std::move(read.matrix);
    scenario.correlation_repaired = read.repaired;
    scenario.correlation_repair_distance = read.repair_distance;
}

// A symbol as a TOML key in messages: bare when TOML allows it, quoted otherwise.
std::string symbol_key(std::string_view symbol) {
    const bool bare = !symbol.empty() && std::all_of(symbol.begin(), symbol.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_' || ch == '-';
    });
    return bare ? std::string(symbol) : fmt::format("\"{}\"", symbol);
}

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
    st.allow_only({"volatility_scale", "volatility", "correlation"});
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

Regimes read_regimes(const TableReader& r, const Scenario& scenario) {
    r.allow_only({"calm_to_stress", "stress_to_calm", "start", "stress"});
    Regimes regimes;
    const std::string_view switching = "a switching intensity per year in [0, 10000]";
    const auto in_range = [](double v) { return v >= 0.0 && v <= 10000.0; };
    regimes.calm_to_stress = r.required_number("calm_to_stress", switching, in_range);
    regimes.stress_to_calm = r.required_number("stress_to_calm", switching, in_range);
    regimes.start = r.choice<StartRegime>("start", {{"calm", StartRegime::calm},
                                                    {"stress", StartRegime::stress},
                                                    {"stationary", StartRegime::stationary}})
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
    return regimes;
}

// [jumps] and [regime]: each required by its model and refused under any other, like dof.
void read_model_tables(const TableReader& root, Scenario& scenario) {
    const PriceModel model = scenario.simulation.model;
    const struct {
        std::string_view name;
        PriceModel model;
        std::string_view holds;
    } tables[] = {{"jumps", PriceModel::jump, "intensity, mean and vol"},
                  {"regime", PriceModel::regime, "calm_to_stress, stress_to_calm and [regime.stress]"}};
    for (const auto& t : tables) {
        const auto table = root.table(t.name, fmt::format("a table [{}]", t.name));
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
    if (model == PriceModel::jump) scenario.jumps = read_jumps(*root.table("jumps", ""), scenario.assets);
    if (model == PriceModel::regime) scenario.regimes = read_regimes(*root.table("regime", ""), scenario);
}

// How far an asset's log price plausibly rises above its start within the horizon T (years):
// its log drift when positive plus 40 standard deviations of the horizon,
// max(0, (mu - vol^2/2) T) + 40 vol sqrt(T); a Brownian running maximum passes that with
// probability 2 P(Z > 40) < 1e-300. With the gaussian model the price discounted at mu is a
// martingale, so by Doob's maximal inequality it passes max(0, mu) T + 46 with probability
// below e^-46 = 1e-20: the smaller of the two is taken. Student-t steps have no such bound (their
// price has no mean): a path with a larger jump is counted at run time (overflowed_paths).
struct PlausibleRise {
    double log_rise = 0.0;
    double from_drift = 0.0;  // the drift's part of it
    std::string how;          // the terms, for messages
};

constexpr double plausible_deviations = 40.0;
constexpr double doob_log_margin = 46.0;  // e^-46 = 1.1e-20

PlausibleRise plausible_rise(const Asset& asset, const Simulation& simulation) {
    const double years = simulation.steps * simulation.dt_years;
    const double log_drift = std::max(0.0, (asset.drift - 0.5 * asset.volatility * asset.volatility) * years);
    const double diffusion = plausible_deviations * asset.volatility * std::sqrt(years);
    PlausibleRise rise{log_drift + diffusion, log_drift,
                       fmt::format("its log drift {} plus {} standard deviations of the horizon "
                                   "({} x {} x sqrt({} years) = {})",
                                   format_amount(log_drift), plausible_deviations, plausible_deviations,
                                   format_input(asset.volatility), format_amount(years),
                                   format_amount(diffusion))};
    const double doob = std::max(0.0, asset.drift) * years + doob_log_margin;
    if (simulation.model == PriceModel::gaussian && doob < rise.log_rise) {
        rise = {doob, doob - doob_log_margin,
                fmt::format("its drift {} x {} years plus {} (Doob's bound: probability below 1e-20)",
                            format_input(asset.drift), format_amount(years), doob_log_margin)};
    }
    return rise;
}

// A value whose amounts overflow on a plausible path: the key within its [[assets]] or
// [[positions]] table (empty: the table itself), what happens, and what is expected.
struct Overflow {
    std::string key;
    std::string message;
    std::string expected;
};

// A price that overflows a double on a plausible path would poison every path that reaches it.
std::optional<Overflow> price_overflow(const Scenario& scenario, std::size_t i) {
    const Asset& asset = scenario.assets[i];
    const PlausibleRise rise = plausible_rise(asset, scenario.simulation);
    const double log_max = std::log(std::numeric_limits<double>::max());
    const double top = std::log(asset.price) + rise.log_rise;
    if (top <= log_max) return std::nullopt;
    // Point at what is extreme: the price when the rise is no more than Doob's margin (an
    // ordinary move), else the drift when it makes most of the rise, else the volatility.
    const char* key = rise.log_rise <= doob_log_margin        ? "price"
                      : rise.from_drift > 0.5 * rise.log_rise ? "drift"
                                                                : "volatility";
    return Overflow{key,
                    fmt::format("a plausible path overflows: from price {} over {} days the log "
                                "price rises by {}, to e^{:.1f}, past the largest floating-point "
                                "number e^{:.2f} = 1.8e308",
                                format_input(asset.price), format_input(scenario.simulation.horizon_days),
                                rise.how, top, log_max),
                    "price x e^(plausible rise) below 1.8e308: a lower volatility, drift or price, or "
                    "a shorter horizon_days"};
}

std::string known_symbols(const std::vector<Asset>& assets) {
    std::string text;
    for (const Asset& asset : assets) {
        text += text.empty() ? "one of the asset symbols \"" : ", \"";
        text += asset.symbol + '"';
    }
    return text;
}

constexpr std::string_view overflow_expected =
    "amounts whose products and sums stay far below the largest floating-point number, 1.8e308";

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
        p.choice<Side>("side", {{"long", Side::long_side}, {"short", Side::short_side}});
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
    position.mode = p.choice<MarginMode>(
                         "mode", {{"cross", MarginMode::cross}, {"isolated", MarginMode::isolated}})
                        .value_or(MarginMode::cross);
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

// Cross-field checks need each position's table to point at it.
struct PositionSource {
    std::string key;
    toml::source_region region;
};

// "assets[0].tiers[2]", or for a referenced table "tiers[2] of \"binance-usdm/BTCUSDT\"".
std::string tier_name(const Asset& asset, std::size_t asset_index, std::size_t k) {
    if (asset.tier_table.empty()) return fmt::format("assets[{}].tiers[{}]", asset_index, k);
    return fmt::format("tiers[{}] of \"{}\" (assets[{}].tiers)", k, asset.tier_table,
                       asset_index);
}

void check_tier_limits(const Context& context, const Scenario& scenario,
                       const std::vector<PositionSource>& sources) {
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        const Asset& asset = scenario.assets[position.asset];
        const double notional = position.notional_at_entry();
        const std::size_t last = asset.tiers.size() - 1;
        if (notional > asset.tiers[last].notional_cap) {
            context.fail(
                sources[j].region, sources[j].key,
                fmt::format("notional at entry {} is above {}, the cap of the last {} tier {}",
                            format_amount(notional), format_input(asset.tiers[last].notional_cap),
                            asset.symbol, tier_name(asset, position.asset, last)),
                fmt::format("a notional <= {}, or a last tier without notional_cap",
                            format_input(asset.tiers[last].notional_cap)));
        }
        const std::size_t k = tier_index(asset.tiers, notional);
        const std::optional<double>& max_leverage = asset.tiers[k].max_leverage;
        if (max_leverage && position.leverage > *max_leverage + leverage_tolerance) {
            context.fail(
                sources[j].region, sources[j].key,
                fmt::format("leverage {} exceeds max_leverage {} of {}, the {} tier holding "
                            "its notional at entry {}",
                            format_amount(position.leverage), format_input(*max_leverage),
                            tier_name(asset, position.asset, k), asset.symbol,
                            format_amount(notional)),
                fmt::format("leverage <= {} at this notional", format_input(*max_leverage)));
        }
    }
}

void check_margins_fundable(const Context& context, const Scenario& scenario,
                            const std::vector<PositionSource>& sources) {
    double total = 0.0;
    for (const Position& position : scenario.positions) total += position.margin;
    if (total <= scenario.balance) return;
    double running = 0.0;
    std::size_t j = 0;
    while (running + scenario.positions[j].margin <= scenario.balance)
        running += scenario.positions[j++].margin;
    context.fail(
        sources[j].region, sources[j].key + ".margin",
        fmt::format("position margins add up to {}, more than the account balance {}; "
                    "the running sum exceeds it from this position on",
                    format_amount(total), format_input(scenario.balance)),
        "a sum of position margins <= account.balance, so that every margin mode is fundable");
}

double start_upnl(const Scenario& scenario, const Position& position) {
    const double price = scenario.assets[position.asset].price;
    return sign(position.side) * position.quantity * (price - position.entry_price);
}

double start_maintenance(const Scenario& scenario, const Position& position) {
    const Asset& asset = scenario.assets[position.asset];
    return maintenance_margin(asset.tiers, position.quantity * asset.price);
}

// Cross pool of `mode` (SPEC 3.2): fails when its equity starts at or below its maintenance.
void check_cross_pool(const Context& context, const Scenario& scenario,
                      const std::vector<PositionSource>& sources, MarginMode mode) {
    double upnl = 0.0;
    double maintenance = 0.0;
    std::string members;
    std::optional<std::size_t> first;
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        if (mode == MarginMode::as_configured && position.mode != MarginMode::cross) continue;
        if (!first) first = j;
        upnl += start_upnl(scenario, position);
        maintenance += start_maintenance(scenario, position);
        members += fmt::format("{}{}", members.empty() ? "" : ", ", sources[j].key);
    }
    if (!first) return;
    const double wallet = scenario.cross_wallet(mode);
    if (wallet + upnl > maintenance) return;
    const std::string wallet_text =
        mode == MarginMode::cross
            ? fmt::format("wallet {}", format_amount(wallet))
            : fmt::format("cross wallet {} (balance {} minus isolated margins)",
                          format_amount(wallet), format_input(scenario.balance));
    context.fail(
        sources[*first].region, "positions",
        fmt::format("the cross positions ({}) are already at or below their maintenance "
                    "margin at the start prices in {} mode: {} + unrealised PnL {} = {} <= "
                    "maintenance margin {}",
                    members, to_string(mode), wallet_text, format_amount(upnl),
                    format_amount(wallet + upnl), format_amount(maintenance)),
        "cross equity above the total maintenance margin at the start: a larger balance, "
        "smaller positions or entry prices nearer the current prices");
}

void check_isolated_positions(const Context& context, const Scenario& scenario,
                              const std::vector<PositionSource>& sources) {
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        const double upnl = start_upnl(scenario, position);
        const double maintenance = start_maintenance(scenario, position);
        if (position.margin + upnl > maintenance) continue;
        context.fail(
            sources[j].region, sources[j].key,
            fmt::format(
                "already at or below its maintenance margin at the start price {} in "
                "isolated mode: margin {} + unrealised PnL {} = {} <= maintenance margin {}",
                format_input(scenario.assets[position.asset].price), format_input(position.margin),
                format_amount(upnl), format_amount(position.margin + upnl),
                format_amount(maintenance)),
            "margin + unrealised PnL above the maintenance margin at the start: more margin, "
            "a smaller position or an entry_price nearer the current price");
    }
}

// The start state in finite numbers: otherwise the checks below compare NaN and report
// nonsense, and the engine starts from infinities.
void check_start_finite(const Context& context, const Scenario& scenario,
                        const std::vector<PositionSource>& sources) {
    double total = scenario.balance;
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        const Position& position = scenario.positions[j];
        const double upnl = start_upnl(scenario, position);
        const double maintenance = start_maintenance(scenario, position);
        if (!std::isfinite(upnl) || !std::isfinite(maintenance)) {
            context.fail(sources[j].region, sources[j].key,
                         fmt::format("numbers too large: quantity {} at the start price {} "
                                     "(entry price {}) overflows its unrealised PnL or "
                                     "maintenance margin",
                                     format_amount(position.quantity),
                                     format_input(scenario.assets[position.asset].price),
                                     format_input(position.entry_price)),
                         std::string(overflow_expected));
        }
        total += std::abs(upnl) + std::abs(maintenance) + position.margin;
    }
    if (!std::isfinite(total)) {
        context.fail(sources.front().region, "positions",
                     "numbers too large: the balance, margins, unrealised PnL and maintenance "
                     "margins of the positions add up past the largest floating-point number",
                     std::string(overflow_expected));
    }
}

// Notionals at the top of a plausible path (and at the entry price) stay within max_amount,
// so that no sum of the run overflows; a rarer path that passes it is counted at run time.
std::optional<Overflow> notional_overflow(const Scenario& scenario, std::size_t j) {
    const Position& position = scenario.positions[j];
    const Asset& asset = scenario.assets[position.asset];
    const PlausibleRise rise = plausible_rise(asset, scenario.simulation);
    const double top_price = asset.price * std::exp(rise.log_rise);
    const double notional = position.quantity * std::max(top_price, position.entry_price);
    if (notional <= max_amount) return std::nullopt;
    return Overflow{
        "",
        fmt::format("notional can overflow: quantity {} at {} is a notional of {}, above {}, the "
                    "largest amount the engine computes with (the price {} of {} plausibly rises by "
                    "{} over {} days)",
                    format_amount(position.quantity),
                    top_price >= position.entry_price
                        ? fmt::format("the plausible top price {}", format_amount(top_price))
                        : fmt::format("the entry price {}", format_input(position.entry_price)),
                    format_amount(notional), format_input(max_amount), format_input(asset.price),
                    asset.symbol, rise.how, format_input(scenario.simulation.horizon_days)),
        fmt::format("a notional below {} at every plausible price: a smaller position, a lower "
                    "volatility or drift, or a shorter horizon_days",
                    format_input(max_amount))};
}

// No pool may start liquidated. The whole-account pools are checked first: when one of them
// fails, that is what the user most needs to hear.
void check_start_not_liquidated(const Context& context, const Scenario& scenario,
                                const std::vector<PositionSource>& sources) {
    check_start_finite(context, scenario, sources);
    check_cross_pool(context, scenario, sources, MarginMode::cross);
    check_cross_pool(context, scenario, sources, MarginMode::as_configured);
    check_isolated_positions(context, scenario, sources);
}

void read_positions(const TableReader& root, Scenario& scenario) {
    const std::vector<TableReader> tables =
        root.tables("positions", "an array of tables: one [[positions]] table per position",
                    "a table: one [[positions]] entry");
    if (tables.empty()) {
        const toml::node* node = root.find("positions");
        root.context().fail(node != nullptr ? node->source() : root.source(), "positions",
                            node != nullptr ? "no positions defined" : "missing required table",
                            "at least one [[positions]] table");
    }
    std::vector<PositionSource> sources;
    for (const TableReader& table : tables) {
        scenario.positions.push_back(read_position(table, scenario.assets));
        sources.push_back({table.path(), table.source()});
    }
    const Context& context = root.context();
    check_tier_limits(context, scenario, sources);
    check_margins_fundable(context, scenario, sources);
    check_start_not_liquidated(context, scenario, sources);
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        if (const auto overflow = notional_overflow(scenario, j))
            context.fail(sources[j].region, sources[j].key, overflow->message, overflow->expected);
    }
}

Scenario build_scenario(const toml::table& document, std::string_view source_name,
                        const LoadOptions& options) {
    Context context{std::string(source_name)};
    const TableReader root(context, document, "");
    root.allow_only({"simulation", "account", "liquidation", "assets", "correlation", "positions",
                     "jumps", "regime"});

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
    read_positions(root, scenario);
    scenario.warnings = context.take_warnings();
    return scenario;
}

}  // namespace

std::optional<std::string> find_overflow(const Scenario& scenario) {
    for (std::size_t i = 0; i < scenario.assets.size(); ++i) {
        if (const auto o = price_overflow(scenario, i))
            return fmt::format("assets[{}].{}: {} (expected {})", i, o->key, o->message, o->expected);
    }
    for (std::size_t j = 0; j < scenario.positions.size(); ++j) {
        if (const auto o = notional_overflow(scenario, j))
            return fmt::format("positions[{}]: {} (expected {})", j, o->message, o->expected);
    }
    return std::nullopt;
}

Scenario parse_scenario(std::string_view toml_text, std::string_view source_name,
                        const LoadOptions& options) {
    const toml::table document = parse_toml(toml_text, std::string(source_name));
    return build_scenario(document, source_name, options);
}

Scenario load_scenario(const std::filesystem::path& path, const LoadOptions& options) {
    const std::string name = path.string();
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw InputError(name, 0, 0, "", "scenario file not found",
                         "a path to a readable TOML scenario file");
    }
    if (std::filesystem::is_directory(path, ec)) {
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
