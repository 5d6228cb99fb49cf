#include "outputs.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include "marginsim/output.hpp"

namespace marginsim::cli {
namespace {

constexpr std::string_view stdout_path = "-";

std::string quoted(const NamedPath& named) { return fmt::format("{} '{}'", named.option, named.path); }

void check_stdout_once(const std::vector<NamedPath>& outputs, bool format_on_stdout) {
    const NamedPath* first = nullptr;
    for (const NamedPath& output : outputs) {
        if (output.path != stdout_path) continue;
        if (format_on_stdout) {
            throw UsageError(fmt::format("{} '-' and --format both print on stdout: give one of them", output.option));
        }
        if (first != nullptr) {
            throw UsageError(fmt::format("{} and {} both name stdout ('-'): at most one output may go there",
                                         first->option, output.option));
        }
        first = &output;
    }
}

// A character device (/dev/null, a terminal) written twice loses nothing: it may be shared.
void check_distinct(const NamedPath& output, const NamedPath& other, std::string_view what) {
    if (output.path == stdout_path || other.path == stdout_path) return;
    std::error_code error;
    if (std::filesystem::is_character_file(output.path, error)) return;
    if (same_file(output.path, other.path)) {
        throw UsageError(fmt::format("{} is the same file as {}: {}", quoted(output), quoted(other), what));
    }
}

}  // namespace

OutputPlan::OutputPlan(std::vector<NamedPath> outputs, const std::vector<NamedPath>& inputs,
                       std::optional<NamedPath> checkpoint, bool format_on_stdout)
    : outputs_(std::move(outputs)) {
    std::erase_if(outputs_, [](const NamedPath& output) { return output.path.empty(); });
    check_stdout_once(outputs_, format_on_stdout);
    if (checkpoint && checkpoint->path == stdout_path) {
        throw UsageError(fmt::format("{} cannot be stdout ('-'): name a file", checkpoint->option));
    }
    for (const NamedPath& input : inputs) {
        if (input.path.empty()) continue;
        if (checkpoint) check_distinct(*checkpoint, input, "the checkpoint would overwrite an input");
        for (const NamedPath& output : outputs_) check_distinct(output, input, "an output would overwrite an input");
    }
    for (std::size_t i = 0; i < outputs_.size(); ++i) {
        if (checkpoint) check_distinct(outputs_[i], *checkpoint, "an output would overwrite the checkpoint");
        for (std::size_t j = 0; j < i; ++j) check_distinct(outputs_[i], outputs_[j], "two outputs would overwrite each other");
    }
    for (const NamedPath& output : outputs_) check_usable(output);
    for (const NamedPath& output : outputs_) stdout_taken_ = stdout_taken_ || output.path == stdout_path;
}

void check_usable(const NamedPath& output) {
    if (output.path == stdout_path) return;
    if (const std::optional<std::string> problem = output_problem(output.path)) {
        throw UsageError(fmt::format("{} cannot be written: {}", quoted(output), *problem));
    }
}

bool OutputPlan::given(std::string_view option) const {
    for (const NamedPath& output : outputs_) {
        if (output.option == option) return true;
    }
    return false;
}

void OutputPlan::write(std::string_view option, const std::string& content) const {
    for (const NamedPath& output : outputs_) {
        if (output.option != option) continue;
        if (output.path == stdout_path) {
            write_stdout(content);
        } else {
            write_file_atomically(output.path, content);
        }
    }
}

void write_stdout(std::string_view content) {
    errno = 0;
    std::cout << content;
    std::cout.flush();
    if (!std::cout) {
        throw std::runtime_error(fmt::format("cannot write to stdout: {}",
                                             errno != 0 ? std::strerror(errno) : "write failed"));
    }
}

std::vector<NamedPath> output_paths(const OutputArguments& arguments) {
    return {{"--json", arguments.json}, {"--csv", arguments.csv}, {"--html", arguments.html}};
}

bool format_given(const OutputArguments& arguments) {
    return arguments.format_option != nullptr && arguments.format_option->count() > 0;
}

void write_reports(const OutputArguments& arguments, const OutputPlan& plan, const Renderers& render) {
    const auto rendered = [&plan](std::string_view option, const std::function<std::string()>& renderer) {
        return renderer && plan.given(option) ? std::optional(renderer()) : std::nullopt;
    };
    const std::optional<std::string> json = rendered("--json", render.json);
    const std::optional<std::string> csv = rendered("--csv", render.csv);
    const std::optional<std::string> html = rendered("--html", render.html);
    std::optional<std::string> shown;
    if (!arguments.quiet && !plan.stdout_taken()) {
        if (arguments.format == "json") {
            shown = json ? *json : render.json();
        } else if (arguments.format == "csv") {
            shown = csv ? *csv : render.csv();
        } else {
            shown = render.text();
        }
    }
    // The files first: a stdout that fails (a full disk, a closed pipe) does not cost them.
    if (json) plan.write("--json", *json);
    if (csv) plan.write("--csv", *csv);
    if (html) plan.write("--html", *html);
    if (shown) write_stdout(*shown);
}

}  // namespace marginsim::cli
