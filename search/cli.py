"""`tflm-mcunet search-space` (TinyNAS stage 1) and `tflm-mcunet search` (the whole search).

Wire them into `tflm_mcunet.cli.build_parser` with `add_search_space_parser(sub)` and
`add_search_parser(sub)`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_search_space_parser", "run_search_space", "add_search_parser", "run_search"]


def add_search_space_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `search-space` subcommand (its handler through set_defaults(run=...))."""
    from .space import RESOLUTIONS, WIDTHS

    p = subparsers.add_parser(
        "search-space", help="TinyNAS stage 1: the best width x resolution space for a device",
        description="TinyNAS stage 1: for every width multiplier x input resolution "
        f"({len(WIDTHS)} x {len(RESOLUTIONS)} spaces), sample architectures of the MCUNet "
        "search space, keep those that fit the device (peak SRAM and Flash from the "
        "converter's own memory planner and constant data) and rank the spaces by the mean "
        "MACs of the models that fit. Prints the table; --plot draws the MACs CDFs.")
    p.add_argument("--device", default="stm32f746",
                   help="stm32f412, stm32f746 (default), stm32h743, nrf52840, or "
                   "NAME:sram=SIZE,flash=SIZE[,core=cortex-m4|cortex-m7]")
    p.add_argument("--samples", type=int, default=1000,
                   help="architectures sampled per space (default 1000)")
    p.add_argument("--classes", type=int, default=1000, help="classifier outputs (1000)")
    p.add_argument("--input-channels", type=int, default=3, help="image channels (3)")
    p.add_argument("--widths", type=_floats, help=f"width multipliers (default "
                   f"{','.join(f'{w:g}' for w in WIDTHS)})")
    p.add_argument("--resolutions", type=_ints, help="input resolutions (default "
                   f"{RESOLUTIONS[0]}..{RESOLUTIONS[-1]} step 16)")
    p.add_argument("--expands", type=_ints, help="expansion ratios (default 3,4,6)")
    p.add_argument("--feature-mix", type=int, metavar="CHANNELS",
                   help="add a 1x1 feature-mix conv of CHANNELS x width before pooling")
    p.add_argument("--min-fit", type=float, default=0.05, metavar="FRACTION",
                   help="spaces where fewer samples fit rank last (0.05)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="worker processes (default: up to 2)")
    p.add_argument("--top", type=int, default=10, help="spaces in the table and plot (10; "
                   "0: all)")
    p.add_argument("--compare", type=_names, default=(), metavar="SPACES",
                   help="spaces always shown in the table and plot, e.g. w0.5-r144 (MCUNet's "
                   "choice for STM32F746)")
    p.add_argument("--plot", metavar="PNG", help="write the MACs CDF plot (needs matplotlib)")
    p.add_argument("--json", metavar="FILE", help="also write every space's statistics")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run_search_space)
    return p


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers")


def run_search_space(args) -> int:
    from .space import SearchSpace
    from .stage1 import default_jobs, optimize_space

    if args.samples < 1:
        raise ValueError("--samples must be at least 1")
    options = dict(classes=args.classes, input_channels=args.input_channels,
                   feature_mix=args.feature_mix)
    for name in ("widths", "resolutions", "expands"):
        if getattr(args, name):
            options[name] = getattr(args, name)
    space = SearchSpace(**options)
    result = optimize_space(args.device, samples=args.samples, space=space, seed=args.seed,
                            jobs=args.jobs or default_jobs(), progress=not args.no_progress,
                            min_fit=args.min_fit)
    top = args.top or None
    print(result.to_markdown(top=top, also=args.compare))
    if args.plot:
        path = result.plot_cdf(args.plot, top=top or len(result.spaces), also=args.compare)
        print(f"\nCDF plot: {path}")
    if args.json:
        Path(args.json).write_text(result.to_json())
        print(f"Statistics: {args.json}")
    return 0


