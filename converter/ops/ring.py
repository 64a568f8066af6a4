"""The converter's own ops of a ring buffer (passes/ring.py): RING_APPEND copies the new frames
behind the kept ones, in the ring buffer (the window of both is then read in place);
RING_ADVANCE, last in the invoke, moves the ring's position on by the new frames (and the kept
bytes back to the buffer's start when the next window would pass its end)."""
from __future__ import annotations

from .base import OpDef


class RingAppend(OpDef):
    kinds = ("RING_APPEND",)
    kernels = ("copy",)
    internal = True

    def emit(self, op, c) -> str:
        ring, x, window = op.params["ring"], op.inputs[0], op.outputs[0]
        return f"tme_copy_bytes({c.ptr(x)}, {c.ptr(window, ring.keep)}, {ring.step}u);"


class RingAdvance(OpDef):
    kinds = ("RING_ADVANCE",)
    kernels = ("copy",)
    internal = True

    def emit(self, op, c) -> str:
        ring = op.params["ring"]
        return (f"tme_ring_advance({c.ptr(ring.buffer)}, &{c.ring_position(ring)}, {ring.keep}, "
                f"{ring.step}, {ring.capacity});")
