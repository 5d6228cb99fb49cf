// The Python module's core, _marginsim (docs/python.md): the library's scenario, run, sweep,
// liq, calibrate and backtest behind a small pybind11 surface. The user-facing API, its
// docstrings and the conversions that are easier in Python (dicts to TOML, JSON to dicts) are
// in marginsim/__init__.py. Every long call releases the GIL and runs on a worker thread while
// this thread polls for signals, so that Ctrl-C (KeyboardInterrupt) stops it promptly.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "marginsim/backtest.hpp"
#include "marginsim/backtest_report.hpp"
#include "marginsim/calibrate.hpp"
#include "marginsim/detailed_run.hpp"
#include "marginsim/error.hpp"
#include "marginsim/liquidation.hpp"
#include "marginsim/replay.hpp"
#include "marginsim/report.hpp"
#include "marginsim/scenario.hpp"
#include "marginsim/simulate.hpp"
#include "marginsim/summary.hpp"
#include "marginsim/sweep.hpp"

namespace py = pybind11;

namespace marginsim::python {
namespace {

// A scenario as the user built it: its text, its name, where its tier tables are looked up and
// the overrides set on it, loaded again (and so checked again) whenever one is added.
class PyScenario {
public:
    PyScenario(std::string text, std::string source, std::string tiers_dir)
        : text_(std::move(text)), source_(std::move(source)), tiers_dir_(std::move(tiers_dir)) {
        reload();
    }

    static PyScenario load(const std::filesystem::path& path, const std::string& tiers_dir) {
        PyScenario out;
        out.source_ = path.string();
        out.tiers_dir_ = tiers_dir;
        out.file_ = path;
        out.reload();
        return out;
    }

    // KEY=VALUE, VALUE as TOML: checked exactly as the command line's --set.
    void set(const std::string& key, const std::string& value) {
        std::vector<ScenarioOverride> before = overrides_;
        overrides_.push_back(parse_override(key + "=" + value));
        try {
            reload();
        } catch (...) {
            overrides_ = std::move(before);  // a refused value leaves the scenario as it was
            throw;
        }
    }

    const Scenario& scenario() const noexcept { return scenario_; }
    const std::string& source() const noexcept { return source_; }
    std::vector<std::string> overrides() const {
        std::vector<std::string> out;
        for (const ScenarioOverride& o : overrides_) out.push_back(o.text());
        return out;
    }

private:
    PyScenario() = default;

    void reload() {
        const LoadOptions options{tiers_dir_, overrides_};
        scenario_ = file_ ? load_scenario(*file_, options) : parse_scenario(text_, source_, options);
    }

