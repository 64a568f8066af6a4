"""TinyNAS stage 1: choose the search space (width multiplier W x resolution R) for a device.

For every (W, R) pair, sample architectures uniformly (depths, kernels, expansion ratios), keep
those that fit the device, and look at the distribution of their MACs: a space whose fitting
models have more computation is more likely to hold an accurate model. Spaces are ranked by the
mean MACs of their fitting models (MCUNet, Sec. 3.1 and Fig. 3), among the spaces where at least
`min_fit` of the samples fit: a mean over a handful of fitting samples says little, and stage 2
would reject nearly every candidate of such a space (the others rank after them).

"Fits" is the converter's answer, not a proxy: the arena planned by the converter for that
network plus the firmware's stack reserve within the SRAM; its model data plus the measured
code-size estimate within the Flash (`search.cost`, `Device.fit`).
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..devices import get_device
from .cost import cost
from .space import SearchSpace

__all__ = ["SpaceStats", "Stage1Result", "optimize_space", "evaluate_space", "space_name"]


def space_name(width_mult: float, resolution: int) -> str:
    return f"w{width_mult:g}-r{resolution}"


@dataclass
class SpaceStats:
    """The sampled models of one (W, R) space."""

    width_mult: float
    resolution: int
    samples: int
    macs: np.ndarray  # MACs of the fitting models, sorted
    min_sram_bytes: int  # the smallest arena among all samples (how far off a space is)
    min_flash_bytes: int
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return space_name(self.width_mult, self.resolution)

    @property
    def fitting(self) -> int:
        return int(self.macs.size)

    @property
    def fit_fraction(self) -> float:
        return self.fitting / self.samples if self.samples else 0.0

    @property
    def mean_macs(self) -> float:
        """Mean MACs of the models that fit (0 when none fits): the ranking score."""
        return float(self.macs.mean()) if self.fitting else 0.0

    def quantile(self, q: float) -> float:
        return float(np.quantile(self.macs, q)) if self.fitting else 0.0

    def to_dict(self) -> dict:
        return {"space": self.name, "width_mult": self.width_mult, "resolution": self.resolution,
                "samples": self.samples, "fitting": self.fitting,
                "mean_macs": self.mean_macs, "median_macs": self.quantile(0.5),
                "p80_macs": self.quantile(0.8),
                "max_macs": int(self.macs[-1]) if self.fitting else 0,
                "min_sram_bytes": self.min_sram_bytes, "min_flash_bytes": self.min_flash_bytes}


@dataclass
class Stage1Result:
    device: object  # devices.Device
    spaces: list[SpaceStats]  # best first
    samples: int
    seed: int
    seconds: float
    space: SearchSpace = field(default_factory=SearchSpace)
    jobs: int = 1
    min_fit: float = 0.0

    @property
    def best(self) -> SpaceStats:
        return self.spaces[0]

    @property
    def ms_per_arch(self) -> float:
        """Wall-clock milliseconds per architecture (all workers together)."""
        total = sum(s.samples for s in self.spaces)
        return 1000 * self.seconds / total if total else 0.0

    def get(self, width_mult: float, resolution: int) -> SpaceStats:
        for s in self.spaces:
            if abs(s.width_mult - width_mult) < 1e-9 and s.resolution == resolution:
                return s
        raise KeyError(space_name(width_mult, resolution))

    def _shown(self, top: int | None, also: tuple[str, ...]) -> list[tuple[int, SpaceStats]]:
        """(rank, stats) of the `top` spaces, then of the named ones not among them."""
        ranked = list(enumerate(self.spaces, 1))
        shown = ranked if top is None else ranked[:top]
        names = {s.name for _, s in shown}
        missing = set(also) - {s.name for s in self.spaces}
        if missing:
            raise KeyError(f"no space {', '.join(sorted(missing))} in this result")
        return shown + [(k, s) for k, s in ranked if s.name in also and s.name not in names]

    def to_markdown(self, top: int | None = 10, also: tuple[str, ...] = ()) -> str:
        """The ranking table: the `top` spaces (None: all), and the spaces named in `also`."""
        d = self.device
        lines = [
            f"TinyNAS stage 1 for {d.name} ({d.sram_bytes // 1024} kB SRAM, "
            f"{d.flash_bytes // 1024} kB Flash): {len(self.spaces)} spaces x {self.samples} "
            f"samples (seed {self.seed}), {self.space.classes} classes",
            "",
            "| rank | space | fit | mean MMACs (fitting) | median | top 20% from | max | "
            "smallest peak SRAM (kB) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for k, s in self._shown(top, tuple(also)):
            lines.append(
                f"| {k} | {s.name} | {s.fitting}/{s.samples} | {s.mean_macs / 1e6:.1f} | "
                f"{s.quantile(0.5) / 1e6:.1f} | {s.quantile(0.8) / 1e6:.1f} | "
                f"{(s.macs[-1] if s.fitting else 0) / 1e6:.1f} | {s.min_sram_bytes / 1024:.1f} |")
        fitting = sum(s.fitting > 0 for s in self.spaces)
        lines += ["", f"Best space: {self.best.name} (mean {self.best.mean_macs / 1e6:.1f} M "
                      f"MACs over its {self.best.fitting} fitting models); {fitting} of "
                      f"{len(self.spaces)} spaces have a model that fits"
                      + (f"; spaces where fewer than {self.min_fit:.0%} of the samples fit "
                         "rank last." if self.min_fit else "."),
                  f"Fits = arena + {_stack_bytes():,} B stack <= SRAM and weights, biases, "
                  "requantization constants + code estimate <= Flash (the converter's own "
                  "planner and constant data).",
                  f"{self.ms_per_arch:.2f} ms per architecture, wall clock with {self.jobs} "
                  f"worker{'s' if self.jobs > 1 else ''} ({self.seconds:.0f} s in all)."]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps({"device": self.device.name, "sram_bytes": self.device.sram_bytes,
                           "flash_bytes": self.device.flash_bytes, "samples": self.samples,
                           "seed": self.seed, "seconds": self.seconds,
                           "spaces": [s.to_dict() for s in self.spaces]}, indent=1)

    def plot_cdf(self, path, top: int = 10, also: tuple[str, ...] = ()) -> Path:
        """A PNG of the MACs CDF of the fitting models of the `top` spaces (MCUNet Fig. 3), and
        of the spaces named in `also` (drawn dotted)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
        shown = [(rank, s) for rank, s in self._shown(top, tuple(also)) if s.fitting]
        cmap = plt.get_cmap("tab10" if len(shown) <= 10 else "tab20")
        for k, (rank, s) in enumerate(shown):
            y = np.arange(1, s.fitting + 1) / s.fitting
            style = ":" if rank > top else "-" if k < 5 else "--"
            ax.step(s.macs / 1e6, y, where="post", color=cmap(k % cmap.N),
                    linewidth=2.4 if rank == 1 else 1.3, linestyle=style,
                    label=f"#{rank} {s.name} | mean {s.mean_macs / 1e6:.1f}M "
                          f"({s.fitting} fit)")
        ax.axhline(0.8, color="gray", linewidth=0.8, linestyle=":")
        ax.set_xlabel("MACs of the models that fit (M)")
        ax.set_ylabel("cumulative probability")
        d = self.device
        ax.set_title(f"TinyNAS stage 1 on {d.name} ({d.sram_bytes // 1024} kB SRAM, "
                     f"{d.flash_bytes // 1024} kB Flash): {self.samples} samples per space")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path)
        plt.close(fig)
        return path


