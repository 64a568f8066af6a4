"""SUB: int8 - int8 with broadcasting (up to 4-D) and a fused activation.

TFLite Micro's sub_common.cc (CalculateOpDataSub) mirrors ADD: left_shift 20, the inputs
rescaled to twice the larger input scale, QuantizeMultiplierSmallerThanOneExp for all three
factors, computed in double as ADD's (some TFLite Micro sources compute them in float32; the
runtime this converter is checked against does not: tests/test_ops_elementwise.py has scales
where the two differ). Its kernel (reference_ops::Sub, BroadcastQuantSubSlow) is ADD's with the
rescaled second input subtracted: tme_sub_s8 shares ADD's kernel and parameter struct.
"""
from __future__ import annotations

from .add import Add


class Sub(Add):
    kinds = ("SUB",)
    function = "tme_sub_s8"
