"""The networks a user would pick without a search: MobileNetV2 and ProxylessNAS-Mobile,
scaled by a width multiplier and an input resolution until they fit a microcontroller.

Both are in the `Arch` format (the strides of TinyNAS's space: 2, 2, 2, 1, 2, 1 after the
first conv and the MBConv1 block). Every width, the feature-mix conv's included, is scaled by
the multiplier and rounded by `make_divisible`, as MCUNet's scaled baselines
(`archs/mbv2-w0.35-r144.json`, `archs/proxyless-w0.3-r176.json`) do:

- MobileNetV2 (Sandler et al., 2018): widths 32, 16, 24, 32, 64, 96, 160, 320, depths
  2, 3, 4, 3, 3, 1, every block 3x3 with expansion 6, a 1280-channel feature mix;
- ProxylessNAS-Mobile (Cai et al., 2019): ProxylessNAS's widths (those of TinyNAS's space),
  depths 2, 4, 4, 4, 4, 1 and its searched kernel sizes and expansion ratios, a 1280-channel
  feature mix.

`largest_fitting(family, device, resolutions)`: the scaled network with the most MACs whose
exact cost (`search.cost`) fits the device: "the largest width x resolution the cost model
admits".
"""
from __future__ import annotations

from .cost import Cost, cost
from .space import Arch, Block, Stage, STRIDES, make_divisible

__all__ = ["FAMILIES", "scaled", "largest_fitting", "BASELINE_WIDTHS"]

#: (base widths: first conv, MBConv1, one per stage; blocks (kernel, expand) per stage;
#: feature-mix channels)
FAMILIES: dict[str, tuple[tuple[int, ...], tuple[tuple[tuple[int, int], ...], ...], int]] = {
    "mobilenetv2": ((32, 16, 24, 32, 64, 96, 160, 320),
                    (((3, 6),) * 2, ((3, 6),) * 3, ((3, 6),) * 4, ((3, 6),) * 3,
                     ((3, 6),) * 3, ((3, 6),)), 1280),
    "proxylessnas": ((32, 16, 24, 40, 80, 96, 192, 320),
                     (((5, 3), (3, 3)), ((7, 3), (3, 3), (5, 3), (5, 3)),
                      ((7, 6), (5, 3), (5, 3), (5, 3)), ((5, 6), (5, 3), (5, 3), (5, 3)),
                      ((7, 6), (7, 6), (7, 3), (7, 3)), ((7, 6),)), 1280),
}
#: width multipliers tried by `largest_fitting`: 0.05 to 1.0 by 0.05
BASELINE_WIDTHS = tuple(round(0.05 * i, 2) for i in range(1, 21))


def scaled(family: str, width_mult: float, resolution: int, *, classes: int = 1000,
           input_channels: int = 3) -> Arch:
    """`family` ("mobilenetv2" or "proxylessnas") at this width multiplier and resolution."""
    if family not in FAMILIES:
        raise ValueError(f"unknown network family {family!r}; known: {', '.join(FAMILIES)}")
    base, blocks, mix = FAMILIES[family]
    widths = [make_divisible(c * width_mult) for c in base]
    stages = [Stage(widths[1], 1, (Block(3, 1),))]
    stages += [Stage(out, stride, tuple(Block(k, e) for k, e in stage))
               for out, stride, stage in zip(widths[2:], STRIDES, blocks)]
    return Arch(resolution, widths[0], tuple(stages), classes, input_channels,
                make_divisible(mix * width_mult), name=f"{family}-w{width_mult:g}-r{resolution}",
                width_mult=width_mult)


def largest_fitting(family: str, device, resolutions, *, classes: int = 1000,
                    input_channels: int = 3, widths=BASELINE_WIDTHS) -> tuple[Arch, Cost]:
    """The scaled `family` network with the most MACs (then the widest) among `widths` x
    `resolutions` that fits `device` (arena + stack in SRAM, model data + code in Flash);
    ValueError when none does."""
    best = None
    for r in resolutions:
        for w in widths:
            arch = scaled(family, w, r, classes=classes, input_channels=input_channels)
            c = cost(arch, device)
            if c.fits and (best is None or (c.macs, w) > (best[1].macs, best[0].width_mult)):
                best = (arch, c)
    if best is None:
        raise ValueError(f"no {family} of width {min(widths)}-{max(widths)} at resolution "
                         f"{', '.join(map(str, resolutions))} fits the device")
    return best
