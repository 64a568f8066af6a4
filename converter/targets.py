"""Cortex-M build files of a generated project (`convert(..., device=...)`).

Beside the model's C, the project gets: the startup code (vector table, reset, stack
painting), a linker script sized for the device (`<device>.ld`: a model that does not fit
fails at link time, saying by how many bytes), the linker script of QEMU's mps2-an500
(`mps2_an500.ld`, its real 4 MB + 4 MB, for the emulated benchmark), the semihosting benchmark
firmware, an example application and `firmware.mk` (included by the Makefile: `make firmware`,
`make qemu`, and for a device with a board `make board` / `make flash`).
"""
from __future__ import annotations

from importlib import resources

import numpy as np

from ..devices import EMULATORS, Device, get_device
from .emit import TEMPLATES, format_values, c_comment

#: stack bytes the device linker script reserves unless `make firmware MCU_STACK=...` says
#: otherwise (the generated code uses well under 1 kB; the benchmark measures it)
DEFAULT_STACK_BYTES = 4096
#: stack of the emulated benchmark firmware (plenty: the peak is measured by painting)
QEMU_STACK_BYTES = 64 * 1024

#: engine_c/targets files copied into every project converted for a device
_RUNTIME = ("tme_cortexm.h", "tme_cortexm_startup.c", "tme_semihost.h", "tme_semihost.c",
            "tme_bench.h", "tme_bench_qemu.c")


def runtime_file(name: str) -> str:
    return (resources.files("tflm_mcunet.engine_c") / "targets" / name).read_text()


def linker_script(device: Device, *, stack_bytes: int = DEFAULT_STACK_BYTES,
                  title: str | None = None) -> str:
    """A GNU ld script with the device's FLASH and SRAM regions (see cortexm.ld.j2)."""
    return TEMPLATES.get_template("cortexm.ld.j2").render(
        title=c_comment(title or device.name), about=c_comment(device.describe()),
        flash_origin=f"0x{device.flash_origin:08X}", flash_bytes=device.flash_bytes,
        sram_origin=f"0x{device.sram_origin:08X}", sram_bytes=device.sram_bytes,
        stack_bytes=int(stack_bytes))


def board_input_c(data: bytes, about: str = "the benchmark input") -> str:
    """tme_board_input.c holding `data` (the bytes of every model input, in order)."""
    values = np.frombuffer(bytes(data), dtype=np.uint8)
    return TEMPLATES.get_template("tme_board_input.c.j2").render(
        about=c_comment(about), nbytes=values.size, size=max(values.size, 1),
        body=format_values(values) if values.size else "0")


def target_files(device: "Device | str", *, prefix: str, source: str,
                 stack_bytes: int = DEFAULT_STACK_BYTES) -> dict[str, str]:
    """Every Cortex-M file of the project, by name (prefix: the C prefix of the model API)."""
    device = get_device(device)
    ld = f"{device.key}.ld"
    files = {name: runtime_file(name) for name in _RUNTIME}
    files[ld] = linker_script(device, stack_bytes=stack_bytes)
    qemu = EMULATORS["mps2-an500"]
    files["mps2_an500.ld"] = linker_script(qemu, stack_bytes=QEMU_STACK_BYTES,
                                           title="QEMU mps2-an500 (benchmark firmware)")
    context = dict(prefix=prefix, PREFIX=prefix.upper(), source=c_comment(source),
                   device_name=c_comment(device.name), device_key=device.key,
                   device_about=c_comment(device.describe()), ld=ld,
                   arch_flags=" ".join(device.cflags("dsp")), stack_bytes=int(stack_bytes),
                   sram_bytes=device.sram_bytes, flash_bytes=device.flash_bytes,
                   board=device.board, board_title=(device.board or "").upper().replace("_", "-"),
                   pyocd_target=device.pyocd_target or "", qemu_stack_bytes=QEMU_STACK_BYTES)
    for name in ("firmware.mk", "mcu_main.c", "tme_target_model.h"):
        files[name] = TEMPLATES.get_template(f"{name}.j2").render(**context)
    if device.board:
        files[f"tme_board_{device.board}.c"] = runtime_file(f"tme_board_{device.board}.c")
        files["tme_board_input.c"] = board_input_c(
            b"", "no benchmark input: the board firmware runs on zeros")
    return files
