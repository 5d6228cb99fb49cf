// Malformed scenarios (docs/scenario-format.md): the exact message, with file, line, column,
// key and expectation, that each kind of bad input gives. The cases, edits of the small valid
// scenario `base`, are in tests/scenarios/malformed_edits.txt.

#include "marginsim/error.hpp"
#include "marginsim/scenario.hpp"
#include "scenario_text.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace marginsim;
using namespace marginsim::testing;

namespace {

struct Case {
    std::vector<Edit> edits;
    std::string message;
    std::size_t line = 0;  // of its "=" line in the case file
};

// "\n" stands for a line break and "\\" for a backslash.
std::string unescaped(const std::string& text) {
    std::string plain;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size()) {
            ++i;
            REQUIRE((text[i] == 'n' || text[i] == '\\'));
            plain += text[i] == 'n' ? '\n' : '\\';
        } else {
            plain += text[i];
        }
    }
    return plain;
}

// Cases of "- FROM", "+ TO" pairs closed by "= MESSAGE" (the format is described in the file).
std::vector<Case> read_cases(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::vector<Case> cases;
    Case next;
    bool from_given = false;  // a "-" line waits for its "+"
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        INFO(path << ":" << number << ": " << line);
        if (line.empty() || line[0] == '#') continue;
        REQUIRE((line.size() == 1 || line[1] == ' '));
        const std::string value = unescaped(line.size() > 2 ? line.substr(2) : "");
        if (line[0] == '-') {
            REQUIRE_FALSE(from_given);
            next.edits.push_back(Edit{value, ""});
            from_given = true;
        } else if (line[0] == '+') {
            REQUIRE(from_given);
            next.edits.back().to = value;
            from_given = false;
        } else {
            REQUIRE(line[0] == '=');
            REQUIRE_FALSE(from_given);
            REQUIRE_FALSE(next.edits.empty());
            REQUIRE_FALSE(value.empty());
            next.message = value;
            next.line = number;
            cases.push_back(std::move(next));
            next = Case{};
        }
    }
    REQUIRE(next.edits.empty());  // no case left without its message
    return cases;
}

}  // namespace

TEST_CASE("malformed scenarios are rejected with a precise message", "[scenario]") {
    const std::vector<Case> cases = read_cases(scenario_dir + "malformed_edits.txt");
    REQUIRE(cases.size() == 70);
    for (const Case& c : cases) {
        const std::string text = edited(base, c.edits);
        INFO("malformed_edits.txt:" << c.line << "\n" << text);
        CHECK(error_of(text) == c.message);
    }
}

TEST_CASE("an error carries file and line and column and key and expectation", "[scenario]") {
    try {
        parse_scenario(edited(base, {{"leverage = 10", "leverage = 0.5"}}), "case.toml");
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.file() == "case.toml");
        CHECK(error.line() == 19);
        CHECK(error.column() == 12);
        CHECK(error.key() == "positions[0].leverage");
        CHECK(error.message() == "out of range: found 0.5");
        CHECK(error.expected() == "a leverage >= 1");
    }
}

TEST_CASE("a missing file is reported with line 0", "[scenario]") {
    const std::string path = scenario_dir + "no_such_file.toml";
    try {
        load_scenario(path);
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.line() == 0);
        CHECK(std::string(error.what()) ==
              path + ": scenario file not found (expected a path to a readable TOML scenario file)");
    }
    try {
        load_scenario(scenario_dir);
        FAIL("no error");
    } catch (const InputError& error) {
        CHECK(error.message() == "is a directory, not a scenario file");
    }
}
