"""The Keras model of an architecture (needs the `[tf]` extra).

One Keras builder serves the model zoo and the search: `benchmarks.zoo.build_arch` builds the
block format of `archs/*.json`, which every `Arch` writes (`Arch.to_blocks_dict`). Keras/TF are
imported only when a model is built.
"""
from __future__ import annotations

from .space import Arch

__all__ = ["build_keras"]


def build_keras(arch: Arch, *, seed: int | None = None):
    """The Keras model of `arch`: convs with SAME padding and no bias, each followed by batch
    norm (+ ReLU6, except the linear projections), residual adds, global average pooling and a
    dense classifier giving logits. Weights are Keras' initial values (seeded if `seed`)."""
    from ..benchmarks.zoo import _keras, build_arch

    if seed is not None:
        _keras().utils.set_random_seed(seed)
    return build_arch(arch.to_blocks_dict())
