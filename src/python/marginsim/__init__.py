"""marginsim from Python: the same engine as the command line, for notebooks.

    import marginsim as ms
    sc = ms.Scenario.load("configs/seed_example.toml")
    sc.set("correlation.BTC/ETH", 0.9)          # the keys and checks of the CLI's --set
    res = ms.run(sc, paths=100_000, seed=7)
    res.report["modes"]["cross"]["liquidation_probability"]["estimate"]
    res.losses("cross")                         # numpy array, one loss per path

Every function runs the C++ engine (one implementation: the numbers are the CLI's for the same
scenario, paths and seed), releases the GIL while it runs, and stops promptly on Ctrl-C
(KeyboardInterrupt). Bad input raises InputError, a ValueError naming the file, line, column
and key as the CLI does. docs/python.md has the whole API.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from . import _marginsim
from ._marginsim import InputError, __version__

__all__ = ["InputError", "Scenario", "Result", "Calibration", "run", "sweep", "liq", "calibrate", "backtest",
           "MODES", "__version__"]

#: The account modes of every report, in report order.
MODES = ("isolated", "cross", "as_configured")

PathLike = Union[str, "os.PathLike[str]"]


def _toml_key(key: str) -> str:
    bare = key and all(c.isalnum() or c in "-_" for c in key) and key.isascii()
    return key if bare else json.dumps(key)


def _toml_value(value: Any) -> str:
    """A Python value as a TOML value: str quoted, bool, int, float, list, dict (inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _toml_value(value.tolist())
    raise TypeError(f"cannot write {type(value).__name__} as a TOML value")


class Scenario:
    """A scenario: its positions, assets, correlation and model, loaded and checked.

    Build one with Scenario.load(path), Scenario.from_toml(text) or Scenario.from_dict(d); change
    it with set(key, value), which checks the value as the command line's --set does.
    """

    __slots__ = ("_core",)

    def __init__(self, core: Any) -> None:
        self._core = core

    @classmethod
    def load(cls, path: PathLike, tiers_dir: Optional[PathLike] = None) -> "Scenario":
        """Load a scenario file (TOML). Tier table references are looked up in tiers_dir, then
        in the `exchanges` directory next to the file. Raises InputError on bad input."""
        return cls(_marginsim._Scenario.load(os.fspath(path), os.fspath(tiers_dir or "")))

    @classmethod
    def from_toml(cls, text: str, name: str = "<string>", tiers_dir: Optional[PathLike] = None) -> "Scenario":
        """A scenario from TOML text; `name` stands for the file in error messages (tier table
        references are looked up in tiers_dir, then in `exchanges` next to `name`)."""
        return cls(_marginsim._Scenario(text, name, os.fspath(tiers_dir or "")))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str = "<dict>",
                  tiers_dir: Optional[PathLike] = None) -> "Scenario":
        """A scenario from a dict shaped like the TOML file: {"simulation": {...}, "account":
        {...}, "assets": [{...}, ...], "positions": [{...}, ...], ...}. Each top-level key becomes
        one line of TOML, so an error names its key (`assets[1].volatility`) and that line."""
        lines = [f"{_toml_key(str(key))} = {_toml_value(value)}" for key, value in data.items()]
        return cls.from_toml("\n".join(lines) + "\n", name, tiers_dir)

    def set(self, key: str, value: Any) -> "Scenario":
        """Set a key as the CLI's --set KEY=VALUE does (`simulation.steps_per_day`,
        `correlation.BTC/ETH`, `assets.BTC.volatility`, `positions[1].margin`): the scenario is
        loaded again with the value and checked as if the file held it. A str is a TOML string
        (give numbers as numbers). On InputError the scenario is left as it was. Returns self."""
        self._core.set(key, _toml_value(value))
        return self

    def copy(self) -> "Scenario":
        """An independent copy (set() on it leaves this one as it is)."""
        return Scenario(self._core.copy())

    @property
    def source(self) -> str:
        """The file, or the name given to from_toml / from_dict."""
        return self._core.source

    @property
    def overrides(self) -> list:
        """The KEY=VALUE of every set() so far, in order (the report's `overrides`)."""
        return self._core.overrides

    @property
    def symbols(self) -> list:
        """The assets' symbols, in [[assets]] order."""
        return self._core.symbols

    @property
    def model(self) -> str:
        return self._core.model

    @property
    def paths(self) -> int:
        return self._core.paths

    @property
    def seed(self) -> int:
        return self._core.seed

    @property
    def horizon_days(self) -> float:
        return self._core.horizon_days

    @property
    def warnings(self) -> list:
        """The scenario's warnings, located by file, line and column."""
        return self._core.warnings

    def __repr__(self) -> str:
        sets = f", {len(self.overrides)} set" if self.overrides else ""
        return f"<marginsim.Scenario {self.source!r}: {', '.join(self.symbols)}, model {self.model}{sets}>"


