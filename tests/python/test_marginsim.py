"""The Python module against the command line and the report: the same numbers as the CLI for
the same scenario, paths and seed (run, sweep, liq, calibrate, backtest); every path's loss
against the report's VaR and ES order statistics; set() and the errors, located as the CLI
locates them; from_dict against from_toml; the thread count; Ctrl-C; the GIL released.

Run by CTest ("python: module") with PYTHONPATH=<build>/python, MARGINSIM_CLI (the program)
and MARGINSIM_SOURCE_DIR; by hand: PYTHONPATH=build/python MARGINSIM_CLI=build/marginsim
MARGINSIM_SOURCE_DIR=. python3 -m unittest discover -s tests/python -v
"""

import _thread
import doctest
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy

import marginsim as ms

CLI = os.environ["MARGINSIM_CLI"]
SOURCE = os.environ["MARGINSIM_SOURCE_DIR"]
SEED_BOOK = os.path.join(SOURCE, "configs", "seed_example.toml")
HISTORY = os.path.join(SOURCE, "data", "binance_daily")

SMALL_BOOK = """[simulation]
paths = 4000
horizon_days = 3
steps_per_day = 4
seed = 11
[account]
balance = 5000
[[assets]]
symbol = "BTC"
price = 60000
volatility = 0.6
maintenance_margin_rate = 0.004
[[assets]]
symbol = "ETH"
price = 3000
volatility = 0.8
maintenance_margin_rate = 0.005
[correlation]
matrix = [[1.0, 0.7], [0.7, 1.0]]
[[positions]]
symbol = "BTC"
side = "long"
margin = 1000
leverage = 10
mode = "isolated"
[[positions]]
symbol = "ETH"
side = "short"
margin = 1000
leverage = 8
"""


