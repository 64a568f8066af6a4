"""The STM32F746G-DISCO board benchmark (`tflm-mcunet bench --target disco-f746`).

For every model: convert it for the STM32F746, build the board firmware
(engine_c/targets/tme_board_stm32f746g_disco.c: 216 MHz, caches on, DWT cycle counter, UART)
with the device's linker script and the first benchmark input linked in, and, where a board is
attached, flash it with pyocd, read its UART (the ST-LINK virtual COM port), compare the output
bytes with TFLite Micro's on the host and report the cycles of the invoke call beside
TinyEngine's published latency on the F746. Without pyocd or a board it says so and stops
after the build (which is what CI checks).

Environment: PYOCD (the pyocd command, default `pyocd`), PYOCD_TARGET (default the device's,
stm32f746nghx: `pyocd pack install stm32f746nghx` once), TFLM_MCUNET_SERIAL (the serial port,
default the first /dev/ttyACM*).
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from ..devices import get_device
from .toolchain import (ARM_PREFIX, MCUError, make_target, output_specs, random_samples,
                        read_sections)
from .zoo import ARCHS, load_model, published_anchor

BOARD_DEVICE = "stm32f746"
_CYCLES = re.compile(r"tme-board cycles=(\d+) calibration=(\d+) stack_peak=(\d+) "
                     r"stack_size=(\d+) clock_hz=(\d+)")
_OUTPUT = re.compile(r"tme-board output(\d+)=([0-9a-f]*)")


def build_board_firmware(name: str, model: bytes, workdir: Path, *, seed: int = 0):
    """(elf, conversion, inputs): the board firmware of a model, its first input linked in."""
    from ..converter import convert
    from ..converter.targets import board_input_c

    device = get_device(BOARD_DEVICE)
    project = workdir / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    conv = convert(model, project, device=device, force=True)
    inputs = random_samples(conv.graph, 1, seed)
    build_dir = project / "build-board"
    build_dir.mkdir(parents=True, exist_ok=True)
    data = b"".join(np.ascontiguousarray(x).tobytes() for x in inputs[0])
    board_input = build_dir / "bench_input.c"
    board_input.write_text(board_input_c(data, f"benchmark input of {name} (seed {seed})"))
    make_target(project, "board", build_dir=build_dir, arch_flags=device.cflags("dsp"),
                variables={"BOARD_INPUT": str(board_input)})
    return build_dir / "board.elf", conv, inputs


def _serial_port() -> str | None:
    if os.environ.get("TFLM_MCUNET_SERIAL"):
        return os.environ["TFLM_MCUNET_SERIAL"]
    ports = sorted(glob.glob("/dev/ttyACM*"))
    return ports[0] if ports else None


def _probe_attached(pyocd: str) -> bool:
    try:
        out = subprocess.run([pyocd, "list"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "No available debug probes" not in out.stdout + out.stderr \
        and bool(re.search(r"^\s*0\s", out.stdout, re.M))


def read_board(port: str, timeout: float = 120.0) -> dict:
    """Read the firmware's UART report (one full block between two "done" lines)."""
    import serial  # pyserial: the [board] extra

    lines: list[str] = []
    deadline = time.monotonic() + timeout
    with serial.Serial(port, 115200, timeout=1) as uart:
        started = False
        while time.monotonic() < deadline:
            line = uart.readline().decode("ascii", "replace").strip()
            if not line:
                continue
            if line.startswith("tme-board error"):
                raise MCUError(f"the board reported: {line}")
            if line.startswith("tme-board cycles="):
                started, lines = True, [line]
            elif started:
                lines.append(line)
                if line == "tme-board done":
                    break
    text = "\n".join(lines)
    m = _CYCLES.search(text)
    if not m or not text.endswith("tme-board done"):
        raise MCUError(f"no complete report from the board on {port} within {timeout:.0f} s")
    outputs = {int(i): bytes.fromhex(h) for i, h in _OUTPUT.findall(text)}
    return dict(cycles=int(m.group(1)), calibration=int(m.group(2)),
                stack_peak=int(m.group(3)), stack_size=int(m.group(4)),
                clock_hz=int(m.group(5)), outputs=outputs)


