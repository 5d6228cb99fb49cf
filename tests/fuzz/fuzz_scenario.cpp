// libFuzzer target: the scenario parser and validator on arbitrary bytes.
// Every input must either load or be refused with an InputError; an input that loads must
// satisfy the invariants the engine trusts (scenario_invariants.hpp). Anything else (another
// exception, a sanitizer report, a broken invariant) aborts and is a finding.
// Build and run: see tests/fuzz/README.md.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "scenario_invariants.hpp"

#ifndef MARGINSIM_SOURCE_DIR
#error "MARGINSIM_SOURCE_DIR must be defined by the build"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    // Tier references resolve in the bundled tables, so that seeds using them get past them.
    const marginsim::LoadOptions options{MARGINSIM_SOURCE_DIR "/configs/exchanges"};
    marginsim::testing::check_parse(text, options, "scenario");
    return 0;
}