def cli_json(*arguments):
    """The JSON the program writes to standard output with these arguments."""
    done = subprocess.run([CLI, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{arguments}: exit {done.returncode}: {done.stderr}")
    return json.loads(done.stdout)


def without(value, keys):
    """The JSON value with every entry named in `keys` dropped, at any depth (timings)."""
    if isinstance(value, dict):
        return {k: without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without(v, keys) for v in value]
    return value


class SameNumbersAsTheCli(unittest.TestCase):
    def test_run_report_is_the_cli_json(self):
        sc = ms.Scenario.load(SEED_BOOK)
        sc.set("correlation.BTC/ETH", 0.9)
        res = ms.run(sc, paths=30000, seed=7)
        expected = cli_json("run", SEED_BOOK, "--paths", "30000", "--seed", "7", "--set", "correlation.BTC/ETH=0.9",
                            "--format", "json")
        self.assertEqual(without(res.report, {"elapsed_s"}), without(expected, {"elapsed_s"}))
        self.assertEqual(res.report["overrides"], ["correlation.BTC/ETH=0.9"])

    def test_precision_target_as_the_cli(self):
        sc = ms.Scenario.load(SEED_BOOK)
        res = ms.run(sc, paths=200000, seed=3, precision="10%")
        expected = cli_json("run", SEED_BOOK, "--paths", "200000", "--seed", "3", "--precision", "10%",
                            "--format", "json")
        self.assertEqual(without(res.report, {"elapsed_s"}), without(expected, {"elapsed_s"}))
        self.assertIn("precision", res.report["simulation"])

    def test_sweep_liq_calibrate_backtest_are_the_cli_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            book = os.path.join(tmp, "book.toml")
            with open(book, "w") as f:
                f.write(SMALL_BOOK)
            sc = ms.Scenario.load(book)
            swept = ms.sweep(sc, "correlation", [0.2, 0.5, 0.9], paths=3000, seed=5)
            out = os.path.join(tmp, "sweep.json")
            subprocess.run([CLI, "sweep", book, "--correlation", "0.2,0.5,0.9", "--paths", "3000", "--seed", "5",
                            "-q", "--json", out], check=True)
            with open(out) as f:
                self.assertEqual(without(swept, {"elapsed_s"}), without(json.load(f), {"elapsed_s"}))
            self.assertEqual(ms.liq(sc), cli_json("liq", book, "--json", "-"))

        files = [os.path.join(HISTORY, f"Binance_{s}USDT_d.csv") for s in ("BTC", "ETH")]
        cal = ms.calibrate(files, window=365, method="ewma", model="garch", as_of="2025-06-01")
        self.assertEqual(cal.report, cli_json("calibrate", *files, "--window", "365", "--method", "ewma", "--model",
                                              "garch", "--as-of", "2025-06-01", "--json", "-"))
        self.assertIn("[garch]", cal.snippet)
        self.assertIn("# [uncertainty]", cal.snippet)

        seed_book = ms.Scenario.load(SEED_BOOK)
        tested = ms.backtest(seed_book, "2024-07-29", "2024-08-12", every=7, window=180, models=["gaussian", "garch"],
                             paths=2000, uncertainty=True)
        expected = cli_json("backtest", SEED_BOOK, "--from", "2024-07-29", "--to", "2024-08-12", "--every", "7",
                            "--window", "180", "--models", "gaussian,garch", "--paths", "2000", "--uncertainty",
                            "--format", "json")
        self.assertEqual(tested, expected)
        self.assertEqual(len(tested["windows"]), 3)


class Losses(unittest.TestCase):
    def test_losses_are_the_reports_order_statistics(self):
        res = ms.run(ms.Scenario.load(SEED_BOOK), paths=50000, seed=9)
        n = res.report["simulation"]["paths"]
        for mode in ms.MODES:
            losses = res.losses(mode)
            self.assertIsInstance(losses, numpy.ndarray)
            self.assertEqual(losses.dtype, numpy.float64)
            self.assertEqual(losses.shape, (n,))
            self.assertFalse(losses.flags["OWNDATA"])  # a view of the result's memory
            ordered = numpy.sort(losses)
            loss = res.report["modes"][mode]["loss"]
            for level in ("0.95", "0.99", "0.999"):
                k = math.ceil(float(level) * n) - 1
                self.assertEqual(ordered[k], loss["var"][level], (mode, level))
                self.assertAlmostEqual(ordered[k:].mean(), loss["es"][level], delta=1e-9 * max(1.0, loss["es"][level]))
            self.assertEqual(ordered[-1], loss["max"])
            self.assertAlmostEqual(losses.mean(), loss["mean"], delta=1e-9 * max(1.0, abs(loss["mean"])))
            # A liquidated path lost something; the share of liquidated paths bounds the share of losses.
            liquidated = res.report["modes"][mode]["liquidation_probability"]["estimate"]
            self.assertLessEqual(liquidated, numpy.mean(losses > 0) + 1e-12)
        self.assertIsNone(res.weights)
        # The arrays keep the result alive.
        cross = ms.run(ms.Scenario.load(SEED_BOOK), paths=2000, seed=1).losses("cross")
        self.assertEqual(cross.shape, (2000,))
        self.assertTrue(numpy.isfinite(cross).all())
        with self.assertRaises(ValueError):
            res.losses("portfolio")
        with self.assertRaises(ValueError):  # read-only: the result's own memory
            res.losses("cross")[0] = -1.0

    def test_importance_sampled_run_has_weights(self):
        sc = ms.Scenario.load(SEED_BOOK).set("simulation.importance_sampling", "selloff")
        res = ms.run(sc, paths=5000, seed=2)
        self.assertEqual(res.weights.shape, (5000,))
        self.assertTrue((res.weights > 0).all())


class ScenariosAndErrors(unittest.TestCase):
    def test_set_checks_as_the_cli_and_keeps_the_scenario_on_error(self):
        sc = ms.Scenario.load(SEED_BOOK)
        self.assertEqual(sc.symbols, ["BTC", "ETH", "SOL"])
        sc.set("simulation.steps_per_day", 24).set("assets.BTC.volatility", 0.7)
        self.assertEqual(sc.overrides, ["simulation.steps_per_day=24", "assets.BTC.volatility=0.7"])
        with self.assertRaises(ms.InputError) as caught:
            sc.set("correlation.BTC/ETH", 1.5)
        error = caught.exception
        self.assertIsInstance(error, ValueError)
        self.assertEqual(error.file, "--set correlation.BTC/ETH=1.5")
        self.assertEqual(error.key, "correlation.matrix[0][1]")
        self.assertEqual(error.expected, "a correlation in [-1, 1]")
        self.assertIn("out of range: found 1.5", str(error))
        self.assertEqual(sc.overrides, ["simulation.steps_per_day=24", "assets.BTC.volatility=0.7"])
        copy = sc.copy().set("simulation.seed", 5)
        self.assertEqual(sc.seed, 42)
        self.assertEqual(copy.seed, 5)

    def test_errors_name_file_line_column_and_key(self):
        with self.assertRaises(ms.InputError) as caught:
            ms.Scenario.from_toml(SMALL_BOOK.replace("volatility = 0.8", "volatility = -0.8"), "book.toml")
        e = caught.exception
        self.assertEqual((e.file, e.line, e.column, e.key), ("book.toml", 16, 14, "assets[1].volatility"))
        self.assertTrue(str(e).startswith("book.toml:16:14: assets[1].volatility: out of range"))
        # The CLI says the same of the same file.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "book.toml")
            with open(path, "w") as f:
                f.write(SMALL_BOOK.replace("volatility = 0.8", "volatility = -0.8"))
            done = subprocess.run([CLI, "validate", path], capture_output=True, text=True)
            self.assertEqual(done.returncode, 2)
            with self.assertRaises(ms.InputError) as loaded:
                ms.Scenario.load(path)
            self.assertIn(str(loaded.exception), done.stderr)
        with self.assertRaises(ms.InputError) as missing:
            ms.Scenario.load("/nonexistent/book.toml")
        self.assertIn("scenario file not found", str(missing.exception))
        with self.assertRaises(ValueError):
            ms.sweep(ms.Scenario.from_toml(SMALL_BOOK), "temperature", [1.0])
        small = ms.Scenario.from_toml(SMALL_BOOK)
        for arguments in ({"paths": 0}, {"seed": -1}, {"threads": -1}):
            with self.assertRaises(ValueError) as refused:
                ms.run(small, **arguments)
            self.assertIn(next(iter(arguments)), str(refused.exception))

    def test_from_dict_is_the_toml_it_stands_for(self):
        data = {
            "simulation": {"paths": 4000, "horizon_days": 3, "steps_per_day": 4, "seed": 11},
            "account": {"balance": 5000},
            "assets": [
                {"symbol": "BTC", "price": 60000, "volatility": 0.6, "maintenance_margin_rate": 0.004},
                {"symbol": "ETH", "price": 3000, "volatility": 0.8, "maintenance_margin_rate": 0.005},
            ],
            "correlation": {"matrix": [[1.0, 0.7], [0.7, 1.0]]},
            "positions": [
                {"symbol": "BTC", "side": "long", "margin": 1000, "leverage": 10, "mode": "isolated"},
                {"symbol": "ETH", "side": "short", "margin": 1000, "leverage": 8},
            ],
        }
        a = ms.run(ms.Scenario.from_dict(data)).report
        b = ms.run(ms.Scenario.from_toml(SMALL_BOOK)).report
        self.assertEqual(without(a, {"elapsed_s", "scenario"}), without(b, {"elapsed_s", "scenario"}))
        data["assets"][1]["volatility"] = "high"
        with self.assertRaises(ms.InputError) as caught:
            ms.Scenario.from_dict(data, "desk.toml")
        self.assertEqual(caught.exception.key, "assets[1].volatility")
        self.assertEqual(caught.exception.file, "desk.toml")


class Threads(unittest.TestCase):
    def test_threads_do_not_change_the_numbers(self):
        sc = ms.Scenario.load(SEED_BOOK)
        one = ms.run(sc, paths=20000, seed=4, threads=1)
        two = ms.run(sc, paths=20000, seed=4, threads=2)
        self.assertEqual(one.report["simulation"]["threads"], 1)
        self.assertEqual(without(one.report, {"elapsed_s", "threads"}), without(two.report, {"elapsed_s", "threads"}))
        self.assertTrue(numpy.array_equal(one.losses("cross"), two.losses("cross")))

    def test_the_gil_is_released_while_the_engine_runs(self):
        sc = ms.Scenario.load(SEED_BOOK)
        counted = [0]
        done = threading.Event()

        def count():
            while not done.is_set():
                counted[0] += 1

        worker = threading.Thread(target=count)
        worker.start()
        try:
            ms.run(sc, paths=200000, seed=1, threads=1)
        finally:
            done.set()
            worker.join()
        self.assertGreater(counted[0], 1000)

    def test_ctrl_c_stops_a_run_promptly(self):
        # 2 million paths of 2,016 steps: a minute or more, were it not stopped.
        sc = ms.Scenario.load(SEED_BOOK).set("simulation.steps_per_day", 288)
        timer = threading.Timer(0.3, _thread.interrupt_main)
        timer.start()
        start = time.monotonic()
        with self.assertRaises(KeyboardInterrupt):
            ms.run(sc, paths=2_000_000, seed=1)
        timer.join()
        self.assertLess(time.monotonic() - start, 5.0)
        # The module works on after it.
        self.assertEqual(ms.run(sc, paths=1000, seed=1).report["simulation"]["paths"], 1000)
        # A sweep stops within its current point.
        timer = threading.Timer(0.3, _thread.interrupt_main)
        timer.start()
        start = time.monotonic()
        with self.assertRaises(KeyboardInterrupt):
            ms.sweep(sc, "correlation", [0.3, 0.6, 0.9], paths=2_000_000, seed=1)
        timer.join()
        self.assertLess(time.monotonic() - start, 5.0)


class Documentation(unittest.TestCase):
    def test_the_examples_of_docs_python_md_give_what_the_page_says(self):
        here = os.getcwd()
        os.chdir(SOURCE)  # the page's paths are the repository's
        try:
            failed, tried = doctest.testfile(os.path.join(SOURCE, "docs", "python.md"), module_relative=False,
                                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        finally:
            os.chdir(here)
        self.assertGreater(tried, 20)
        self.assertEqual(failed, 0)

    def test_the_correlation_example_runs(self):
        script = os.path.join(SOURCE, "examples", "correlation_tuning.py")
        done = subprocess.run([sys.executable, script, "--paths", "3000"], capture_output=True, text=True,
                              env=dict(os.environ), cwd=tempfile.gettempdir())
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("refused: not positive semi-definite", done.stdout)
        self.assertRegex(done.stdout, r"\n 0\.95 ")


if __name__ == "__main__":
    unittest.main()