def _stack_bytes() -> int:
    from ..converter.targets import DEFAULT_STACK_BYTES

    return DEFAULT_STACK_BYTES


def evaluate_space(space: SearchSpace, width_mult: float, resolution: int, device,
                   samples: int, seed: int = 0, method: str = "fast") -> SpaceStats:
    """Sample `samples` architectures of one (W, R) and keep the MACs of those that fit."""
    device = get_device(device)
    rng = random.Random(f"{seed}/{width_mult:g}/{resolution}")
    start = time.perf_counter()
    macs, min_sram, min_flash = [], None, None
    for _ in range(samples):
        c = cost(space.sample(width_mult, resolution, rng), device, method=method)
        if c.fit.fits:
            macs.append(c.macs)
        min_sram = c.peak_sram_bytes if min_sram is None else min(min_sram, c.peak_sram_bytes)
        min_flash = c.flash_bytes if min_flash is None else min(min_flash, c.flash_bytes)
    return SpaceStats(width_mult, resolution, samples, np.sort(np.array(macs, np.int64)),
                      min_sram or 0, min_flash or 0, time.perf_counter() - start)


def _evaluate(job):
    return evaluate_space(*job)


def optimize_space(device="stm32f746", *, samples: int = 1000, space: SearchSpace | None = None,
                   seed: int = 0, jobs: int = 1, progress: bool = True,
                   method: str = "fast", min_fit: float = 0.05) -> Stage1Result:
    """TinyNAS stage 1 for `device` (a catalogue name, a NAME:sram=..,flash=.. spec or a
    Device): every (W, R) of `space` (default: MCUNet's 9 widths x 12 resolutions), `samples`
    random architectures each; spaces ranked by the mean MACs of the models that fit, those
    where fewer than `min_fit` of the samples fit after the others.
    `jobs` worker processes (fork); a tqdm progress bar over the spaces."""
    device = get_device(device)
    space = space or SearchSpace()
    jobs = max(1, int(jobs))
    work = [(space, w, r, device, samples, seed, method) for w, r in space.pairs()]
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(work), unit="space", desc=f"stage 1 ({device.name})")
    results: list[SpaceStats] = []
    try:
        if jobs == 1:
            for job in work:
                results.append(_evaluate(job))
                _tick(bar, results[-1])
        else:
            import multiprocessing as mp

            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(min(jobs, len(work))) as pool:
                for stats in pool.imap_unordered(_evaluate, work):
                    results.append(stats)
                    _tick(bar, stats)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    order = {(w, r): k for k, (w, r) in enumerate(space.pairs())}
    results.sort(key=lambda s: (s.fit_fraction < min_fit, -s.mean_macs,
                                order[(s.width_mult, s.resolution)]))
    return Stage1Result(device, results, samples, seed, seconds, space, jobs, min_fit)


def _tick(bar, stats: SpaceStats) -> None:
    if bar is not None:
        bar.set_postfix_str(f"{stats.name}: {stats.fitting} fit", refresh=False)
        bar.update(1)


def default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))
