#pragma once
// The names of a sweep's parameter in the words each rendering uses, and how an
// importance-sampled sweep drew its paths (private to src/render).

#include <string>

#include "marginsim/sweep.hpp"

namespace marginsim::detail {

struct SweepParameterNames {
    std::string words;       // in a sentence: "correlation", "blend weight"
    std::string label;       // heading of the text table: "correlation of every pair"
    std::string axis_label;  // under a chart's x axis, with what the value multiplies
};

SweepParameterNames sweep_parameter_names(const SweepSpec& spec);

// A value as the reports show it: the word of a parameter whose values are words (monitoring),
// else the number formatted by `number` ("{:g}", "{:.6g}").
std::string sweep_value_text(const SweepSpec& spec, double value, std::string_view number = "{:g}");

// Importance-sampled: the sentence the text and HTML print (the range of the values' effective
// paths); the caller checks that the first point's simulation has `importance`.
std::string sweep_importance_sentence(const SweepResult& sweep);
// The modes that start liquidated and at which values (docs/model.md#books-that-start-liquidated);
// empty when none does.
std::string sweep_start_liquidation_sentence(const SweepResult& sweep);

}  // namespace marginsim::detail
