"""The device catalogue: microcontrollers a model is converted for, and whether it fits.

A `Device` says how much SRAM and Flash a part has, where they are, its core and FPU. It is
used by `convert(..., device=...)` (the generated project gets a startup file, a linker
script sized for the part and a firmware Makefile, so a model that does not fit fails at link
time saying by how much) and by the search, which keeps candidates that fit (`Device.fit`).

    >>> from tflm_mcunet.devices import get_device
    >>> get_device("stm32f746").sram_bytes
    327680
    >>> get_device("tiny:sram=64K,flash=256K,core=cortex-m4").flash_bytes
    262144

Sizes are in bytes; "kB" in the catalogue means 1024 bytes, as in the parts' data sheets.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

__all__ = ["Device", "Fit", "DEVICES", "EMULATORS", "CORES", "BUILDS", "get_device",
           "custom_device", "device_names", "register_device", "parse_size"]

KB = 1024
MB = 1024 * 1024

#: cores the firmware builds for, with the FPU gcc should use when the part has one
CORES = {
    "cortex-m4": "fpv4-sp-d16",
    "cortex-m7": "fpv5-sp-d16",
}

#: compiler builds compared by the benchmarks. "portable": the ARMv7-M base instruction set,
#: no DSP extension (__ARM_FEATURE_DSP undefined) and no FPU, so it runs on any Cortex-M3/M4/M7;
#: "dsp": the device's own core with its DSP extension (__ARM_FEATURE_DSP defined) and FPU.
BUILDS = ("portable", "dsp")


@dataclass(frozen=True)
class Fit:
    """How a model's memory compares with a device's."""

    device: "Device"
    sram_bytes: int  # SRAM the model needs (what was counted: see `what`)
    flash_bytes: int  # Flash the model needs
    what: str = "arena + stack reserve; model data + code reserve"

    @property
    def sram_short(self) -> int:
        """Bytes of SRAM missing (0 when it fits)."""
        return max(0, self.sram_bytes - self.device.sram_bytes)

    @property
    def flash_short(self) -> int:
        return max(0, self.flash_bytes - self.device.flash_bytes)

    @property
    def fits(self) -> bool:
        return self.sram_short == 0 and self.flash_short == 0

    def __bool__(self) -> bool:
        return self.fits

    def summary(self) -> str:
        d = self.device
        parts = [f"SRAM {self.sram_bytes:,} of {d.sram_bytes:,} B "
                 f"({100 * self.sram_bytes / d.sram_bytes:.0f}%)",
                 f"Flash {self.flash_bytes:,} of {d.flash_bytes:,} B "
                 f"({100 * self.flash_bytes / d.flash_bytes:.0f}%)"]
        verdict = "fits" if self.fits else "DOES NOT FIT (" + ", ".join(
            f"{what} short by {n:,} B" for what, n in
            (("SRAM", self.sram_short), ("Flash", self.flash_short)) if n) + ")"
        return f"{d.name}: {verdict}: " + "; ".join(parts) + f" [{self.what}]"


@dataclass(frozen=True)
class Device:
    """A microcontroller: memory sizes and addresses, core, FPU, and an optional board."""

    name: str  # display name, e.g. "STM32F746"
    core: str  # "cortex-m4" or "cortex-m7"
    sram_bytes: int  # contiguous SRAM the firmware uses (stack, data, bss: the arena)
    flash_bytes: int
    sram_origin: int = 0x20000000
    flash_origin: int = 0x08000000
    fpu: str | None = None  # gcc -mfpu; None: no FPU (soft float)
    clock_mhz: int | None = None  # maximum core clock
    board: str | None = None  # board support file in engine_c/targets (tme_board_<board>.c)
    pyocd_target: str | None = None  # `pyocd flash -t TARGET`
    about: str = ""
    aliases: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if self.core not in CORES:
            raise ValueError(f"device {self.name}: core {self.core!r} is not supported; "
                             f"supported: {', '.join(CORES)}")
        for what in ("sram_bytes", "flash_bytes"):
            if int(getattr(self, what)) <= 0:
                raise ValueError(f"device {self.name}: {what} must be positive")

    @property
    def key(self) -> str:
        """A file-name-safe lower-case id, e.g. "stm32f746"."""
        return re.sub(r"[^a-z0-9_]+", "_", self.name.lower()).strip("_") or "device"

    def cflags(self, build: str = "dsp") -> list[str]:
        """arm-none-eabi-gcc architecture flags for one of `BUILDS`."""
        if build == "portable":
            return ["-march=armv7-m", "-mthumb", "-mfloat-abi=soft"]
        if build != "dsp":
            raise ValueError(f"unknown build {build!r}; known: {', '.join(BUILDS)}")
        flags = [f"-mcpu={self.core}", "-mthumb"]
        if self.fpu:
            return flags + [f"-mfpu={self.fpu}", "-mfloat-abi=hard"]
        return flags + ["-mfloat-abi=soft"]

    def fit(self, sram_bytes: int, flash_bytes: int, *, stack_bytes: int = 0,
            code_bytes: int = 0) -> Fit:
        """Does a model of `sram_bytes` (its arena) and `flash_bytes` (its constant data) fit,
        with `stack_bytes` and `code_bytes` reserved? The search filters candidates with it;
        the link of `make firmware` is the exact check."""
        return Fit(self, int(sram_bytes) + int(stack_bytes), int(flash_bytes) + int(code_bytes),
                   what=f"arena + {stack_bytes:,} B stack; model data + {code_bytes:,} B code")

    def describe(self) -> str:
        fpu = self.fpu or "no FPU"
        mhz = f", {self.clock_mhz} MHz" if self.clock_mhz else ""
        return (f"{self.name}: {self.core} ({fpu}{mhz}), {_size(self.sram_bytes)} SRAM at "
                f"0x{self.sram_origin:08X}, {_size(self.flash_bytes)} Flash at "
                f"0x{self.flash_origin:08X}" + (f"; board {self.board}" if self.board else ""))


def _size(n: int) -> str:
    if n % MB == 0:
        return f"{n // MB} MB"
    if n % KB == 0:
        return f"{n // KB} kB"
    return f"{n} B"


DEVICES: dict[str, Device] = {}


def register_device(device: Device) -> Device:
    """Add a device to the catalogue (under its key and aliases)."""
    for name in (device.key, *device.aliases):
        DEVICES[name.lower()] = device
    return device


for _d in (
    Device("STM32F412", "cortex-m4", 256 * KB, 1 * MB, fpu="fpv4-sp-d16", clock_mhz=100,
           pyocd_target="stm32f412zgtx",
           about="STM32F412: 256 kB SRAM (SRAM1) at 0x20000000, 1 MB Flash at 0x08000000"),
    Device("STM32F746", "cortex-m7", 320 * KB, 1 * MB, fpu="fpv5-sp-d16", clock_mhz=216,
           board="stm32f746g_disco", pyocd_target="stm32f746nghx",
           about="STM32F746: 320 kB SRAM (DTCM 64 kB + SRAM1 240 kB + SRAM2 16 kB, "
           "contiguous from 0x20000000), 1 MB Flash at 0x08000000 (AXIM)",
           aliases=("stm32f746g-disco", "stm32f746g_disco", "f746")),
    Device("STM32H743", "cortex-m7", 512 * KB, 2 * MB, fpu="fpv5-d16", clock_mhz=480,
           sram_origin=0x24000000, pyocd_target="stm32h743zitx",
           about="STM32H743: 512 kB AXI SRAM at 0x24000000 (the largest contiguous block), "
           "2 MB Flash at 0x08000000", aliases=("h743",)),
    Device("nRF52840", "cortex-m4", 256 * KB, 1 * MB, fpu="fpv4-sp-d16", clock_mhz=64,
           flash_origin=0x00000000, pyocd_target="nrf52840",
           about="nRF52840: 256 kB RAM at 0x20000000, 1 MB Flash at 0x00000000"),
):
    register_device(_d)

#: emulated boards the benchmarks run on (not devices to deploy to)
EMULATORS: dict[str, Device] = {
    "mps2-an500": Device(
        "mps2-an500", "cortex-m7", 4 * MB, 4 * MB, flash_origin=0x00000000,
        sram_origin=0x20000000, fpu="fpv5-d16",
        about="QEMU mps2-an500 (Cortex-M7): 4 MB ZBT SSRAM1 at 0x00000000 (code), "
        "4 MB ZBT SSRAM2/3 at 0x20000000 (data)"),
}


def device_names() -> list[str]:
    """Catalogue keys (without aliases), in catalogue order."""
    seen, names = set(), []
    for key, d in DEVICES.items():
        if id(d) not in seen:
            seen.add(id(d))
            names.append(d.key)
    return names


_SIZE = re.compile(r"^\s*(0x[0-9a-fA-F]+|\d+)\s*([kKmM]?)[bB]?\s*$")


def parse_size(text: str | int | None, what: str) -> int | None:
    """Bytes from "256K", "1M", "0x10000" or "65536"; an int is bytes already; None stays
    None (no limit)."""
    if text is None or isinstance(text, int):
        return text
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"{what}: {text!r} is not a size (e.g. 256K, 1M, 65536)")
    value = int(m.group(1), 0)
    return value * {"": 1, "k": KB, "m": MB}[m.group(2).lower()]


def custom_device(name: str, *, sram: int | str, flash: int | str, core: str = "cortex-m4",
                  fpu: str | None | bool = True, **kwargs) -> Device:
    """A user-defined device. Sizes are bytes or strings like "256K"; `fpu=True` takes the
    core's usual FPU, None/False none."""
    sram_bytes, flash_bytes = parse_size(sram, "sram"), parse_size(flash, "flash")
    if core not in CORES:
        raise ValueError(f"device {name}: core {core!r} is not supported; supported: "
                         f"{', '.join(CORES)}")
    if fpu is True:
        fpu = CORES[core]
    return Device(name, core, sram_bytes, flash_bytes, fpu=fpu or None, **kwargs)


