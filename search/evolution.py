"""The genes of one (width, resolutions) space and the evolutionary operators on them.

TinyNAS stage 2 searches inside one space chosen by stage 1: a width multiplier and one or
several input resolutions. A candidate is a vector of plain ints, one per choice of
`SearchSpace.choices()` (the order the supernet's `encode` uses and the keras-tuner oracle
declares as hyperparameters). The vector is kept *canonical*: the kernel and expansion genes of
block positions beyond a stage's depth carry no information, so they hold the first option,
which makes genome and `Arch` one-to-one (`SearchSpace.values(arch)` gives the same vector) and
lets a set of genomes stand for the set of architectures tried.

The operators are OFA's / MCUNet's: mutation resamples each gene with a probability (the
resolution with its own), crossover takes each gene from one of two parents. Genes that an
operator makes active without any parent having them active (a stage that grew deeper) are
drawn afresh, so the canonical placeholders never leak into children as if they were choices.
This module needs neither TensorFlow nor keras-tuner.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import random
from typing import Iterator, Mapping, Sequence

from .space import Arch, SearchSpace

__all__ = ["Genes", "narrow_space"]

Genome = tuple[int, ...]


def narrow_space(space: SearchSpace, width_mult: float,
                 resolutions: int | Sequence[int] | None = None) -> SearchSpace:
    """`space` restricted to one width multiplier and the given resolutions (all of the
    space's when None), sorted: the space the supernet and the oracle of stage 2 share."""
    if resolutions is None:
        resolutions = space.resolutions
    elif isinstance(resolutions, (int, float)) or hasattr(resolutions, "__index__"):
        resolutions = (resolutions,)
    resolutions = tuple(sorted({int(r) for r in resolutions}))
    if not resolutions or min(resolutions) < 1:
        raise ValueError(f"resolutions must be positive integers, not {resolutions!r}")
    return dataclasses.replace(space, widths=(float(width_mult),), resolutions=resolutions)


class Genes:
    """The choices of one narrowed space (`narrow_space`) as a genome, and its operators."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.width_mult = space.widths[0]
        choices = space.choices()
        self.names: tuple[str, ...] = tuple(choices)
        self.options: tuple[tuple[int, ...], ...] = tuple(
            tuple(int(v) for v in o) for o in choices.values())
        index = {name: k for k, name in enumerate(self.names)}
        self.resolution = index.get("resolution")
        # per searchable stage: (its depth gene or None, its only depth, its block genes)
        self.stages: list[tuple[int | None, int, list[tuple[int, int]]]] = []
        for i, depths in enumerate(space.stage_depths(), start=1):
            blocks = [(index[f"s{i}_b{j}_kernel"], index[f"s{i}_b{j}_expand"])
                      for j in range(max(depths))]
            self.stages.append((index.get(f"s{i}_depth"), depths[0], blocks))

    # -- genome <-> values <-> Arch ----------------------------------------------------------

    def depth(self, genome: Sequence[int], stage: int) -> int:
        gene, fixed, _ = self.stages[stage]
        return fixed if gene is None else genome[gene]

    def canonical(self, genome: Sequence[int]) -> Genome:
        """The genome with the genes of absent blocks at their first option."""
        g = list(genome)
        for s, (_, _, blocks) in enumerate(self.stages):
            for kernel, expand in blocks[self.depth(g, s):]:
                g[kernel], g[expand] = self.options[kernel][0], self.options[expand][0]
        return tuple(g)

    def declare(self, hp) -> dict[str, int]:
        """Declare the choices in keras-tuner HyperParameters `hp` (a `Choice` of plain ints
        each, in order) and return their values there (defaults: the first options)."""
        return {name: hp.Choice(name, list(options))
                for name, options in zip(self.names, self.options)}

    def values(self, genome: Sequence[int]) -> dict[str, int]:
        return {name: int(v) for name, v in zip(self.names, genome)}

    def from_values(self, values: Mapping) -> Genome:
        """The canonical genome of choice values (a dict or keras-tuner HyperParameters'
        `values`); raises ValueError naming a missing or out-of-space value."""
        genome = []
        for name, options in zip(self.names, self.options):
            if name not in values:
                raise ValueError(f"choice {name!r} is missing (expected {list(self.names)})")
            value = values[name]
            if isinstance(value, bool) or int(value) != value or int(value) not in options:
                raise ValueError(f"choice {name}={value!r} is not one of {list(options)}")
            genome.append(int(value))
        return self.canonical(genome)

    def of(self, obj) -> Genome:
        """The genome of an Arch, a dict of choice values, keras-tuner HyperParameters or a
        Trial (ValueError when it is not of this space)."""
        if isinstance(obj, Arch):
            return self.genome(obj)
        obj = getattr(obj, "hyperparameters", obj)
        return self.from_values(obj if isinstance(obj, Mapping) else obj.values)

    def arch(self, genome: Sequence[int]) -> Arch:
        return self.space.arch(self.values(genome), self.width_mult, self.space.resolutions[0])

    def genome(self, arch: Arch) -> Genome:
        """The genome of an Arch of this space (ValueError when it is not in the space)."""
        values = self.space.values(arch)
        genome = self.from_values(values)
        if self.arch(genome) != arch:
            raise ValueError(f"{arch.label()}: not in the search space (widths, classes, "
                             "channels or resolution differ)")
        return genome

    # -- the operators -----------------------------------------------------------------------

    def random(self, rng: random.Random) -> Genome:
        """A genome drawn uniformly, depth first (as `SearchSpace.sample`)."""
        g = [options[0] for options in self.options]
        for gene, _, _ in self.stages:
            if gene is not None:
                g[gene] = rng.choice(self.options[gene])
        for s, (_, _, blocks) in enumerate(self.stages):
            for kernel, expand in blocks[:self.depth(g, s)]:
                g[kernel] = rng.choice(self.options[kernel])
                g[expand] = rng.choice(self.options[expand])
        if self.resolution is not None:
            g[self.resolution] = rng.choice(self.options[self.resolution])
        return tuple(g)

    def mutate(self, parent: Sequence[int], rng: random.Random, prob: float,
               resolution_prob: float) -> Genome:
        """Each gene resampled uniformly with probability `prob` (the resolution with
        `resolution_prob`); blocks a deeper stage gains are drawn afresh."""
        g = list(parent)
        for k, options in enumerate(self.options):
            p = resolution_prob if k == self.resolution else prob
            if rng.random() < p:
                g[k] = rng.choice(options)
        return self._fill(g, parent, parent, rng)

    def crossover(self, a: Sequence[int], b: Sequence[int], rng: random.Random) -> Genome:
        """Each gene from one parent or the other (a block's genes from a parent that has the
        block, when one has it)."""
        g = [x if rng.random() < 0.5 else y for x, y in zip(a, b)]
        return self._fill(g, a, b, rng)

    def _fill(self, g: list, a: Sequence[int], b: Sequence[int], rng: random.Random) -> Genome:
        """Fix the genes of blocks that exist in the child `g`: from the parent that has the
        block when only one has it (the other's genes are placeholders), drawn afresh when
        none has it."""
        for s, (_, _, blocks) in enumerate(self.stages):
            in_a, in_b = self.depth(a, s), self.depth(b, s)
            for j, pair in enumerate(blocks[:self.depth(g, s)]):
                for k in pair:
                    if j >= in_a and j >= in_b:
                        g[k] = rng.choice(self.options[k])
                    elif j >= in_a:
                        g[k] = b[k]
                    elif j >= in_b:
                        g[k] = a[k]
        return self.canonical(g)

    # -- the size of the space ---------------------------------------------------------------

    def count(self) -> int:
        """How many distinct architectures the space holds."""
        total = len(self.options[self.resolution]) if self.resolution is not None else 1
        for gene, fixed, blocks in self.stages:
            depths = self.options[gene] if gene is not None else (fixed,)
            total *= sum(math.prod(len(self.options[k]) * len(self.options[e])
                                   for k, e in blocks[:d]) for d in depths)
        return total

    def enumerate(self) -> Iterator[Genome]:
        """Every canonical genome, each once (meant for small spaces: see `count`)."""
        parts = []  # per stage: every (gene, value) assignment of its depth and its blocks
        for gene, fixed, blocks in self.stages:
            stage = []
            for d in (self.options[gene] if gene is not None else (fixed,)):
                active = [k for pair in blocks[:d] for k in pair]
                genes = ([gene] if gene is not None else []) + active
                for vals in itertools.product(*(self.options[k] for k in active)):
                    stage.append(tuple(zip(genes, ((d,) if gene is not None else ()) + vals)))
            parts.append(stage)
        if self.resolution is not None:
            parts.append([((self.resolution, r),) for r in self.options[self.resolution]])
        base = [options[0] for options in self.options]
        for combo in itertools.product(*parts):
            g = list(base)
            for assignment in combo:
                for k, v in assignment:
                    g[k] = v
            yield tuple(g)
