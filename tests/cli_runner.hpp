#pragma once
// A fresh temporary directory and the built marginsim program run in it: for the tests of
// the program end to end and of commands that write files (batch, HTML reports).

#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace marginsim::testing {

namespace fs = std::filesystem;

struct CliResult {
    int code = -1;
    std::string out;
    std::string err;
};

inline std::string read_all(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Single-quoted for the shell (paths here hold no quotes).
inline std::string shell_quoted(const fs::path& path) {
    std::string text(1, '\'');
    text += path.string();
    text += '\'';
    return text;
}

// Runs a shell command (already quoted where needed) with its stdout and stderr sent to the
// files `out` and `err`, read back into the result.
inline CliResult run_shell(const std::string& command, const fs::path& out, const fs::path& err) {
    const std::string redirected = command + " >" + shell_quoted(out) + " 2>" + shell_quoted(err);
    const int status = std::system(redirected.c_str());
    CliResult result;
    result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = read_all(out);
    result.err = read_all(err);
    return result;
}

class TempDir {
public:
    explicit TempDir(const std::string& prefix) {
        std::string pattern = (fs::temp_directory_path() / (prefix + "_XXXXXX")).string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a directory " + pattern);
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }
    fs::path write(const std::string& name, const std::string& text) const {
        fs::create_directories((path_ / name).parent_path());
        std::ofstream(path_ / name, std::ios::binary) << text;
        return path_ / name;
    }
    // Runs the program with `arguments` (already shell-quoted where needed).
    CliResult run(const std::string& arguments) const {
        return run_shell(shell_quoted(MARGINSIM_CLI) + " " + arguments, path_ / "stdout", path_ / "stderr");
    }

private:
    fs::path path_;
};

// A small scenario: two assets, a long and a short, quick to run.
inline std::string small_scenario(double volatility, std::uint64_t paths = 2000, double balance = 3000.0) {
    std::ostringstream text;
    text << "[simulation]\npaths = " << paths
         << "\nhorizon_days = 2.0\nsteps_per_day = 24\nseed = 5\n\n"
            "[account]\nbalance = "
         << balance
         << "\n\n"
            "[[assets]]\nsymbol = \"AAA\"\nprice = 100.0\nvolatility = "
         << volatility
         << "\nmaintenance_margin_rate = 0.005\n\n"
            "[[assets]]\nsymbol = \"BBB\"\nprice = 20.0\nvolatility = 0.9\n"
            "maintenance_margin_rate = 0.01\n\n"
            "[correlation]\nmatrix = [[1.0, 0.7], [0.7, 1.0]]\n\n"
            "[[positions]]\nsymbol = \"AAA\"\nside = \"long\"\nmargin = 1000.0\nleverage = 10.0\n"
            "mode = \"cross\"\n\n"
            "[[positions]]\nsymbol = \"BBB\"\nside = \"short\"\nmargin = 1000.0\nleverage = 8.0\n"
            "mode = \"isolated\"\n";
    return text.str();
}

// Fields of one CSV line, with RFC 4180 quotes.
inline std::vector<std::string> csv_fields(const std::string& line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
            fields.back() += '"';
            ++i;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (c == ',' && !quoted) {
            fields.emplace_back();
        } else {
            fields.back() += c;
        }
    }
    return fields;
}

inline std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::size_t begin = 0;
    while (begin < text.size()) {
        const std::size_t end = text.find('\n', begin);
        rows.push_back(csv_fields(text.substr(begin, end - begin)));
        if (end == std::string::npos) break;
        begin = end + 1;
    }
    return rows;
}

// The rows of a report CSV (section,mode,key,value) whose value is not the number of the same
// report's JSON: the liquidation probabilities and intervals, the loss moments and quantiles,
// the positions and the account. Returns the differences, and counts the rows compared.
inline std::vector<std::string> report_csv_mismatches(const std::string& csv, const nlohmann::json& report,
                                                      std::size_t& compared) {
    std::vector<std::string> mismatches;
    compared = 0;
    const auto rows = csv_rows(csv);
    if (rows.empty() || rows[0] != std::vector<std::string>{"section", "mode", "key", "value"})
        return {"not a report CSV"};
    for (std::size_t r = 1; r < rows.size(); ++r) {
        const std::vector<std::string>& row = rows[r];
        if (row.size() != 4) {
            mismatches.push_back("row " + std::to_string(r) + " has " + std::to_string(row.size()) + " fields");
            continue;
        }
        const std::string& section = row[0];
        const std::string& key = row[2];
        const nlohmann::json* expected = nullptr;
        if (section == "account" && report.at("account").at(key).is_number()) {
            expected = &report.at("account").at(key);
        } else if (section == "liquidation_probability") {
            const nlohmann::json& p = report.at("modes").at(row[1]).at("liquidation_probability");
            expected = key == "estimate" ? &p.at("estimate") : &p.at("ci95").at(key == "ci95_lo" ? 0 : 1);
        } else if (section == "loss") {
            const nlohmann::json& loss = report.at("modes").at(row[1]).at("loss");
            const std::size_t cut = key.find('_');
            expected = cut == std::string::npos ? &loss.at(key) : &loss.at(key.substr(0, cut)).at(key.substr(cut + 1));
        } else if (section == "position") {
            // "INDEX SYMBOL SIDE MODE FIELD"
            const std::size_t index = std::stoul(key);
            const std::string field = key.substr(key.rfind(' ') + 1);
            const nlohmann::json& position = report.at("modes").at(row[1]).at("positions").at(index);
            if (position.at(field).is_number()) expected = &position.at(field);
        }
        if (expected == nullptr) continue;
        ++compared;
        if (std::stod(row[3]) != expected->get<double>())
            mismatches.push_back(section + "," + row[1] + "," + key + ": " + row[3] + " vs JSON " + expected->dump());
    }
    return mismatches;
}

}  // namespace marginsim::testing
