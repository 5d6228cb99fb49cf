#pragma once
// One path for every command's outputs: checked before any work (stdout taken at most once, no
// output over an input, the checkpoint or another output, every path usable), then written to
// files through write_file_atomically or to stdout, every write checked.

#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"

namespace marginsim::cli {

// A path given on the command line and the option (or argument) that gave it.
struct NamedPath {
    std::string option;  // "--json", "FILE", "the checkpoint (default FILE.checkpoint)"
    std::string path;
};

class OutputPlan {
public:
    // Throws UsageError for two outputs on stdout, an output that is an input, the checkpoint
    // or another output, or a path that cannot be written. Empty output paths are not given.
    // `format_on_stdout`: an explicit --format, an output on stdout itself.
    OutputPlan(std::vector<NamedPath> outputs, const std::vector<NamedPath>& inputs,
               std::optional<NamedPath> checkpoint = std::nullopt, bool format_on_stdout = false);

    bool given(std::string_view option) const;
    // An output goes to stdout: the command prints nothing else there.
    bool stdout_taken() const { return stdout_taken_; }
    // Writes the output of `option`, if given, to its file or to stdout.
    void write(std::string_view option, const std::string& content) const;

private:
    std::vector<NamedPath> outputs_;
    bool stdout_taken_ = false;
};

// Throws UsageError when `output` (a file, not "-") cannot be written.
void check_usable(const NamedPath& output);

// Writes to stdout and flushes; throws std::runtime_error when the write fails.
void write_stdout(std::string_view content);

// The reports of run, sweep and liq: --json, --csv, --html and the stdout rendering in
// `--format` (a missing renderer: the command has no such output). All are rendered before
// anything is written, so a rendering failure leaves no partial output.
struct Renderers {
    std::function<std::string()> json;
    std::function<std::string()> csv;
    std::function<std::string()> html;
    std::function<std::string()> text;
};
void write_reports(const OutputArguments& arguments, const OutputPlan& plan, const Renderers& render);

// The JSON (to_json) and the text (write_text) of a report, a sweep or a liquidation panel.
template <class Value>
Renderers json_and_text(const Value& value) {
    Renderers render;
    render.json = [&value] { return to_json(value); };
    render.text = [&value] {
        std::ostringstream text;
        write_text(text, value);
        return text.str();
    };
    return render;
}

// The output paths of run, sweep and liq, as NamedPaths.
std::vector<NamedPath> output_paths(const OutputArguments& arguments);
// An explicit --format: it prints on stdout.
bool format_given(const OutputArguments& arguments);

}  // namespace marginsim::cli