    std::string text_;
    std::string source_;
    std::string tiers_dir_;
    std::optional<std::filesystem::path> file_;
    std::vector<ScenarioOverride> overrides_;
    Scenario scenario_;
};

// A run's report (as its JSON text) and every path's loss per mode.
struct PyResult {
    std::string report_json;
    RunWithLosses run;
};

// Thrown from a progress callback once Ctrl-C was seen: unwinds a sweep or a backtest.
struct Stopped {};

// Runs `work` on a worker thread with the GIL released; this thread checks for signals every
// 50 ms. On KeyboardInterrupt (or any exception a signal handler raises) `stop` is set, the work
// is waited for and the Python exception raised.
template <class Work>
auto interruptible(std::atomic<bool>& stop, Work work) -> decltype(work()) {
    auto future = std::async(std::launch::async, std::move(work));
    bool signalled = false;
    {
        py::gil_scoped_release release;
        while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
            py::gil_scoped_acquire acquire;
            if (PyErr_CheckSignals() != 0) {
                signalled = true;
                stop = true;
                break;
            }
        }
        future.wait();
    }
    if (signalled) {
        try {
            future.get();  // its result or exception is dropped: the interrupt is what is raised
        } catch (...) {
        }
        throw py::error_already_set();
    }
    return future.get();
}

RunOptions run_options(std::optional<std::uint64_t> paths, std::optional<std::uint64_t> seed,
                       std::optional<int> threads, const std::optional<std::string>& precision) {
    RunOptions options;
    options.paths = paths;
    options.seed = seed;
    options.threads = threads;
    if (precision) options.precision = parse_precision(*precision);
    return options;
}

PyResult run(const PyScenario& scenario, std::optional<std::uint64_t> paths, std::optional<std::uint64_t> seed,
             std::optional<int> threads, const std::optional<std::string>& precision) {
    const RunOptions options = run_options(paths, seed, threads, precision);
    std::atomic<bool> stop{false};
    RunControl control;
    control.stop = &stop;
    PyResult result;
    result.run = interruptible(stop, [&] { return run_with_losses(scenario.scenario(), options, control); });
    result.report_json = to_json(result.run.report);
    return result;
}

// A mode's losses as a NumPy array over the result's own storage (no copy): it keeps the
// result alive.
py::array_t<double> losses(py::object self, const std::string& mode_name) {
    PyResult& result = self.cast<PyResult&>();
    for (std::size_t m = 0; m < mode_count; ++m) {
        if (to_string(all_modes[m]) == mode_name) {
            std::vector<double>& losses = result.run.losses[m];
            return py::array_t<double>(static_cast<py::ssize_t>(losses.size()), losses.data(), self);
        }
    }
    throw py::value_error("unknown mode '" + mode_name + "': expected isolated, cross or as_configured");
}

std::optional<py::array_t<double>> weights(py::object self) {
    PyResult& result = self.cast<PyResult&>();
    if (result.run.weights.empty()) return std::nullopt;
    std::vector<double>& w = result.run.weights;
    return py::array_t<double>(static_cast<py::ssize_t>(w.size()), w.data(), self);
}

SweepParameter sweep_parameter(const std::string& name) {
    for (const SweepParameter p :
         {SweepParameter::correlation, SweepParameter::correlation_blend, SweepParameter::leverage_scale,
          SweepParameter::volatility_scale, SweepParameter::horizon_days, SweepParameter::steps_per_day,
          SweepParameter::monitoring}) {
        if (to_string(p) == name) return p;
    }
    throw py::value_error("unknown sweep parameter '" + name +
                          "': expected correlation, correlation_blend, leverage_scale, volatility_scale, "
                          "horizon_days, steps_per_day or monitoring");
}

std::string sweep(const PyScenario& scenario, const std::string& parameter, const std::vector<double>& values,
                  std::optional<std::uint64_t> paths, std::optional<std::uint64_t> seed, std::optional<int> threads,
                  const std::optional<std::string>& precision) {
    SweepSpec spec;
    spec.parameter = sweep_parameter(parameter);
    spec.values = values;
    SweepOptions options;
    options.run = run_options(paths, seed, threads, precision);
    std::atomic<bool> stop{false};
    options.stop = &stop;
    return interruptible(stop, [&] { return to_json(run_sweep(scenario.scenario(), spec, options)); });
}

std::string liq(const PyScenario& scenario) { return to_json(liquidation_panel(scenario.scenario())); }

std::pair<std::string, std::string> calibrate(const std::vector<std::filesystem::path>& files,
                                              const std::vector<std::string>& symbols, std::optional<int> window,
                                              const std::string& method, double lambda,
                                              const std::optional<std::string>& model,
                                              const std::optional<std::string>& as_of, const std::string& filter) {
    CalibrationOptions options;
    options.window_days = window;
    options.every_model = true;  // the JSON holds every fit, as `calibrate --json` writes it
    if (method != "sample" && method != "ewma") throw py::value_error("method must be 'sample' or 'ewma'");
    options.method = method == "ewma" ? CovarianceMethod::ewma : CovarianceMethod::sample;
    options.lambda = lambda;
    if (model) {
        options.model = calibrated_model_from(*model);
        if (!options.model) throw py::value_error("unknown model '" + *model + "'");
    }
    if (as_of) {
        options.as_of = parse_iso_date(*as_of);
        if (!options.as_of) throw py::value_error("as_of must be a date YYYY-MM-DD, not '" + *as_of + "'");
    }
    if (filter != "ewma" && filter != "garch") throw py::value_error("filter must be 'ewma' or 'garch'");
    options.fhs_filter = filter == "garch" ? FhsFilter::garch : FhsFilter::ewma;
    std::atomic<bool> stop{false};
    return interruptible(stop, [&] {
        const Calibration c = calibrate_files(files, symbols, options);
        return std::pair{to_json(c), to_toml_snippet(c)};
    });
}

std::string backtest(const PyScenario& scenario, const std::string& from, const std::string& to, int every,
                     int window, const std::vector<std::string>& models, std::uint64_t paths,
                     const std::filesystem::path& history, bool uncertainty, int threads) {
    BacktestOptions options;
    const std::optional<Date> first = parse_iso_date(from), last = parse_iso_date(to);
    if (!first || !last) throw py::value_error("start and end must be dates YYYY-MM-DD");
    if (*last < *first) throw py::value_error("end is before start");
    if (every < 1 || window < 30) throw py::value_error("every must be >= 1 and window >= 30 days");
    options.from = *first;
    options.to = *last;
    options.every_days = every;
    options.window_days = window;
    options.paths = paths;
    options.threads = threads;
    options.parameter_uncertainty = uncertainty;
    if (!models.empty()) {
        options.models.clear();
        for (const std::string& name : models) {
            const std::optional<BacktestModel> model = backtest_model_from(name);
            if (!model) throw py::value_error("unknown backtest model '" + name + "'");
            options.models.push_back(*model);
        }
    }
    std::atomic<bool> stop{false};
    return interruptible(stop, [&] {
        const std::vector<PriceSeries> series = read_history(scenario.scenario(), history);
        return to_json(run_backtest(scenario.scenario(), series, options, [&](std::size_t, std::size_t) {
            if (stop) throw Stopped{};
        }));
    });
}

}  // namespace
}  // namespace marginsim::python

