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
        const std::string command = shell_quoted(MARGINSIM_CLI) + " " + arguments + " >" +
                                    shell_quoted(path_ / "stdout") + " 2>" +
                                    shell_quoted(path_ / "stderr");
        const int status = std::system(command.c_str());
        CliResult result;
        result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        result.out = read_all(path_ / "stdout");
        result.err = read_all(path_ / "stderr");
        return result;
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

}  // namespace marginsim::testing
