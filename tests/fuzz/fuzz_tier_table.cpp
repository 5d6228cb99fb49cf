// libFuzzer target: a tier table file, read through a scenario that refers to it.
// The bytes become the file fuzz/TIERS.toml of a private tiers directory; a fixed scenario with
// `tiers = "fuzz/TIERS"` and positions across several notionals is loaded against it. Every
// input must load or be refused with an InputError; a scenario that loads must satisfy the
// invariants the engine trusts (scenario_invariants.hpp, the tier table's included). Anything
// else aborts and is a finding. Build and run: see tests/fuzz/README.md.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include <unistd.h>

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "scenario_invariants.hpp"

namespace {

// Notionals 500, 20,000 and 250,000: the first tier of any table, and usually later ones.
constexpr std::string_view scenario_text = R"(
[simulation]
paths = 1000
horizon_days = 1.0
steps_per_day = 4
seed = 1

[account]
balance = 100000.0

[[assets]]
symbol = "X"
price = 100.0
volatility = 0.5
tiers = "fuzz/TIERS"

[[positions]]
symbol = "X"
side = "long"
margin = 500.0
leverage = 1.0
mode = "isolated"

[[positions]]
symbol = "X"
side = "short"
margin = 2000.0
leverage = 10.0
mode = "cross"

[[positions]]
symbol = "X"
side = "long"
margin = 50000.0
leverage = 5.0
mode = "cross"
)";

std::filesystem::path make_tiers_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "marginsim-fuzz-tiers-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        std::perror("mkdtemp");
        std::abort();
    }
    const std::filesystem::path dir(pattern);
    std::filesystem::create_directory(dir / "fuzz");
    return dir;
}

struct TiersDir {
    std::filesystem::path path = make_tiers_dir();
    ~TiersDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const TiersDir dir;
    {
        std::ofstream file(dir.path / "fuzz" / "TIERS.toml", std::ios::binary | std::ios::trunc);
        file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        if (!file.flush()) {
            std::fprintf(stderr, "cannot write the tier table file\n");
            std::abort();
        }
    }
    const marginsim::LoadOptions options{dir.path};
    marginsim::testing::check_parse(scenario_text, options, "tier table");
    return 0;
}