PYBIND11_MODULE(_marginsim, m) {
    using namespace marginsim;
    using namespace marginsim::python;
    m.doc() = "marginsim's engine (the user-facing API is the marginsim package around it)";
    m.attr("__version__") = MARGINSIM_VERSION;
    m.attr("bundled_history") = MARGINSIM_BUNDLED_HISTORY;

    // InputError: a ValueError whose attributes name the file, line, column and key.
    static py::exception<InputError> input_error(m, "InputError", PyExc_ValueError);
    py::register_exception_translator([](std::exception_ptr error) {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const InputError& e) {
            py::object instance = py::reinterpret_borrow<py::object>(input_error.ptr())(e.what());
            instance.attr("file") = e.file();
            instance.attr("line") = e.line();
            instance.attr("column") = e.column();
            instance.attr("key") = e.key();
            instance.attr("problem") = e.message();
            instance.attr("expected") = e.expected();
            PyErr_SetObject(input_error.ptr(), instance.ptr());
        } catch (const RunInterrupted& e) {
            PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
        }
    });

    py::class_<PyScenario>(m, "_Scenario")
        .def(py::init<std::string, std::string, std::string>(), py::arg("text"), py::arg("source"),
             py::arg("tiers_dir"))
        .def_static("load", &PyScenario::load, py::arg("path"), py::arg("tiers_dir"))
        .def("set", &PyScenario::set, py::arg("key"), py::arg("value"))
        .def("copy", [](const PyScenario& s) { return PyScenario(s); })
        .def_property_readonly("source", &PyScenario::source)
        .def_property_readonly("overrides", &PyScenario::overrides)
        .def_property_readonly("symbols",
                               [](const PyScenario& s) {
                                   std::vector<std::string> out;
                                   for (const Asset& a : s.scenario().assets) out.push_back(a.symbol);
                                   return out;
                               })
        .def_property_readonly("model", [](const PyScenario& s) { return std::string(to_string(s.scenario().simulation.model)); })
        .def_property_readonly("paths", [](const PyScenario& s) { return s.scenario().simulation.paths; })
        .def_property_readonly("seed", [](const PyScenario& s) { return s.scenario().simulation.seed; })
        .def_property_readonly("horizon_days", [](const PyScenario& s) { return s.scenario().simulation.horizon_days; })
        .def_property_readonly("warnings", [](const PyScenario& s) { return s.scenario().warnings; });

    py::class_<PyResult>(m, "_Result")
        .def_property_readonly("report_json", [](const PyResult& r) { return r.report_json; })
        .def("losses", &marginsim::python::losses, py::arg("mode"))
        .def_property_readonly("weights", &marginsim::python::weights);

    m.def("run", &marginsim::python::run, py::arg("scenario"), py::arg("paths"), py::arg("seed"), py::arg("threads"),
          py::arg("precision"));
    m.def("sweep", &marginsim::python::sweep, py::arg("scenario"), py::arg("parameter"), py::arg("values"), py::arg("paths"),
          py::arg("seed"), py::arg("threads"), py::arg("precision"));
    m.def("liq", &marginsim::python::liq, py::arg("scenario"));
    m.def("calibrate", &marginsim::python::calibrate, py::arg("files"), py::arg("symbols"), py::arg("window"), py::arg("method"),
          py::arg("lambda_"), py::arg("model"), py::arg("as_of"), py::arg("filter"));
    m.def("backtest", &marginsim::python::backtest, py::arg("scenario"), py::arg("start"), py::arg("end"), py::arg("every"),
          py::arg("window"), py::arg("models"), py::arg("paths"), py::arg("history"), py::arg("uncertainty"),
          py::arg("threads"));
}
