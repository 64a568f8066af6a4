"""The MCUNet search space and its architectures.

An architecture (`Arch`) is a MobileNetV2-style network described stage by stage:

    first conv (k x k, stride 2, conv + BN + ReLU6)
    stage 0: one MBConv1 block (3x3 depthwise, no expansion, stride 1)       fixed
    stages 1..6: strides [2, 2, 2, 1, 2, 1]; each a list of inverted-residual blocks
        block = 1x1 expansion to in*expand (absent when expand is 1) + ReLU6,
                k x k depthwise (stride on the stage's first block) + ReLU6,
                linear 1x1 projection; residual add when stride 1 and in == out
    optional 1x1 feature-mix conv (+ ReLU6), global average pooling, dense classifier (logits)

Every conv is followed by batch norm (folded away by the int8 conversion) and uses SAME
padding. That is the block format of `benchmarks/archs/*.json` (MCUNet, MobileNetV2 and
ProxylessNAS networks): `Arch.from_json` reads both that format and the compact one written
by `Arch.to_json`, and every one of those files is expressible.

The search space (`SearchSpace`) is TinyNAS's: ProxylessNAS base widths scaled by a width
multiplier W (rounded to multiples of 8, as MobileNetV2's `make_divisible`), input resolution
R, depth {2, 3, 4} for stages 1-5 (stage 6 has one block), kernel size {3, 5, 7} and expansion
ratio {3, 4, 6} per block. Stage 1 of TinyNAS picks the (W, R) pair; see `search.stage1`.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

__all__ = ["Block", "Stage", "Arch", "SearchSpace", "make_divisible", "WIDTHS", "RESOLUTIONS",
           "STRIDES", "PROXYLESS_WIDTHS"]

FORMAT = "tflm-mcunet-arch/1"

#: TinyNAS stage 1: width multipliers and input resolutions (9 x 12 = 108 spaces)
WIDTHS: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
RESOLUTIONS: tuple[int, ...] = tuple(range(48, 225, 16))
#: strides of the searchable stages 1..6 (stage 0 is the fixed MBConv1 block)
STRIDES: tuple[int, ...] = (2, 2, 2, 1, 2, 1)
#: ProxylessNAS / MCUNet base widths: first conv, stage 0 (MBConv1), stages 1..6
PROXYLESS_WIDTHS: tuple[int, ...] = (32, 16, 24, 40, 80, 96, 192, 320)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of `divisor`, never down by more than 10%
    (the rule of MobileNetV2 and every network of this family)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class Block:
    """One inverted-residual block of a stage: depthwise kernel size and expansion ratio."""

    kernel: int
    expand: int

    def __post_init__(self):
        if int(self.kernel) < 1 or int(self.expand) < 1:
            raise ValueError(f"block kernel {self.kernel} and expand {self.expand} must be >= 1")


@dataclass(frozen=True)
class Stage:
    """Blocks with the same output width; only the first may change the resolution."""

    out: int
    stride: int
    blocks: tuple[Block, ...]

    def __post_init__(self):
        if self.out < 1 or self.stride < 1 or not self.blocks:
            raise ValueError(f"stage (out {self.out}, stride {self.stride}) needs out >= 1, "
                             "stride >= 1 and at least one block")

    @property
    def depth(self) -> int:
        return len(self.blocks)


@dataclass(frozen=True)
class Arch:
    """A network of the search space: a small immutable value, hashable, JSON round trip."""

    resolution: int
    first_conv: int  # output channels of the first conv
    stages: tuple[Stage, ...]  # stage 0 first: [MBConv1] then the searchable stages
    classes: int = 1000
    input_channels: int = 3
    feature_mix: int | None = None  # channels of the 1x1 conv before pooling, if any
    first_kernel: int = 3
    first_stride: int = 2
    name: str = field(default="", compare=False)
    #: the width multiplier and resolution this arch was sampled from (informational)
    width_mult: float | None = field(default=None, compare=False)

    def __post_init__(self):
        if min(self.resolution, self.first_conv, self.classes, self.input_channels,
               self.first_kernel, self.first_stride) < 1:
            raise ValueError("resolution, channels, classes, kernel and stride must be >= 1")
        if not self.stages:
            raise ValueError("an architecture needs at least one stage")
        if self.feature_mix is not None and self.feature_mix < 1:
            raise ValueError(f"feature_mix {self.feature_mix} must be >= 1 (or None)")

    # -- structure ----------------------------------------------------------------------------

    def blocks(self) -> Iterable[dict]:
        """Every block with its channels and stride, as in the `archs/*.json` block format."""
        channels = self.first_conv
        for stage in self.stages:
            for i, b in enumerate(stage.blocks):
                stride = stage.stride if i == 0 else 1
                yield dict(kernel=b.kernel, expand=b.expand, stride=stride, **{"in": channels},
                           mid=channels * b.expand, out=stage.out,
                           residual=stride == 1 and channels == stage.out)
                channels = stage.out

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(s.depth for s in self.stages)

    @property
    def last_channels(self) -> int:
        return self.feature_mix or self.stages[-1].out

    def label(self) -> str:
        return self.name or f"w{self.width_mult}-r{self.resolution}"

    # -- serialisation ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        d = {"format": FORMAT, "name": self.name, "resolution": self.resolution,
             "input_channels": self.input_channels, "classes": self.classes,
             "first_conv": {"out": self.first_conv, "kernel": self.first_kernel,
                            "stride": self.first_stride},
             "stages": [{"out": s.out, "stride": s.stride,
                         "blocks": [[b.kernel, b.expand] for b in s.blocks]}
                        for s in self.stages],
             "feature_mix": self.feature_mix}
        if self.width_mult is not None:
            d["width_mult"] = self.width_mult
        return d

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_blocks_dict(self) -> dict:
        """The `benchmarks/archs/*.json` block format (what `benchmarks.zoo.build_arch` reads)."""
        return {"name": self.label(), "resolution": self.resolution,
                "input_channels": self.input_channels,
                "first_conv": {"kernel": self.first_kernel, "stride": self.first_stride,
                               "out": self.first_conv},
                "blocks": list(self.blocks()),
                "feature_mix": {"out": self.feature_mix} if self.feature_mix else None,
                "classes": self.classes}

    @classmethod
    def from_dict(cls, d: dict) -> "Arch":
        if "stages" in d:
            return cls._from_stages(d)
        if "blocks" in d:
            return cls._from_blocks(d)
        raise ValueError("not an architecture: expected 'stages' (tflm-mcunet format) or "
                         "'blocks' (archs/*.json format)")

    @classmethod
    def from_json(cls, text_or_path) -> "Arch":
        """An Arch from JSON text, a path to a JSON file, or an already parsed dict. Reads the
        compact format of `to_json` and the block format of `archs/*.json`."""
        if isinstance(text_or_path, dict):
            return cls.from_dict(text_or_path)
        if isinstance(text_or_path, Path) or (
                isinstance(text_or_path, str) and not text_or_path.lstrip().startswith("{")):
            text_or_path = Path(text_or_path).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text_or_path))

    @classmethod
    def _from_stages(cls, d: dict) -> "Arch":
        fc = d["first_conv"]
        stages = tuple(Stage(int(s["out"]), int(s["stride"]),
                             tuple(Block(int(k), int(e)) for k, e in s["blocks"]))
                       for s in d["stages"])
        fm = d.get("feature_mix")
        if isinstance(fm, dict):
            fm = fm.get("out")
        return cls(int(d["resolution"]), int(fc["out"]), stages, int(d.get("classes", 1000)),
                   int(d.get("input_channels", 3)), int(fm) if fm else None,
                   int(fc.get("kernel", 3)), int(fc.get("stride", 2)), str(d.get("name", "")),
                   d.get("width_mult"))

    @classmethod
    def _from_blocks(cls, d: dict) -> "Arch":
        """Group the blocks into stages: a new stage starts where the width changes or a
        block has a stride; check the channels, expansion and residual flags agree."""
        name = d.get("name", "")
        fc = d["first_conv"]
        channels = int(fc["out"])
        stages: list[tuple[int, int, list[Block]]] = []
        for i, b in enumerate(d["blocks"]):
            k, e, s = int(b["kernel"]), int(b["expand"]), int(b["stride"])
            cin, out = int(b["in"]), int(b["out"])
            if cin != channels:
                raise ValueError(f"{name}: block {i} expects {cin} input channels, the previous "
                                 f"layer gives {channels}")
            if "mid" in b and int(b["mid"]) != cin * e:
                raise ValueError(f"{name}: block {i} has mid {b['mid']}, not in x expand = "
                                 f"{cin * e}; only integer expansion ratios are expressible")
            residual = s == 1 and cin == out
            if "residual" in b and bool(b["residual"]) != residual:
                raise ValueError(f"{name}: block {i} residual={b['residual']}, but a block has "
                                 "a residual exactly when its stride is 1 and in == out")
            if s != 1 or not stages or stages[-1][0] != out:
                stages.append((out, s, []))
            stages[-1][2].append(Block(k, e))
            channels = out
        fm = d.get("feature_mix")
        fm = fm.get("out") if isinstance(fm, dict) else fm
        return cls(int(d["resolution"]), int(fc["out"]),
                   tuple(Stage(o, s, tuple(bl)) for o, s, bl in stages),
                   int(d.get("classes", 1000)), int(d.get("input_channels", 3)),
                   int(fm) if fm else None, int(fc.get("kernel", 3)), int(fc.get("stride", 2)),
                   str(name))


@dataclass(frozen=True)
class SearchSpace:
    """TinyNAS's space for one width multiplier and resolution (or for all of them).

    `base_widths`: first conv, stage 0 (MBConv1) and one per stage in `strides`; scaled by the
    width multiplier and rounded to multiples of 8. `depths` apply to every stage but the
    last, which has `last_depth` blocks; every block draws its kernel and expansion ratio.
    """

    widths: tuple[float, ...] = WIDTHS
    resolutions: tuple[int, ...] = RESOLUTIONS
    depths: tuple[int, ...] = (2, 3, 4)
    kernels: tuple[int, ...] = (3, 5, 7)
    expands: tuple[int, ...] = (3, 4, 6)
    strides: tuple[int, ...] = STRIDES
    base_widths: tuple[int, ...] = PROXYLESS_WIDTHS
    last_depth: int = 1
    classes: int = 1000
    input_channels: int = 3
    feature_mix: int | None = None  # base channels of a feature-mix conv (scaled like a stage)

    def __post_init__(self):
        if len(self.base_widths) != len(self.strides) + 2:
            raise ValueError(f"base_widths needs {len(self.strides) + 2} values (first conv, "
                             f"MBConv1, one per stage), has {len(self.base_widths)}")
        for what in ("widths", "resolutions", "depths", "kernels", "expands"):
            if not getattr(self, what):
                raise ValueError(f"search space: {what} is empty")

    def pairs(self) -> list[tuple[float, int]]:
        return [(w, r) for w in self.widths for r in self.resolutions]

    def stage_widths(self, width_mult: float) -> tuple[int, ...]:
        return tuple(make_divisible(c * width_mult) for c in self.base_widths)

    # -- the choices inside one (W, R) space: what TinyNAS stage 2 searches ------------------

    def stage_depths(self) -> tuple[tuple[int, ...], ...]:
        """The depth options of each searchable stage (the last one has `last_depth`)."""
        last = len(self.strides) - 1
        return tuple((self.last_depth,) if i == last else tuple(self.depths)
                     for i in range(len(self.strides)))

    def choices(self) -> dict[str, tuple[int, ...]]:
        """Every choice of an architecture in one (width, resolution) space, by name, in a
        fixed order: `s{i}_depth` of each searchable stage i (1-based, as in `Arch.stages`;
        only where there is more than one option), then `s{i}_b{j}_kernel` and
        `s{i}_b{j}_expand` of every block position j up to the deepest option, then
        `resolution` when the space has several. Values are plain ints: they serve as
        keras-tuner hyperparameters and as the supernet's configuration vector."""
        result: dict[str, tuple[int, ...]] = {}
        for i, depths in enumerate(self.stage_depths(), start=1):
            if len(depths) > 1:
                result[f"s{i}_depth"] = depths
            for j in range(max(depths)):
                result[f"s{i}_b{j}_kernel"] = tuple(self.kernels)
                result[f"s{i}_b{j}_expand"] = tuple(self.expands)
        if len(self.resolutions) > 1:
            result["resolution"] = tuple(self.resolutions)
        return result

    def arch(self, values: Mapping[str, int], width_mult: float, resolution: int | None = None,
             name: str = "") -> Arch:
        """The architecture of these choice values (`choices()`) in the `width_mult` space;
        `resolution` when `values` has none. Positions beyond a stage's depth are ignored."""
        widths = self.stage_widths(width_mult)
        stages = [Stage(widths[1], 1, (Block(3, 1),))]
        for i, (stride, out, depths) in enumerate(
                zip(self.strides, widths[2:], self.stage_depths()), start=1):
            depth = int(values.get(f"s{i}_depth", depths[0]))
            stages.append(Stage(out, stride, tuple(
                Block(int(values[f"s{i}_b{j}_kernel"]), int(values[f"s{i}_b{j}_expand"]))
                for j in range(depth))))
        resolution = int(values.get("resolution", resolution or self.resolutions[0]))
        mix = make_divisible(self.feature_mix * width_mult) if self.feature_mix else None
        return Arch(resolution, widths[0], tuple(stages), self.classes, self.input_channels,
                    mix, name=name, width_mult=width_mult)

    def values(self, arch: Arch) -> dict[str, int]:
        """The choice values of an architecture of this space (inverse of `arch`); block
        positions beyond a stage's depth take the first option. Raises ValueError when `arch`
        is not in the space."""
        choices = self.choices()
        if len(arch.stages) != len(self.strides) + 1:
            raise ValueError(f"{arch.label()}: has {len(arch.stages)} stages, the space "
                             f"{len(self.strides) + 1}")
        result = {}
        for i, stage in enumerate(arch.stages[1:], start=1):
            if f"s{i}_depth" in choices:
                result[f"s{i}_depth"] = stage.depth
            for j in range(max(self.stage_depths()[i - 1])):
                block = stage.blocks[j] if j < stage.depth else None
                result[f"s{i}_b{j}_kernel"] = block.kernel if block else self.kernels[0]
                result[f"s{i}_b{j}_expand"] = block.expand if block else self.expands[0]
        if "resolution" in choices:
            result["resolution"] = arch.resolution
        bad = [f"{k}={v}" for k, v in result.items() if v not in choices[k]]
        if bad or stage.depth not in self.stage_depths()[-1]:
            raise ValueError(f"{arch.label()}: not in the search space ({', '.join(bad) or 'depth'})")
        return result

    def sample(self, width_mult: float, resolution: int, rng: random.Random | None = None,
               name: str = "") -> Arch:
        """One architecture drawn uniformly (depths, kernels, expansions) for this (W, R)."""
        rng = rng or random.Random()
        choice = rng.choice
        values: dict[str, int] = {}
        # drawn stage by stage, depth first, then only the blocks that exist (the order of
        # draws fixes the architectures a seed gives: stage 1's tables depend on it)
        for i, depths in enumerate(self.stage_depths(), start=1):
            depth = choice(depths) if len(depths) > 1 else depths[0]
            values[f"s{i}_depth"] = depth
            for j in range(depth):
                values[f"s{i}_b{j}_kernel"] = choice(self.kernels)
                values[f"s{i}_b{j}_expand"] = choice(self.expands)
        return self.arch(values, width_mult, resolution, name)

    def largest(self, width_mult: float, resolution: int) -> Arch:
        """The arch with the most MACs, weights and activations of this (W, R)."""
        return self._extreme(width_mult, resolution, max)

    def smallest(self, width_mult: float, resolution: int) -> Arch:
        return self._extreme(width_mult, resolution, min)

    def _extreme(self, width_mult, resolution, pick) -> Arch:
        values = {name: pick(options) for name, options in self.choices().items()
                  if name != "resolution"}
        return self.arch(values, width_mult, resolution)