def _parse_spec(spec: str) -> Device:
    name, _, rest = spec.partition(":")
    fields: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"device spec {spec!r}: {item!r} is not KEY=VALUE")
        fields[key.strip().lower()] = value.strip()
    known = {"sram", "flash", "core", "fpu", "sram_origin", "flash_origin", "clock_mhz"}
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"device spec {spec!r}: unknown keys {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(known))}")
    if "sram" not in fields or "flash" not in fields:
        raise ValueError(f"device spec {spec!r} needs sram= and flash= "
                         "(e.g. mydev:sram=128K,flash=512K,core=cortex-m4)")
    kwargs = {}
    for key in ("sram_origin", "flash_origin"):
        if key in fields:
            kwargs[key] = int(fields[key], 0)
    if "clock_mhz" in fields:
        kwargs["clock_mhz"] = int(fields["clock_mhz"])
    fpu: str | bool | None = True
    if "fpu" in fields:
        fpu = None if fields["fpu"].lower() in ("none", "no", "soft", "0") else fields["fpu"]
    return custom_device(name.strip() or "custom", sram=fields["sram"], flash=fields["flash"],
                         core=fields.get("core", "cortex-m4"), fpu=fpu, **kwargs)


def get_device(device: "Device | str") -> Device:
    """A catalogue device by name (case-insensitive; e.g. "stm32f746", "nrf52840"), a Device,
    or a user-defined one as "NAME:sram=SIZE,flash=SIZE[,core=cortex-m4|cortex-m7]
    [,fpu=none][,sram_origin=0x20000000][,flash_origin=0x08000000]"."""
    if isinstance(device, Device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a name, a spec string or a Device, not {device!r}")
    if ":" in device:
        return _parse_spec(device)
    found = DEVICES.get(device.strip().lower()) or EMULATORS.get(device.strip().lower())
    if found is None:
        raise ValueError(f"unknown device {device!r}; known: {', '.join(device_names())}, "
                         "or a user-defined NAME:sram=SIZE,flash=SIZE[,core=cortex-m4|cortex-m7]")
    return found


def with_memory(device: Device, *, sram_bytes: int | None = None,
                flash_bytes: int | None = None) -> Device:
    """The same device with other memory sizes (e.g. what is left beside an application)."""
    return replace(device, sram_bytes=sram_bytes or device.sram_bytes,
                   flash_bytes=flash_bytes or device.flash_bytes)
