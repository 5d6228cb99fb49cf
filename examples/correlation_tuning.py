"""How the BTC/ETH correlation moves the seed book's risk, mode by mode.

Takes configs/seed_example.toml (three 10x longs on BTC, ETH and SOL; 10,000 USDT), sets the
BTC/ETH correlation to 0, 0.05, ..., 0.95 with every other input as in the file, and runs each
value on the same seed, so every point sees the same random numbers (common random numbers:
the differences between points are the correlation's effect, not Monte Carlo noise). A value
that does not make a valid correlation matrix with the file's BTC/SOL and ETH/SOL pairs is
refused by the scenario check (marginsim.InputError); it is reported and skipped.

Prints, per value: P(any liquidation) with its 95% interval and ES 99% in each account mode
(isolated, cross, as_configured), and the contagion probability (a position that survives on
its own margin is liquidated in cross). With --out and matplotlib, also draws both per mode in
a two-panel figure. From the repository root, after a build:

    PYTHONPATH=build/python python3 examples/correlation_tuning.py
    PYTHONPATH=build/python python3 examples/correlation_tuning.py --paths 200000 --out corr.png
"""

import argparse
import os
import sys
import tomllib

import marginsim as ms

SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "configs", "seed_example.toml")
PAIR = ("BTC", "ETH")
RHOS = [round(0.05 * i, 2) for i in range(20)]  # 0.0 .. 0.95
COLORS = {"isolated": "tab:blue", "cross": "tab:red", "as_configured": "tab:green"}


def sweep(base, paths, seed):
    """One row per correlation: (rho, report) for a run, (rho, InputError) for a refused value."""
    rows = []
    for rho in RHOS:
        sc = base.copy()
        try:
            sc.set(f"correlation.{PAIR[0]}/{PAIR[1]}", rho)
        except ms.InputError as error:
            rows.append((rho, error))
            continue
        rows.append((rho, ms.run(sc, paths=paths, seed=seed).report))
    return rows


def print_table(rows):
    print(f"{'rho':>5}  {'P(any liquidation) %, 95% interval':^64}  {'ES 99%':^26}  contagion")
    print(f"{'':>5}  " + "  ".join(f"{m:>20}" for m in ms.MODES) + "  "
          + " ".join(f"{m[:8]:>8}" for m in ("isolated", "cross", "as_conf")) + f"  {'%':>9}")
    for rho, report in rows:
        if isinstance(report, ms.InputError):
            print(f"{rho:5.2f}  refused: {report.problem}")
            continue
        cells, es = [], []
        for mode in ms.MODES:
            stats = report["modes"][mode]
            p, (lo, hi) = stats["liquidation_probability"]["estimate"], stats["liquidation_probability"]["ci95"]
            cells.append(f"{100 * p:6.2f} ({100 * lo:5.2f}-{100 * hi:5.2f})")
            es.append(f"{stats['loss']['es']['0.99']:8.0f}")
        contagion = 100 * report["comparison"]["contagion_probability"]
        print(f"{rho:5.2f}  " + "  ".join(f"{c:>20}" for c in cells) + "  " + " ".join(es) + f"  {contagion:9.2f}")


def plot(rows, file_rho, others, paths, seed, out):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no figure, the table only", file=sys.stderr)
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [(rho, report) for rho, report in rows if not isinstance(report, ms.InputError)]
    refused = [rho for rho, report in rows if isinstance(report, ms.InputError)]
    x = [rho for rho, _ in done]

    def band(ax, stats, color, label, style="o-"):
        p = [100 * s["estimate"] for s in stats]
        ax.plot(x, p, style, ms=3, color=color, label=label)
        ax.fill_between(x, [100 * s["ci95"][0] for s in stats], [100 * s["ci95"][1] for s in stats],
                        color=color, alpha=0.25, lw=0)

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5), dpi=100)
    for mode in ms.MODES:
        band(left, [r["modes"][mode]["liquidation_probability"] for _, r in done], COLORS[mode], mode)
        right.plot(x, [r["modes"][mode]["loss"]["es"]["0.99"] for _, r in done], "o-", ms=3,
                   color=COLORS[mode], label=mode)
    contagion = [{"estimate": r["comparison"]["contagion_probability"],
                  "ci95": r["comparison"]["contagion_probability_ci95"]} for _, r in done]
    band(left, contagion, "black", "contagion (cross)", "s--")
    ticks = [0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 10, 20, 30, 40]
    left.set_yscale("log")
    left.set_ylim(0.09, 60)
    left.set_yticks(ticks, [f"{t:g}%" for t in ticks])
    left.minorticks_off()
    left.set_title("P(any liquidation) and contagion, 95% interval shaded", fontsize=11)
    right.set_title("ES 99% (USDT): mean loss of the worst 1% of paths", fontsize=11)
    right.set_ylim(5000, 10600)
    for mode, text in (("cross", "cross: the whole balance"), ("isolated", "isolated: the three margins")):
        right.text(0.72, done[-1][1]["modes"][mode]["loss"]["es"]["0.99"] + 80, text, color=COLORS[mode], fontsize=9,
                   ha="center", va="bottom")
    for ax in (left, right):
        if refused:
            ax.axvspan(min(refused) - 0.025, max(refused) + 0.025, color="0.92", lw=0)
            ax.text((min(refused) + max(refused)) / 2, 0.95, f"refused: not positive\nsemi-definite with\n{others}",
                    transform=ax.get_xaxis_transform(), ha="center", va="top", color="0.35", fontsize=9)
        ax.axvline(file_rho, color="0.4", ls=":", lw=1)
        ax.text(file_rho - 0.01, 0.02, f"file {file_rho}", transform=ax.get_xaxis_transform(), ha="right",
                va="bottom", color="0.3", fontsize=9)
        ax.set_xlim(-0.03, max(RHOS) + 0.03)
        ax.set_xlabel(f"{PAIR[0]}/{PAIR[1]} correlation (other pairs as in the file)")
        ax.grid(alpha=0.3)
    left.legend(loc="center left", fontsize=9, frameon=False)
    right.legend(loc="center left", fontsize=9, frameon=False)
    fig.suptitle(f"configs/seed_example.toml, {paths:,} paths per point, seed {seed} (common random numbers)",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out)
    print(f"figure saved to {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000, help="paths per point (default 100,000)")
    parser.add_argument("--seed", type=int, default=42, help="the seed of every point (default 42)")
    parser.add_argument("--out", metavar="PNG", help="draw the figure to this file (needs matplotlib)")
    args = parser.parse_args()

    base = ms.Scenario.load(SCENARIO)
    with open(SCENARIO, "rb") as f:
        matrix = tomllib.load(f)["correlation"]["matrix"]
    index = {symbol: i for i, symbol in enumerate(base.symbols)}
    file_rho = matrix[index[PAIR[0]]][index[PAIR[1]]]
    others = ", ".join(f"{a}/{b} {matrix[index[a]][index[b]]:.2f}" for a in base.symbols for b in base.symbols
                       if index[a] < index[b] and (a, b) != PAIR)
    print(f"{PAIR[0]}/{PAIR[1]} correlation of configs/seed_example.toml (file: {file_rho}), "
          f"{args.paths:,} paths, seed {args.seed}")
    rows = sweep(base, args.paths, args.seed)
    print_table(rows)
    if args.out:
        plot(rows, file_rho, others, args.paths, args.seed, args.out)


if __name__ == "__main__":
    main()
