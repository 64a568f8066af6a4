"""TinyNAS: the search space for a microcontroller, with the converter as its cost model.

    >>> from tflm_mcunet import tinynas
    >>> result = tinynas.optimize_space(device="stm32f746", samples=1000, jobs=2)
    >>> print(result.to_markdown()); result.plot_cdf("cdf.png")           # doctest: +SKIP
    >>> result.best.name                                                   # doctest: +SKIP
    'w0.x-rNNN'

Stage 1 (`optimize_space`) ranks the 108 (width multiplier, resolution) spaces by the mean MACs
of their sampled models that fit the device (peak SRAM and Flash from the converter's own
planner and constant data: `tflm_mcunet.search.cost`). Stage 2 (the search inside the chosen
space) is the keras-tuner oracle, to come.
"""
from __future__ import annotations

from .search import Arch, Cost, SearchSpace, Stage1Result, build_keras, cost, optimize_space

__all__ = ["Arch", "Cost", "SearchSpace", "Stage1Result", "build_keras", "cost",
           "optimize_space"]
