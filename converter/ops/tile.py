"""TILE: refused. TFLite Micro registers no kernel for it (its interpreter refuses the model),
so there is no reference to be bit-exact with; Keras 3's UpSampling2D is what usually emits
it."""
from __future__ import annotations

from .base import OpDef


class Tile(OpDef):
    kinds = ("TILE",)
    refused = ("TFLite Micro has no TILE kernel (its interpreter refuses the model), so there is "
               "no reference to be bit-exact with. Keras 3's UpSampling2D becomes RESHAPE and "
               "TILE: use keras.layers.Resizing(height, width, interpolation=\"nearest\") or "
               "tf.image.resize(x, size, \"nearest\") instead, which become "
               "RESIZE_NEAREST_NEIGHBOR (supported)")