def add_search_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `search` subcommand."""
    p = subparsers.add_parser(
        "search", help="TinyNAS: search a network that fits a device, train it, write its C",
        description="TinyNAS on a data set: stage 1 picks the width and resolution, a\n"
        "weight-sharing supernet is trained, an evolutionary search (keras-tuner) scores\n"
        "the subnets that fit the budget (the converter's exact peak SRAM and Flash), the\n"
        "best is fine-tuned, quantized to int8 and converted to C.\n\n"
        "Writes OUTPUT/result (the Keras model and every trial), OUTPUT/pareto.png (accuracy\n"
        "against peak SRAM) and OUTPUT/model_c (the C project).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  tflm-mcunet search --sram 64K --flash 256K --minutes 15 -o found\n"
        "  tflm-mcunet search --data my_images.npz --device stm32f746 --epochs 20 -o found")
    p.add_argument("--data", default="fashion-mnist", metavar="fashion-mnist|FILE.npz",
                   help="the training images: Fashion-MNIST (default), or an .npz file with "
                   "x_train, y_train (and optionally x_val, y_val)")
    p.add_argument("--device", help="the microcontroller: stm32f412, stm32f746, stm32h743, "
                   "nrf52840, or NAME:sram=SIZE,flash=SIZE[,core=...]")
    p.add_argument("--sram", help="SRAM for the model and the stack, e.g. 64K (replaces the "
                   "device's)")
    p.add_argument("--flash", help="Flash for the model and its code, e.g. 256K")
    p.add_argument("--macs", type=int, help="at most this many multiply-accumulates")
    p.add_argument("--latency-ms", type=float, help="at most this many milliseconds per "
                   "inference at the device's clock (the Cortex-M speed model)")
    p.add_argument("--patch", choices=("auto",), help="patch-based inference (MCUNetV2)")
    p.add_argument("--minutes", type=float, help="time budget of the whole search")
    p.add_argument("--epochs", type=int, default=30, help="supernet epochs (30; the most "
                   "within --minutes)")
    p.add_argument("--trials", type=int, default=100, help="subnets scored (100)")
    p.add_argument("--finetune-epochs", type=int, help="fine-tuning epochs (3; with --minutes, "
                   "as many as half the minutes allow)")
    p.add_argument("--directory", default=None, help="keras-tuner project folder (default "
                   "OUTPUT/tuner); a search resumes from it")
    p.add_argument("--overwrite", action="store_true", help="start the search afresh")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", required=True, help="folder for the results")
    p.set_defaults(run=run_search)
    return p


def _load_data(name: str):
    """(train, validation or None) arrays from --data."""
    import numpy as np

    if name.replace("_", "-").lower() == "fashion-mnist":
        from ..datasets import fashion_mnist

        return fashion_mnist()[0], None
    data = np.load(name)
    missing = {"x_train", "y_train"} - set(data.files)
    if missing:
        raise ValueError(f"{name}: needs arrays {', '.join(sorted(missing))} (has "
                         f"{', '.join(data.files)})")
    val = (data["x_val"], data["y_val"]) if {"x_val", "y_val"} <= set(data.files) else None
    return (data["x_train"], data["y_train"]), val


def run_search(args) -> int:
    from ..tinynas import search

    if args.device is None and (args.sram is None or args.flash is None):
        raise ValueError("give --device, or both --sram and --flash")
    out = Path(args.output)
    train, val = _load_data(args.data)
    result = search(train, val, device=args.device, sram=args.sram, flash=args.flash,
                    macs=args.macs, latency_ms=args.latency_ms, patch=args.patch,
                    epochs=args.epochs,
                    time_budget=args.minutes * 60 if args.minutes else None,
                    max_trials=args.trials, finetune_epochs=args.finetune_epochs,
                    directory=args.directory or out / "tuner", project_name="search",
                    overwrite=args.overwrite, seed=args.seed)
    if result is None:
        print("tflm-mcunet search: this worker's trials are done (the chief has the result)")
        return 0
    print(result.to_markdown())
    result.save(out / "result")
    print(f"\nResult: {out / 'result'} (model.keras, result.json)")
    try:
        print(f"Plot: {result.plot(out / 'pareto.png')}")
    except ImportError:
        print("(no plot: matplotlib is not installed; pip install 'tflm-mcunet[plot]')")
    conversion = result.convert(out / "model_c", force=args.overwrite)
    print(f"C project: {out / 'model_c'} (peak SRAM {conversion.report.peak_sram_bytes:,} B, "
          f"Flash {conversion.report.flash_bytes:,} B of model data)")
    return 0
