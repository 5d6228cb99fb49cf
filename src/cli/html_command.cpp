// `marginsim html run|sweep ... --out PATH`: a command group whose subcommands render HTML
// reports. Each is the command of the same name, registered by its own add_*_command with all
// its options, plus --out PATH for its --html; `marginsim html` alone lists them.

#include <iostream>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"

namespace marginsim::cli {
namespace {

// What the group renders, one line each in the listing and the subcommands' help.
struct Rendered {
    const char* name;
    const char* synopsis;
    const char* what;
};
constexpr Rendered rendered[] = {
    {"run", "FILE [OPTIONS] --out OUT.html", "the report of one run, with its charts (the options of marginsim run)"},
    {"sweep", "FILE --PARAMETER VALUES [OPTIONS] --out OUT.html",
     "the curves of a sweep and the scenario as configured (the options of marginsim sweep)"},
};

// --out PATH: the command's --html under the name the group uses (one or the other).
void add_out_option(CLI::App& command, std::string& html, const Rendered& kind) {
    command.description(fmt::format("marginsim html {} {}: {}", kind.name, kind.synopsis, kind.what));
    command.add_option("--out", html, "Write the HTML report to PATH (the command's --html)")
        ->type_name("PATH")
        ->check(nonempty_path())
        ->required()
        ->excludes(command.get_option("--html"));
}

}  // namespace

CLI::App* add_html_command(CLI::App& app, HtmlArguments& arguments) {
    CLI::App* html = app.add_subcommand(
        "html", "Render a self-contained HTML report: html run, html sweep (alone: the list of what it renders)");
    html->require_subcommand(0, 1);
    CLI::App* run = add_run_command(*html, arguments.run);
    add_out_option(*run, arguments.run.outputs.html, rendered[0]);
    CLI::App* sweep = add_sweep_command(*html, arguments.sweep);
    add_out_option(*sweep, arguments.sweep.outputs.html, rendered[1]);
    arguments.html = html;
    arguments.run_command = run;
    arguments.sweep_command = sweep;
    return html;
}

int html_command(const HtmlArguments& arguments) {
    if (arguments.run_command->parsed()) return run_command(arguments.run);
    if (arguments.sweep_command->parsed()) return sweep_command(arguments.sweep);
    for (const Rendered& kind : rendered)
        std::cout << fmt::format("marginsim html {} {}: {}\n", kind.name, kind.synopsis, kind.what);
    return exit_ok;
}

}  // namespace marginsim::cli
