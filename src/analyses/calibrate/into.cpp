// `calibrate --into SCENARIO`: the calibrated market spliced into a book's text. toml++ gives
// the lines of each table and value; whole lines are replaced, inserted or removed, so the
// comments and layout of everything else stay byte for byte.

#include "marginsim/calibrate_into.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <regex>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include "marginsim/error.hpp"

namespace marginsim {

namespace {

// The text as lines, each with its line break ("" for a last line without one).
struct Lines {
    std::vector<std::string> text;

    explicit Lines(std::string_view whole) {
        std::size_t at = 0;
        while (at < whole.size()) {
            const std::size_t end = whole.find('\n', at);
            const std::size_t next = end == std::string_view::npos ? whole.size() : end + 1;
            text.emplace_back(whole.substr(at, next - at));
            at = next;
        }
    }
    std::string joined() const {
        std::string out;
        for (const std::string& line : text) out += line;
        return out;
    }
};

// A change of lines [first, last) (0-based) into `replacement`; first == last inserts.
struct Splice {
    std::size_t first;
    std::size_t last;
    std::string replacement;
};

std::string apply(const Lines& lines, std::vector<Splice> splices) {
    std::sort(splices.begin(), splices.end(), [](const Splice& a, const Splice& b) {
        return a.first != b.first ? a.first < b.first : a.last < b.last;
    });
    std::string out;
    std::size_t at = 0;
    for (const Splice& s : splices) {
        for (; at < s.first; ++at) out += lines.text[at];
        out += s.replacement;
        at = std::max(at, s.last);
    }
    for (; at < lines.text.size(); ++at) out += lines.text[at];
    return out;
}

toml::table parse(std::string_view text, const std::string& source) {
    try {
        return toml::parse(text, source);
    } catch (const toml::parse_error& error) {
        throw InputError(source, error.source().begin.line, error.source().begin.column, "",
                         std::string(error.description()), "a scenario file (TOML)");
    }
}

std::size_t line_of(const toml::node& node) { return static_cast<std::size_t>(node.source().begin.line) - 1; }

// The last line (0-based) of a table: of its last value, in its subtables too.
std::size_t last_line(const toml::node& node) {
    std::size_t last = static_cast<std::size_t>(std::max(node.source().end.line, node.source().begin.line)) - 1;
    if (const toml::table* table = node.as_table()) {
        for (const auto& [key, child] : *table) last = std::max(last, last_line(child));
    } else if (const toml::array* array = node.as_array()) {
        for (const toml::node& child : *array) last = std::max(last, last_line(child));
    }
    return last;
}

// Lines [header, last value] of a top-level table, when the file has it as a [header] table;
// with `own_only`, without its [name.sub] sections (their values stay where they are). Throws
// when another table's lines lie among them: [regime.stress] after the [[positions]], say.
std::optional<std::pair<std::size_t, std::size_t>> table_lines(const toml::table& root, std::string_view name,
                                                               const std::string& source, bool own_only = false) {
    const toml::table* table = root[name].as_table();
    if (table == nullptr) return std::nullopt;
    const std::size_t first = line_of(*table);
    std::size_t last = first;
    for (const auto& [key, child] : *table) {
        const toml::table* sub = child.as_table();
        if (own_only && sub != nullptr && !sub->is_inline()) continue;
        last = std::max(last, last_line(child));
    }
    for (const auto& [key, other] : root) {
        if (key.str() == name) continue;
        std::vector<const toml::node*> parts{&other};
        if (const toml::array* array = other.as_array(); array != nullptr && array->is_array_of_tables()) {
            parts.clear();
            for (const toml::node& element : *array) parts.push_back(&element);
        }
        for (const toml::node* part : parts) {
            const std::size_t line = line_of(*part);
            if (line <= first || line > last) continue;
            throw InputError(source, static_cast<int>(line + 1), 0, std::string(name),
                             fmt::format("cannot be updated in place: [{}] and its subtables are apart, with {} "
                                         "between them",
                                         name, key.str()),
                             fmt::format("[{}] and its [{}.*] subtables together, one after the other", name, name));
        }
    }
    return std::pair{first, last + 1};
}

// The lines of an inline `idiosyncratic = { ... }` of [jumps] that lie within `range` (the lines
// the calibrated [jumps] replaces): not calibrated, they go on after it as they were written.
std::string inline_idiosyncratic(const toml::table& root, const Lines& lines,
                                 std::pair<std::size_t, std::size_t> range) {
    const toml::node* idiosyncratic = root["jumps"]["idiosyncratic"].node();
    const toml::table* table = idiosyncratic != nullptr ? idiosyncratic->as_table() : nullptr;
    if (table == nullptr || !table->is_inline()) return {};
    const std::size_t first = line_of(*idiosyncratic), last = last_line(*idiosyncratic);
    if (first < range.first || last >= range.second) return {};
    std::string out;
    for (std::size_t line = first; line <= last; ++line) out += lines.text[line];
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out;
}

[[noreturn]] void cannot_splice(const std::string& source, std::size_t line, std::string_view key) {
    throw InputError(source, static_cast<int>(line + 1), 0, std::string(key),
                     "cannot be updated in place: not a `key = value` line of its own",
                     fmt::format("`{} = ...` on a line of its own", key));
}

// The line of `key = value` in `table`, with the value replaced by `value` (a trailing
// comment kept).
Splice replace_value(const Lines& lines, const toml::table& table, std::string_view key, const std::string& value,
                     const std::string& source) {
    const std::size_t line = line_of(*table.get(key));
    const std::string& text = lines.text[line];
    const std::string body = text.substr(0, text.find_last_not_of("\r\n") + 1);
    const std::regex pattern("^(\\s*" + std::string(key) + "\\s*=\\s*)(\"[^\"]*\"|'[^']*'|[^\\s#]+)(.*)$");
    std::smatch match;
    if (!std::regex_match(body, match, pattern)) cannot_splice(source, line, key);
    return {line, line + 1, std::string(match[1]) + value + std::string(match[3]) + text.substr(body.size())};
}

std::string fixed(double value, int decimals) { return fmt::format("{:.{}f}", value, decimals); }

// The volatility the snippet gives asset i under the calibration's model.
double calibrated_volatility(const Calibration& c, CalibratedModel model, std::size_t i) {
    if (model == CalibratedModel::regime && c.regimes) return c.regimes->volatility[0][i].value;
    if (model == CalibratedModel::garch) return std::sqrt(365.0 * c.garch[i].start_variance);
    if (model == CalibratedModel::jump) return c.jumps.diffusion_volatility[i];
    if (model == CalibratedModel::fhs && c.fhs) return std::sqrt(365.0 * c.fhs->start_variance[i]);
    return c.volatility[i].value;
}

// The Student-t dof the model uses, rounded as the snippet writes it; none when the fit found
// no fat tails (or the model has no dof).
std::optional<double> calibrated_dof(const Calibration& c, CalibratedModel model) {
    if (model != CalibratedModel::student_t && model != CalibratedModel::garch) return std::nullopt;
    const std::optional<DofEstimate>& dof = model == CalibratedModel::garch ? c.garch_dof : c.dof;
    if (!dof || (dof->at_bound && dof->estimate.value >= max_dof)) return std::nullopt;
    return std::round(dof->estimate.value * 100.0) / 100.0;
}

// The model tables' text (model_tables_toml) by top-level table ("regime" holds [regime.stress]
// too; fhs under its garch filter is [fhs] and [garch]), each without the comment lines that
// lead into the next one, as the first has none.
std::map<std::string, std::string> top_level_tables(std::string_view text) {
    std::map<std::string, std::vector<std::string>> lines;
    std::string name;
    for (const std::string& line : Lines(text).text) {
        if (line.starts_with('[')) name = line.substr(1, line.find_first_of(".]") - 1);
        lines[name].push_back(line);
    }
    std::map<std::string, std::string> out;
    for (auto& [table, body] : lines) {
        while (!body.empty() && (body.back().starts_with('#') || body.back().find_first_not_of(" \r\n") == std::string::npos))
            body.pop_back();
        for (const std::string& line : body) out[table] += line;
    }
    return out;
}

std::string symbol_of(const toml::node& asset) { return asset.as_table() ? (*asset.as_table())["symbol"].value_or(std::string()) : std::string(); }

}  // namespace

std::optional<CalibratedModel> book_model(std::string_view scenario_text) {
    try {
        const toml::table root = toml::parse(scenario_text);
        return calibrated_model_from(root["simulation"]["model"].value_or(std::string("gaussian")));
    } catch (const toml::parse_error&) {
        return std::nullopt;
    }
}

FhsFilter book_fhs_filter(std::string_view scenario_text) {
    try {
        const std::string name = toml::parse(scenario_text)["fhs"]["filter"].value_or(std::string("ewma"));
        for (const FhsFilter filter : calibrated_fhs_filters)
            if (name == to_string(filter)) return filter;
    } catch (const toml::parse_error&) {
    }
    return FhsFilter::ewma;
}

BookPriceFiles book_price_files(std::string_view scenario_text, const std::string& scenario_source,
                                const std::vector<std::filesystem::path>& files,
                                const std::vector<std::string>& symbols) {
    const toml::table root = parse(scenario_text, scenario_source);
    std::vector<std::string> file_symbols;
    for (std::size_t k = 0; k < files.size(); ++k) {
        file_symbols.push_back(symbols.empty() ? read_price_csv(files[k]).symbol : symbols[k]);
    }
    BookPriceFiles out;
    std::vector<bool> used(files.size(), false);
    if (const toml::array* assets = root["assets"].as_array()) {
        for (const toml::node& asset : *assets) {
            const std::string symbol = symbol_of(asset);
            const auto found = std::find(file_symbols.begin(), file_symbols.end(), symbol);
            if (found == file_symbols.end()) {
                throw InputError(scenario_source, static_cast<int>(line_of(asset) + 1), 0, "assets.symbol",
                                 fmt::format("asset {} has no price file among the {} given (their symbols: {})",
                                             symbol, files.size(), fmt::join(file_symbols, ", ")),
                                 "a price file for every asset of the book (--symbols names them)");
            }
            const auto k = static_cast<std::size_t>(found - file_symbols.begin());
            used[k] = true;
            out.files.push_back(files[k]);
            out.symbols.push_back(symbol);
        }
    }
    for (std::size_t k = 0; k < files.size(); ++k) {
        if (!used[k]) out.ignored.push_back(fmt::format("{} ({})", file_symbols[k], files[k].string()));
    }
    return out;
}

CalibratedInto calibrate_into(std::string_view scenario_text, const std::string& scenario_source,
                              const Calibration& calibration, const LoadOptions& load) {
    const toml::table root = parse(scenario_text, scenario_source);
    const Lines lines(scenario_text);
    std::vector<Splice> splices;
    CalibratedInto result;
    const CalibratedModel model =
        calibration.model ? *calibration.model : book_model(scenario_text).value_or(CalibratedModel::gaussian);

    // [[assets]] volatility, in the book's order (the calibration's).
    const toml::array* assets = root["assets"].as_array();
    for (std::size_t i = 0; assets != nullptr && i < assets->size(); ++i) {
        const toml::table& asset = *assets->get(i)->as_table();
        const double after = std::stod(fixed(calibrated_volatility(calibration, model, i), 4));
        result.volatility.push_back({symbol_of(asset), asset["volatility"].value_or(0.0), after});
        if (asset.contains("volatility")) {
            splices.push_back(replace_value(lines, asset, "volatility", fixed(after, 4), scenario_source));
        } else {
            const std::size_t line = line_of(*asset.get("symbol"));
            splices.push_back({line + 1, line + 1, fmt::format("volatility = {}\n", fixed(after, 4))});
        }
    }

    // [simulation] model and dof.
    const toml::table* simulation = root["simulation"].as_table();
    result.model_before = root["simulation"]["model"].value_or(std::string("gaussian"));
    result.model_after = std::string(to_string(model));
    const std::string model_value = fmt::format("\"{}\"", result.model_after);
    // Under another model the book's jumps are not calibrated: kept as they are, on top of the
    // calibrated diffusion (model = "jump", the gaussian with jumps, becomes the new model with
    // jumps = true).
    const bool jump_model = model == CalibratedModel::jump;
    const bool legacy_jump = result.model_before == "jump" && !jump_model;
    result.kept_jumps = !jump_model && (legacy_jump || root["simulation"]["jumps"].value_or(false));
    const std::optional<double> dof = calibrated_dof(calibration, model);
    if (model == CalibratedModel::student_t && !dof) {
        throw InputError(scenario_source, 0, 0, "--model",
                         "the Student-t fit found no fat tails (or a singular correlation): no dof to set",
                         "--model gaussian, or a history with fat tails");
    }
    std::string appended;  // tables the file does not have yet, at its end
    if (simulation == nullptr) {
        appended += fmt::format("\n[simulation]\nmodel = {}\n", model_value);
        if (dof) appended += fmt::format("dof = {}\n", fixed(*dof, 2));
    } else {
        const std::size_t header = line_of(*simulation);
        std::string inserted;
        if (simulation->contains("model")) {
            splices.push_back(replace_value(lines, *simulation, "model", model_value, scenario_source));
        } else {
            inserted += fmt::format("model = {}\n", model_value);
        }
        if (dof && simulation->contains("dof")) {
            splices.push_back(replace_value(lines, *simulation, "dof", fixed(*dof, 2), scenario_source));
        } else if (dof) {
            inserted += fmt::format("dof = {}\n", fixed(*dof, 2));
        } else if (simulation->contains("dof")) {
            const std::size_t line = line_of(*simulation->get("dof"));
            if (line == header) cannot_splice(scenario_source, line, "dof");
            splices.push_back({line, line + 1, ""});
            result.removed.emplace_back("dof");
        }
        if (legacy_jump && !simulation->contains("jumps")) inserted += "jumps = true\n";
        if (!inserted.empty()) splices.push_back({header + 1, header + 1, inserted});
    }

    // [correlation] and the model's tables: replaced where they are, else appended.
    std::map<std::string, std::string> tables;
    tables["correlation"] = calibration.asset_count() >= 2 ? "[correlation]\n" + correlation_matrix_toml(calibration) : "";
    const std::map<std::string, std::string> model_tables = top_level_tables(model_tables_toml(calibration));
    for (const std::string name : {"garch", "regime", "fhs"})
        tables[name] = model_tables.contains(name) ? model_tables.at(name) : "";
    // A [jumps] table is left out with jumps off; the calibrated one keeps the book's
    // [jumps.idiosyncratic.*] (not calibrated: one asset alone).
    if (jump_model) {
        tables["jumps"] = model_tables.contains("jumps") ? model_tables.at("jumps") : "";
    } else if (!result.kept_jumps) {
        tables["jumps"] = "";
    }
    for (const auto& [name, text] : tables) {
        if (const auto where = table_lines(root, name, scenario_source, jump_model && name == "jumps")) {
            const std::string kept = jump_model && name == "jumps" ? inline_idiosyncratic(root, lines, *where) : "";
            splices.push_back({where->first, where->second, text + kept});
            if (text.empty()) result.removed.push_back("[" + name + "]");
        } else if (root.contains(name)) {
            throw InputError(scenario_source, static_cast<int>(line_of(*root.get(name)) + 1), 0, name,
                             "cannot be updated in place: not a [" + name + "] table", "a [" + name + "] table");
        } else if (!text.empty()) {
            appended += "\n" + text;
        }
    }
    // [uncertainty] returns: the new estimates' (the regime model has no one volatility to draw:
    // the table goes).
    if (const toml::table* uncertainty = root["uncertainty"].as_table()) {
        if (model == CalibratedModel::regime) {
            if (const auto where = table_lines(root, "uncertainty", scenario_source, false)) {
                splices.push_back({where->first, where->second, ""});
                result.removed.emplace_back("[uncertainty]");
            }
        } else if (uncertainty->contains("returns")) {
            const double before = (*uncertainty)["returns"].value_or(0.0);
            const double after = std::stod(fixed(calibration.uncertainty_returns, 1));
            splices.push_back(
                replace_value(lines, *uncertainty, "returns", fixed(after, 1), scenario_source));
            result.uncertainty_returns = {{before, after}};
        }
    }
    result.text = apply(lines, splices);
    if (!appended.empty()) {
        // One blank line before the appended tables, however many a removed table left.
        while (result.text.size() >= 2 && result.text.ends_with("\n\n")) result.text.pop_back();
        if (!result.text.empty() && result.text.back() != '\n') result.text += '\n';
        result.text += appended;
    }
    (void)parse_scenario(result.text, scenario_source, load);  // throws what does not load
    return result;
}

std::string into_summary(const CalibratedInto& result, const std::string& scenario_source) {
    std::string out = fmt::format("{} updated:\n", scenario_source);
    for (const VolatilityChange& v : result.volatility) {
        out += fmt::format("  {} volatility {} -> {}\n", v.symbol, fixed(v.before, 4), fixed(v.after, 4));
    }
    out += fmt::format("  model {} -> {}\n", result.model_before, result.model_after);
    if (const auto& returns = result.uncertainty_returns)
        out += fmt::format("  uncertainty returns {:g} -> {:g}\n", returns->first, returns->second);
    for (const std::string& removed : result.removed) out += fmt::format("  removed {}\n", removed);
    if (result.kept_jumps)
        out += "  kept [jumps] as they were (not calibrated; the volatilities above include the days of jumps)\n";
    return out;
}

}  // namespace marginsim
