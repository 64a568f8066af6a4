"""`tflm-mcunet search-space`: TinyNAS stage 1 from the command line.

Wire it into `tflm_mcunet.cli.build_parser` with `add_search_space_parser(sub)`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_search_space_parser", "run_search_space"]


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
