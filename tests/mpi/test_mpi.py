"""The program on MPI ranks (docs/distributed.md) against the same program in one process:
run and sweep spread over 2 and 3 ranks (an uneven split), importance-sampled or to a precision
target too, give the single process's numbers bit for bit; batch and backtest give its
reports; an error says so once, on one rank or on all; a run stopped by SIGUSR1 (what mpirun
forwards) is resumed on another number of ranks to the numbers of an uninterrupted run.

Run by CTest ("mpi: ranks") with MARGINSIM_CLI (the program), MARGINSIM_SOURCE_DIR and MPIEXEC
(mpirun); by hand: MARGINSIM_CLI=build/marginsim MARGINSIM_SOURCE_DIR=. MPIEXEC=mpirun
python3 -m unittest discover -s tests/mpi -v
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

CLI = os.environ["MARGINSIM_CLI"]
SOURCE = os.environ["MARGINSIM_SOURCE_DIR"]
MPIEXEC = os.environ.get("MPIEXEC", "mpirun")
CONFIGS = os.path.join(SOURCE, "configs")
SEED_BOOK = os.path.join(CONFIGS, "seed_example.toml")
# As CI runs it: as root, and more ranks than cores.
MPI_FLAGS = ["--allow-run-as-root", "--oversubscribe"]


def mpirun(ranks, *arguments, **kwargs):
    return subprocess.run([MPIEXEC, *MPI_FLAGS, "-np", str(ranks), CLI, *arguments], capture_output=True,
                          text=True, **kwargs)


def single(*arguments):
    return subprocess.run([CLI, *arguments], capture_output=True, text=True)


def numbers(path):
    """A report's JSON without what may differ between runs of the same numbers."""
    with open(path) as f:
        report = json.load(f)

    def strip(node):
        if isinstance(node, dict):
            for key in ("threads", "ranks", "elapsed_s"):
                node.pop(key, None)
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(report)
    return report


def errors(stderr):
    return [line for line in stderr.splitlines() if line.startswith("error:")]


class RanksTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def assert_ok(self, result):
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_run_equals_one_process(self):
        for config, paths in (("seed_example.toml", "60000"), ("seed_example_garch.toml", "30000"),
                              ("seed_example_jump.toml", "30000"), ("hedged_pair.toml", "20000")):
            scenario = os.path.join(CONFIGS, config)
            self.assert_ok(single("run", scenario, "--paths", paths, "--threads", "2", "--json", self.path("one.json"), "-q"))
            for ranks in (2, 3):
                with self.subTest(config=config, ranks=ranks):
                    result = mpirun(ranks, "run", scenario, "--paths", paths, "--threads", "1", "--json",
                                    self.path("spread.json"), "-q")
                    self.assert_ok(result)
                    self.assertEqual(numbers(self.path("spread.json")), numbers(self.path("one.json")))
                    with open(self.path("spread.json")) as f:
                        self.assertEqual(json.load(f)["simulation"]["ranks"], ranks)

    def test_run_prints_once(self):
        result = mpirun(3, "run", SEED_BOOK, "--paths", "5000", "--threads", "1")
        self.assert_ok(result)
        self.assertEqual(result.stdout.count("marginsim report:"), 1)
        self.assertIn("3 ranks x 1 threads", result.stdout)

    def test_sweep_equals_one_process(self):
        sweep = ["sweep", SEED_BOOK, "--correlation", "0,0.6,0.95", "--paths", "20000", "--bisect", "2", "-q"]
        self.assert_ok(single(*sweep, "--threads", "2", "--json", self.path("one.json")))
        for ranks in (2, 3):
            with self.subTest(ranks=ranks):
                self.assert_ok(mpirun(ranks, *sweep, "--threads", "1", "--json", self.path("spread.json")))
                self.assertEqual(numbers(self.path("spread.json")), numbers(self.path("one.json")))

    def test_batch_equals_one_process(self):
        names = ["seed_example", "hedged_pair", "seed_example_garch", "seed_example_jump"]
        books = [os.path.join(CONFIGS, name + ".toml") for name in names]
        self.assert_ok(single("batch", *books, "--out", self.path("one"), "--paths", "5000", "-q"))
        for ranks in (2, 3):  # 4 scenarios dealt to 3 ranks: one rank runs two
            with self.subTest(ranks=ranks):
                out = self.path(f"spread{ranks}")
                self.assert_ok(mpirun(ranks, "batch", *books, "--out", out, "--paths", "5000", "-q"))
                for name in names:
                    self.assertEqual(numbers(os.path.join(out, name + ".json")),
                                     numbers(os.path.join(self.dir.name, "one", name + ".json")))
                with open(os.path.join(out, "summary.csv")) as f:
                    self.assertEqual(len(f.read().splitlines()), 1 + len(names))
        # Rank 0 read the manifest: the same batch again skips every scenario, and says so once.
        result = mpirun(3, "batch", *books, "--out", self.path("spread3"), "--paths", "5000")
        self.assert_ok(result)
        self.assertEqual(result.stderr.count("skipped, its reports are up to date"), len(names), result.stderr)

    def test_backtest_equals_one_process(self):
        backtest = ["backtest", SEED_BOOK, "--from", "2024-07-29", "--to", "2024-08-12", "--every", "7", "--window",
                    "180", "--models", "gaussian,garch", "--paths", "2000", "-q"]
        self.assert_ok(single(*backtest, "--json", self.path("one.json")))
        for ranks in (2, 3):
            with self.subTest(ranks=ranks):
                self.assert_ok(mpirun(ranks, *backtest, "--threads", "1", "--json", self.path("spread.json")))
                self.assertEqual(numbers(self.path("spread.json")), numbers(self.path("one.json")))

    def test_importance_sampled_runs_equal_one_process(self):
        # Weighted statistics: their tails are selected over the ranks and finished on rank 0.
        selloff = ["--set", 'simulation.importance_sampling="selloff"', "-q"]
        cases = [("run", ["run", os.path.join(CONFIGS, "hedged_pair.toml"), "--paths", "30000", *selloff]),
                 ("sweep", ["sweep", SEED_BOOK, "--correlation", "0,0.9", "--paths", "20000", *selloff])]
        for name, arguments in cases:
            self.assert_ok(single(*arguments, "--threads", "2", "--json", self.path("one.json")))
            for ranks in (2, 3):
                with self.subTest(case=name, ranks=ranks):
                    result = mpirun(ranks, *arguments, "--threads", "1", "--json", self.path("spread.json"))
                    self.assert_ok(result)
                    self.assertNotIn("alone", result.stderr)
                    self.assertEqual(numbers(self.path("spread.json")), numbers(self.path("one.json")))

    def test_precision_runs_equal_one_process(self):
        # The target is tested block by block in block order on every rank: the same stopping block.
        cases = [("run", ["run", SEED_BOOK, "--paths", "400000", "--precision", "0.002"]),
                 ("run relative", ["run", os.path.join(CONFIGS, "hedged_pair.toml"), "--paths", "200000",
                                   "--precision", "10%"]),
                 ("sweep", ["sweep", SEED_BOOK, "--correlation", "0,0.9", "--paths", "400000", "--precision",
                            "0.004"])]
        for name, arguments in cases:
            self.assert_ok(single(*arguments, "--threads", "2", "--json", self.path("one.json"), "-q"))
            for ranks in (2, 3):
                with self.subTest(case=name, ranks=ranks):
                    result = mpirun(ranks, *arguments, "--threads", "1", "--json", self.path("spread.json"), "-q")
                    self.assert_ok(result)
                    self.assertNotIn("alone", result.stderr)
                    self.assertEqual(numbers(self.path("spread.json")), numbers(self.path("one.json")))

    def test_inputs_only_where_rank_0_runs(self):
        # An MPMD launch: rank 1 works in an empty directory, where the relative paths of the
        # scenario, its tier tables and the price history lead nowhere; rank 0 reads them all.
        inputs = self.path("inputs")
        empty = self.path("empty")
        os.makedirs(empty)
        shutil.copytree(CONFIGS, os.path.join(inputs, "configs"))
        shutil.copytree(os.path.join(SOURCE, "data", "binance_daily"), os.path.join(inputs, "history"))
        commands = {
            "run": ["run", "configs/seed_example.toml", "--paths", "20000"],
            "backtest": ["backtest", "configs/seed_example.toml", "--history", "history", "--from", "2024-07-29",
                         "--to", "2024-08-12", "--every", "7", "--window", "180", "--models", "gaussian",
                         "--paths", "2000"],
        }
        for name, arguments in commands.items():
            with self.subTest(command=name):
                one = subprocess.run([CLI, *arguments, "--threads", "1", "--json", self.path("one.json"), "-q"],
                                     cwd=inputs, capture_output=True, text=True)
                self.assert_ok(one)
                run = [CLI, *arguments, "--threads", "1", "--json", self.path("spread.json"), "-q"]
                result = subprocess.run([MPIEXEC, *MPI_FLAGS, "-np", "1", "--wdir", inputs, *run, ":", "-np", "1",
                                         "--wdir", empty, *run], capture_output=True, text=True)
                self.assert_ok(result)
                self.assertEqual(numbers(self.path("spread.json")), numbers(self.path("one.json")))

    def test_bad_input_is_one_error(self):
        bad = self.path("bad.toml")
        with open(SEED_BOOK) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(text.replace("balance = 10000", "balance = -5"))
        result = mpirun(3, "run", bad, "--paths", "5000")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(len(errors(result.stderr)), 1, result.stderr)
        self.assertIn("balance", errors(result.stderr)[0])
        self.assertFalse(os.path.exists(self.path("out.json")))

    def test_error_on_one_rank_stops_all(self):
        # Rank 1 alone gets too little memory for its share of the paths (an MPMD launch): its
        # allocation fails; every rank stops, rank 0 says why once, and nothing is written.
        out = self.path("out.json")
        run = [CLI, "run", SEED_BOOK, "--paths", "40000000", "--threads", "1", "--force", "--json", out, "-q"]
        limited = ["sh", "-c", 'ulimit -v 400000 && exec "$@"', "sh", *run]
        result = subprocess.run([MPIEXEC, *MPI_FLAGS, "-np", "1", *run, ":", "-np", "1", *limited],
                                capture_output=True, text=True, timeout=300)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(len(errors(result.stderr)), 1, result.stderr)
        self.assertIn("rank 1", errors(result.stderr)[0])
        self.assertFalse(os.path.exists(out))

    def interrupt_and_resume(self, *options):
        paths = "6000000"
        checkpoint = self.path("run.checkpoint")
        common = ["run", SEED_BOOK, "--paths", paths, *options, "--threads", "1", "--force", "--checkpoint",
                  checkpoint, "--json", self.path("resumed.json"), "-q"]
        process = subprocess.Popen([MPIEXEC, *MPI_FLAGS, "-np", "2", CLI, *common], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        process.send_signal(signal.SIGUSR1)  # mpirun forwards it to every rank
        _, stderr = process.communicate(timeout=300)
        self.assertEqual(process.returncode, 128 + signal.SIGUSR1,
                         "the run should have been stopped (too short a run?): " + stderr)
        self.assertTrue(os.path.exists(checkpoint), stderr)
        self.assertIn("interrupted after", stderr)
        with open(self.path("resumed.json")) as f:
            self.assertTrue(json.load(f)["partial"])

        result = mpirun(3, *common, "--resume")
        self.assert_ok(result)
        self.assertFalse(os.path.exists(checkpoint))  # spent
        self.assert_ok(single("run", SEED_BOOK, "--paths", paths, *options, "--threads", "2", "--force", "--json",
                              self.path("one.json"), "-q"))
        self.assertEqual(numbers(self.path("resumed.json")), numbers(self.path("one.json")))

    def test_interrupted_run_resumes_on_other_ranks(self):
        self.interrupt_and_resume()

    def test_interrupted_precision_run_resumes_on_other_ranks(self):
        # Met after about 3.8 million paths: the stop comes first, the resumed run stops at the target.
        self.interrupt_and_resume("--precision", "0.0005")
        with open(self.path("one.json")) as f:
            self.assertTrue(json.load(f)["simulation"]["precision"]["reached"])

if __name__ == "__main__":
    unittest.main()
