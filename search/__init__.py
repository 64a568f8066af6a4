"""TinyNAS for tflm-mcunet: the MCUNet search space and a cost model co-designed with the
converter (the converter's own passes and memory planner give peak SRAM, Flash and MACs; a
speed model fitted on the generated code's instruction counts gives its latency).

    >>> from tflm_mcunet.search import Arch, SearchSpace, cost
    >>> arch = SearchSpace().sample(0.5, 144)
    >>> c = cost(arch, device="stm32f746")
    >>> c.peak_sram_bytes, c.flash_bytes, c.macs, c.fits          # doctest: +SKIP
    >>> c.instructions, c.latency_ms                               # doctest: +SKIP

- `Arch`: an architecture (stages of inverted-residual blocks); `to_json` / `from_json`, which
  also reads `benchmarks/archs/*.json`.
- `SearchSpace`: width multipliers x resolutions, depths, kernels, expansion ratios; `sample`.
- `cost(arch, device=None, patch=None)`: peak SRAM, Flash, MACs of the generated code (with
  patch-based inference of the first layers when `patch` is given), its predicted
  instructions and milliseconds at the device's clock (`search.latency`).
- `build_keras(arch)`: the Keras model (needs TensorFlow).
- `optimize_space(device)`: TinyNAS stage 1 (`search.stage1`; also `tflm_mcunet.tinynas`).
- `Supernet`, `train_supernet`: TinyNAS stage 2's weight-sharing supernet (`search.supernet`;
  Keras 3 on TensorFlow, imported when first used).
- `TinyNASOracle`, `HyperModel`: TinyNAS stage 2's keras-tuner oracle (evolution under the
  budget, `search.oracle`) and the hypermodel training a candidate from scratch
  (`search.hypermodel`); keras-tuner and TensorFlow are imported when first used.
"""
from .cost import Cost, cost
from .graph import arch_graph
from .keras_model import build_keras
from .space import RESOLUTIONS, WIDTHS, Arch, Block, SearchSpace, Stage, make_divisible
from .stage1 import SpaceStats, Stage1Result, optimize_space

__all__ = ["Arch", "Block", "Cost", "HyperModel", "RESOLUTIONS", "SearchSpace", "SpaceStats",
           "Stage", "Stage1Result", "Supernet", "TinyNASOracle", "WIDTHS", "arch_graph",
           "build_keras", "cost", "make_divisible", "optimize_space", "train_supernet"]

#: names imported when first used (they import TensorFlow), by module
_LAZY = {"Supernet": "supernet", "train_supernet": "supernet", "TinyNASOracle": "oracle",
         "HyperModel": "hypermodel"}


def __getattr__(name):
    if name in _LAZY:  # TensorFlow only when asked for
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
