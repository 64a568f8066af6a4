"""ADD: int8 + int8 with broadcasting (up to 4-D) and a fused activation."""
from __future__ import annotations

from ..quant import f32, quantize_multiplier
from .base import OpDef, expect_inputs, expect_int8_activation, fail, fused_activation_range


def broadcast_strides(op, a, b, out) -> tuple[list[int], list[int], list[int]]:
    """Output dims and element strides of two inputs broadcast to it, all padded to 4-D."""
    if max(len(a.shape), len(b.shape), len(out.shape)) > 4:
        raise fail(op, "broadcasting over more than 4 dimensions is not supported")
    dims = [1] * (4 - len(out.shape)) + list(out.shape)

    def strides(t):
        shape = [1] * (4 - len(t.shape)) + list(t.shape)
        result, step = [0] * 4, 1
        for k in reversed(range(4)):
            if shape[k] not in (1, dims[k]):
                raise fail(op, f"input {t.name!r} of shape {list(t.shape)} does not broadcast to "
                               f"the output shape {list(out.shape)}")
            result[k] = step if shape[k] == dims[k] and dims[k] > 1 else 0
            step *= shape[k]
        return result

    return dims, strides(a), strides(b)


class Add(OpDef):
    kinds = ("ADD",)
    kernels = ("add",)

    def parse_options(self, o) -> dict:
        return {"activation": o.FusedActivationFunction() if o is not None else 0}

    def prepare(self, op) -> None:
        expect_inputs(op, 2)
        a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
        for t, role in ((a, "first input"), (b, "second input"), (y, "output")):
            expect_int8_activation(op, t, role)
        dims, s1, s2 = broadcast_strides(op, a, b, y)
        left_shift = 20
        twice_max = 2 * max(f32(a.scale), f32(b.scale))
        m1, sh1 = quantize_multiplier(f32(a.scale) / twice_max)
        m2, sh2 = quantize_multiplier(f32(b.scale) / twice_max)
        mo, sho = quantize_multiplier(twice_max / ((1 << left_shift) * f32(y.scale)))
        act_min, act_max = fused_activation_range(op)
        op.params.update(
            dims=dims, stride1=s1, stride2=s2, in1_offset=-a.zero_point, in2_offset=-b.zero_point,
            out_offset=y.zero_point, in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
            out_mult=mo, out_shift=sho, left_shift=left_shift, act_min=act_min, act_max=act_max)

    def emit(self, op, c) -> str:
        params = c.params("tme_add_params", op, op.params)
        a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
        return f"tme_add_s8(&{params}, {c.ptr(a)}, {c.ptr(b)}, {c.ptr(y)});"