class Result:
    """One run: `report` (a dict, exactly the JSON report of `marginsim run --json`) and every
    path's loss per mode (`losses(mode)`)."""

    __slots__ = ("_core", "_report")

    def __init__(self, core: Any) -> None:
        self._core = core
        self._report: Optional[dict] = None

    @property
    def report(self) -> dict:
        """The report as a dict: the content of `marginsim run --json` (README, docs/model.md#report)."""
        if self._report is None:
            self._report = json.loads(self._core.report_json)
        return self._report

    def losses(self, mode: str) -> Any:
        """Every path's loss in `mode` ("isolated", "cross" or "as_configured"), in path order, as a
        float64 numpy array over the result's own memory (no copy; read-only use). A path left
        out as overflowed (simulation.overflowed_paths, 0 in practice) holds NaN. Sorted, entry
        ceil(a n) - 1 is the report's VaR at level a for a plain (not importance-sampled) run.
        The array is read-only: copy it (`.copy()`) to change it."""
        losses = self._core.losses(mode)
        losses.flags.writeable = False
        return losses

    @property
    def weights(self) -> Any:
        """The likelihood ratio of every path of an importance-sampled run (path order, read-only),
        else None."""
        weights = self._core.weights
        if weights is not None:
            weights.flags.writeable = False
        return weights

    def __repr__(self) -> str:
        modes = self.report["modes"]
        p = ", ".join(f"{m} {modes[m]['liquidation_probability']['estimate']:.4%}" for m in MODES)
        return f"<marginsim.Result {self.report['simulation']['paths']} paths: P(liquidation) {p}>"


class Calibration:
    """calibrate()'s answer: `report` (the dict of `marginsim calibrate --json`) and `snippet`
    (the scenario TOML it writes)."""

    __slots__ = ("report", "snippet")

    def __init__(self, report: dict, snippet: str) -> None:
        self.report = report
        self.snippet = snippet

    def __repr__(self) -> str:
        symbols = ", ".join(a["symbol"] for a in self.report["assets"])
        return f"<marginsim.Calibration {symbols}: {self.report['window']['returns']} returns>"


def _precision(precision: Union[None, float, str]) -> Optional[str]:
    return None if precision is None else str(precision)


def _count(name: str, value: Optional[int], least: int) -> Optional[int]:
    """An integer argument checked as the CLI checks its option: ValueError naming it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if hasattr(value, "__index__"):
            value = value.__index__()
        else:
            raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, not {value}")
    return value


def _run_arguments(paths: Optional[int], seed: Optional[int], threads: Optional[int]) -> tuple:
    return _count("paths", paths, 1), _count("seed", seed, 0), _count("threads", threads, 0)


def run(scenario: Scenario, paths: Optional[int] = None, seed: Optional[int] = None, threads: Optional[int] = None,
        precision: Union[None, float, str] = None) -> Result:
    """Run the scenario: its [simulation] paths and seed unless given; threads 0 = all cores (the
    numbers never depend on it); precision: stop once every mode's P(liquidation) 95% interval
    has this half-width (0.002, or "10%" of the estimate), paths then the maximum. The same
    numbers as `marginsim run` with the same scenario, paths and seed."""
    return Result(_marginsim.run(scenario._core, *_run_arguments(paths, seed, threads), _precision(precision)))


def sweep(scenario: Scenario, parameter: str, values: Iterable[float], paths: Optional[int] = None,
          seed: Optional[int] = None, threads: Optional[int] = None,
          precision: Union[None, float, str] = None) -> dict:
    """Sweep one parameter on common random numbers, as `marginsim sweep`: parameter one of
    "correlation" (every pair), "correlation_blend" (weight w of (1 - w) C + w 11'),
    "leverage_scale", "volatility_scale", "horizon_days", "steps_per_day", "monitoring" (values 0
    continuous, 1 discrete; the points then say the word). Returns the sweep JSON as a dict
    (points, each with its modes' P(liquidation), VaR and ES; the crossover)."""
    values = [float(v) for v in values]
    return json.loads(_marginsim.sweep(scenario._core, parameter, values, *_run_arguments(paths, seed, threads),
                                       _precision(precision)))


def liq(scenario: Scenario) -> dict:
    """Each position's liquidation price per mode at today's prices, as `marginsim liq --json`."""
    return json.loads(_marginsim.liq(scenario._core))


def calibrate(files: Sequence[PathLike], symbols: Optional[Sequence[str]] = None, window: Optional[int] = None,
              method: str = "sample", lambda_: float = 0.94, model: Optional[str] = None,
              as_of: Optional[str] = None, filter: str = "ewma") -> Calibration:
    """Calibrate from daily price CSV files, as `marginsim calibrate`: window in calendar days,
    method "sample" or "ewma", model one of gaussian, student_t, garch, regime, fhs, jump (the
    snippet's), as_of "YYYY-MM-DD". Returns the JSON (every estimate with its standard error) and
    the snippet."""
    report, snippet = _marginsim.calibrate([os.fspath(f) for f in files], list(symbols or []), window, method,
                                           lambda_, model, as_of, filter)
    return Calibration(json.loads(report), snippet)


def _bundled_history() -> str:
    """The bundled daily bars: installed under <prefix>/share/marginsim (the module being in
    <prefix>/lib/python3.X/dist-packages/marginsim), else the source tree's data/binance_daily."""
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))))
    installed = os.path.join(prefix, "share", "marginsim", "binance_daily")
    return installed if os.path.isdir(installed) else _marginsim.bundled_history


def backtest(scenario: Scenario, start: str, end: str, every: int = 7, window: int = 365,
             models: Optional[Sequence[str]] = None, paths: int = 20000, history: Optional[PathLike] = None,
             uncertainty: bool = False, threads: int = 0) -> dict:
    """Backtest each model's P(liquidation) of the book against what happened, as `marginsim
    backtest`: start dates from `start` to `end` every `every` days, each model calibrated on the
    `window` days before; history: a directory of daily price files (default: the bundled
    Binance daily bars). Returns the backtest JSON as a dict (windows and scores)."""
    directory = os.fspath(history) if history is not None else _bundled_history()
    return json.loads(_marginsim.backtest(scenario._core, start, end, _count("every", every, 1),
                                          _count("window", window, 30), list(models or []),
                                          _count("paths", paths, 1), directory, uncertainty,
                                          _count("threads", threads, 0)))
