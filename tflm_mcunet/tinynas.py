"""TinyNAS: a network that fits a microcontroller, searched with the converter as cost model.

    >>> from tflm_mcunet import tinynas, datasets
    >>> (x, y), _ = datasets.fashion_mnist()
    >>> result = tinynas.search((x, y), sram="64K", flash="256K", time_budget=15 * 60)
    >>> print(result.to_markdown()); result.plot("pareto.png")              # doctest: +SKIP
    >>> result.convert("model_c")                                           # doctest: +SKIP

- `search(...)` (`search.nas`): stage 1, the supernet, the evolution, fine-tuning; a
  `SearchResult` (the Arch, the Keras model, its exact cost, every trial, the Pareto front,
  `to_tflite()`, `convert()`, `save()` / `SearchResult.load()`).
- `train(...)`: the supernet alone (the first half of `search`, for distributed searches).
- `TinyNASOracle` (a `keras_tuner.Oracle`), `SupernetTuner` (a `keras_tuner.Tuner`) and
  `HyperModel` (each candidate trained from scratch) for keras-tuner users.
- `optimize_space(device)`: stage 1 alone; `cost(arch, device)`: the exact cost.

TensorFlow, Keras and keras-tuner are imported when first used.
"""
from __future__ import annotations

from .search import Arch, Cost, SearchSpace, Stage1Result, build_keras, cost, optimize_space

__all__ = ["Arch", "Cost", "HyperModel", "SearchResult", "SearchSpace", "Stage1Result",
           "SupernetTuner", "TinyNASOracle", "build_keras", "cost", "optimize_space",
           "search", "train"]

_LAZY = {"search": ("search.nas", "search"), "train": ("search.nas", "train"),
         "SearchResult": ("search.result", "SearchResult"),
         "TinyNASOracle": ("search.oracle", "TinyNASOracle"),
         "SupernetTuner": ("search.tuner", "SupernetTuner"),
         "HyperModel": ("search.hypermodel", "HyperModel")}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