def run_board(args) -> int:
    from ..tflm import run_tflm_batch

    if getattr(args, "patch", None) not in (None, "none") or getattr(args, "stream_input",
                                                                      False):
        raise MCUError("--patch and --stream-input are for --target qemu-m7; the board "
                       "runner measures the layer-by-layer firmware")
    if shutil.which(f"{ARM_PREFIX}gcc") is None:
        raise MCUError(f"{ARM_PREFIX}gcc not found; on Debian: apt-get install gcc-arm-none-eabi "
                       "libnewlib-arm-none-eabi")
    device = get_device(BOARD_DEVICE)
    pyocd = os.environ.get("PYOCD", "pyocd")
    have_pyocd = shutil.which(pyocd) is not None
    attached = have_pyocd and _probe_attached(pyocd)
    work = (Path(args.workdir) if args.workdir
            else Path(tempfile.mkdtemp(prefix="tflm-mcunet-board-")))
    print(f"Board: STM32F746G-DISCO ({device.describe()}); firmware at 216 MHz, I/D caches on, "
          "cycles from DWT->CYCCNT")
    if not have_pyocd:
        print(f"pyocd not found ({pyocd}): building only (pip install pyocd pyserial)")
    elif not attached:
        print("no debug probe attached: building only")
    print("\n| model | bit-exact | cycles | cycles/MAC | ms at 216 MHz | TinyEngine F746 ms "
          "(published) | Flash kB | code kB | SRAM kB (data+bss+stack) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for spec in args.models or list(ARCHS):
        name, model = load_model(spec)
        elf, conv, inputs = build_board_firmware(name, model, work, seed=args.seed)
        sections = read_sections(elf)
        pub = (ARCHS.get(name, {}).get("published") or {}).get("f746_216mhz", {})
        te = (pub.get("tinyengine") or {}).get("latency_ms")
        flash, code = sections.flash_bytes / 1024, sections.code_bytes / 1024
        if not attached:
            print(f"| {name} | not run | - | - | - | {te or '-'} | {flash:,.1f} | {code:,.1f} | "
                  f"{(sections.data_bytes + sections.bss_bytes) / 1024:,.1f} + stack |")
            continue
        target = os.environ.get("PYOCD_TARGET", device.pyocd_target or "")
        flashed = subprocess.run([pyocd, "flash", "-t", target, str(elf)], capture_output=True,
                                 text=True)
        if flashed.returncode != 0:
            raise MCUError(f"pyocd flash failed:\n{flashed.stdout}{flashed.stderr}")
        port = _serial_port()
        if port is None:
            raise MCUError("no serial port found (set TFLM_MCUNET_SERIAL)")
        report = read_board(port)
        reference = run_tflm_batch(model, inputs)[0]
        exact = len(report["outputs"]) == len(reference) and all(
            report["outputs"].get(i) == np.asarray(r).tobytes() for i, r in enumerate(reference))
        ok &= exact
        cycles = report["cycles"]
        sram = sections.data_bytes + sections.bss_bytes + report["stack_peak"]
        print(f"| {name} | {'yes' if exact else 'NO'} | {cycles:,} | "
              f"{cycles / max(conv.report.macs, 1):.2f} | "
              f"{cycles / report['clock_hz'] * 1e3:,.1f} | {te or '-'} | {flash:,.1f} | "
              f"{code:,.1f} | {sram / 1024:,.1f} |")
    print(f"\nProjects and builds: {work}")
    return 0 if ok else 1


__all__ = ["build_board_firmware", "read_board", "run_board", "output_specs",
           "published_anchor"]
