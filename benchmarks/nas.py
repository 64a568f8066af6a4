"""Benchmark of TinyNAS's search on Fashion-MNIST: does the evolution find better networks?

`python -m tflm_mcunet.benchmarks.nas --search [--minutes 18] [--trials 100] [--quick]`

For each budget (64 kB SRAM / 256 kB Flash, then 32 kB / 128 kB: the whole firmware, arena +
stack reserve and model data + code, by the converter's exact cost model):

1. `tinynas.search(...)` on the 60,000 training images (5,000 held out for validation), with
   `--minutes` for the whole search (stage 1, the supernet by the sandwich rule, at most
   `--trials` subnets scored by the evolution, fine-tuning of the best); the fine-tuned float
   model's accuracy on the 10,000 test images.
2. Random search with the same supernet and as many trials as the evolution scored: the oracle
   with a population as large as the search, so that every candidate is a random feasible one.
3. The table: the best subnet of each search and the median random feasible subnet
   (validation accuracy inside the supernet, after batch-norm recalibration), the gap between
   the best and the median (goal >= 2 pp) and whether evolution beat random search.

Wall-clock times depend on the machine and its load: printed with the machine, never asserted.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from .search_space import machine

#: the budgets of issue 19: (name, SRAM, Flash)
BUDGETS = (("64 kB / 256 kB", "64K", "256K"), ("32 kB / 128 kB", "32K", "128K"))
GOALS = {"best_over_median_pp": 2.0}


def random_search(plan: dict, net, trials: int, directory: Path, seed: int) -> list[float]:
    """Validation accuracies of `trials` random feasible subnets of `net` (a TinyNASOracle
    whose population is the whole search never breeds)."""
    from tflm_mcunet.search.nas import evaluation_arrays
    from tflm_mcunet.search.oracle import TinyNASOracle
    from tflm_mcunet.search.tuner import SupernetTuner

    oracle = TinyNASOracle(plan["space"], plan["width"], plan["resolution"],
                           device=plan["device"], max_trials=trials, population=trials,
                           seed=seed + 1)
    calibration, validation = evaluation_arrays(plan)
    tuner = SupernetTuner(oracle, net, calibration, validation, directory=str(directory),
                          project_name="random", overwrite=True)
    tuner.progress = True
    tuner.search(verbose=False)
    return [t.metrics.get_last_value("val_accuracy") for t in oracle.trials.values()
            if t.metrics.exists("val_accuracy")]


def test_accuracy(model, test, resolution: int) -> float:
    from tflm_mcunet.search.data import image_dataset

    data = image_dataset(test, resolution, 1, batch_size=500)
    return float(model.evaluate(data, verbose=0, return_dict=True)["accuracy"])


def run_budget(name, sram, flash, data, args, directory: Path) -> dict:
    import keras

    from tflm_mcunet import tinynas
    from tflm_mcunet.search.nas import plan_search, train

    (x, y), test = data
    keras.utils.set_random_seed(args.seed)
    augment = keras.layers.RandomFlip("horizontal", seed=args.seed)
    project = f"nas-{sram}-{flash}"
    start = time.monotonic()
    result = tinynas.search((x, y), sram=sram, flash=flash, time_budget=args.minutes * 60,
                            epochs=args.epochs, max_trials=args.trials, augment=augment,
                            directory=directory, project_name=project, seed=args.seed,
                            verbose=2)
    minutes = (time.monotonic() - start) / 60
    evolution = [t["val_accuracy"] for t in result.trials]
    # the same supernet (loaded from the project) and validation split, random candidates
    plan = plan_search((x, y), sram=sram, flash=flash, seed=args.seed, verbose=0)
    net = train((x, y), sram=sram, flash=flash, directory=directory, project_name=project,
                seed=args.seed, verbose=0)
    randoms = random_search(plan, net, len(evolution), directory / project, args.seed)
    row = {"budget": name, "space": result.arch.label(), "minutes": minutes,
           "trials": len(evolution), "best_evolution": max(evolution),
           "best_random": max(randoms), "median_random": statistics.median(randoms),
           "finetuned_val": result.accuracy["finetuned"],
           "test": test_accuracy(result.model, test, result.arch.resolution),
           "peak_sram": result.cost.peak_sram_bytes, "flash": result.cost.flash_bytes,
           "macs": result.cost.macs}
    row["gap_pp"] = 100 * (row["best_evolution"] - row["median_random"])
    row["goals"] = {"best >= median random + 2 pp": row["gap_pp"] >= GOALS["best_over_median_pp"],
                    "evolution beats random": row["best_evolution"] > row["best_random"]}
    print(result.to_markdown(top=10), "\n", flush=True)
    return row


def to_markdown(rows: list[dict]) -> str:
    pct = lambda v: f"{100 * v:.2f}%"  # noqa: E731
    lines = ["| budget | chosen | trials | best (evolution) | best (random) | median random | "
             "best - median | fine-tuned val | test (float) | peak SRAM | Flash | MMACs | "
             "minutes |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['budget']} | {r['space']} | {r['trials']} | "
                     f"{pct(r['best_evolution'])} | {pct(r['best_random'])} | "
                     f"{pct(r['median_random'])} | {r['gap_pp']:+.2f} pp | "
                     f"{pct(r['finetuned_val'])} | {pct(r['test'])} | "
                     f"{r['peak_sram'] / 1024:.1f} kB | {r['flash'] / 1024:.1f} kB | "
                     f"{r['macs'] / 1e6:.2f} | {r['minutes']:.1f} |")
    lines.append("")
    for r in rows:
        lines.append(f"Goals at {r['budget']}: " + "; ".join(
            f"{goal}: {'met' if ok else 'NOT met'}" for goal, ok in r["goals"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--search", action="store_true", required=True,
                        help="evolution against random search inside the supernet")
    parser.add_argument("--minutes", type=float, default=18.0,
                        help="time budget of each search (18)")
    parser.add_argument("--epochs", type=int, default=30, help="most supernet epochs (30)")
    parser.add_argument("--trials", type=int, default=100, help="most trials per search (100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--directory", help="keep the projects here (default: a temporary "
                        "folder)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 6,000 images, 2 minutes, 10 trials, one budget")
    args = parser.parse_args(argv)

    from tflm_mcunet import datasets

    print(f"Machine: {machine()}\n", flush=True)
    (x, y), (xt, yt) = datasets.fashion_mnist()
    budgets = BUDGETS
    if args.quick:
        x, y, xt, yt = x[:6000], y[:6000], xt[:1000], yt[:1000]
        args.minutes, args.trials, budgets = 2.0, 10, BUDGETS[:1]
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(args.directory or scratch)
        rows = [run_budget(*budget, ((x, y), (xt, yt)), args, directory)
                for budget in budgets]
    print(to_markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
