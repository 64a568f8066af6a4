"""Cortex-M benchmark: the generated firmware on QEMU's mps2-an500 (Cortex-M7), measured.

For every model: convert it for a device, build the benchmark firmware twice (the "portable"
and the "dsp" build, see `tflm_mcunet.devices.BUILDS`), run it under QEMU with semihosting on
seeded random int8 inputs, check that its output bytes equal TFLite Micro's on the host for
the same inputs, and report

- Flash: text + data (code, constants, the model weights, .data's initial values), with code
  (everything but the weights and .data) apart;
- SRAM: data + bss (the model's arena is in bss) + the stack peak measured by painting the
  stack at reset and finding the high-water mark after the invokes;
- the instructions executed by the invoke call, counted exactly by a small QEMU TCG plugin
  (`qemu_plugin/insn_count.c`, built here with the host compiler), and instructions per MAC;
- whether the firmware links for the device (its own linker script: a model that does not fit
  says by how many bytes);
- TinyEngine's published numbers for the architectures of `archs/*.json`, and the goals:
  instructions of the DSP build at most 0.8x the cycles implied by TinyEngine's published
  latency (latency x clock; the smallest over the boards published), Flash at most TinyEngine's
  published Flash (kB = 1024 B), code under 64 kB.

QEMU models no cycles: an executed-instruction count is exact and repeatable, and is a lower
bound of the cycles the same code takes on a Cortex-M7 (dual issue aside).

With the environment variable TFLM_ROOT pointing at a TensorFlow Lite Micro source tree (its
third-party downloads in place), TFLite Micro itself is built for the same target and measured
the same way (rows "tflm"); without it, that is said and the rows are skipped.

    python -m tflm_mcunet.benchmarks.mcu [MODEL ...] [--json]
    tflm-mcunet bench --target qemu-m7 [MODEL ...] [--json]
    tflm-mcunet bench --target disco-f746 [MODEL ...]     # STM32F746G-DISCO board, via pyocd

MODEL is a zoo name (built with TensorFlow and cached) or a .tflite file; the default is every
architecture of archs/*.json (the ones with published TinyEngine numbers).
"""
from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..devices import BUILDS, Device, get_device

ARM_PREFIX = os.environ.get("ARM_PREFIX", "arm-none-eabi-")
QEMU = os.environ.get("QEMU_SYSTEM_ARM", "qemu-system-arm")
QEMU_MACHINE = "mps2-an500"
APT_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
#: the goals of the benchmark
GOAL_CYCLES_RATIO = 0.8
GOAL_CODE_BYTES = 64 * 1024


class MCUError(RuntimeError):
    """Building or running the firmware failed."""


class FirmwareTooBig(MCUError):
    """The firmware does not fit the device: `overflows` maps region (SRAM, FLASH) to bytes."""

    def __init__(self, message: str, overflows: dict[str, int]):
        super().__init__(message)
        self.overflows = overflows


# --------------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------------

def missing_tools() -> list[str]:
    """The programs the emulated benchmark needs that are not on PATH."""
    tools = [f"{ARM_PREFIX}gcc", f"{ARM_PREFIX}size", f"{ARM_PREFIX}nm", QEMU, "make", "cc"]
    return [t for t in tools if shutil.which(t) is None]


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        raise MCUError(f"missing {', '.join(missing)}; on Debian: apt-get install {APT_PACKAGES} "
                       "build-essential")


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
    except OSError:
        return "not found"
    return out.splitlines()[0].strip() if out else "unknown"


def cache_dir() -> Path:
    """Where built plugins and zoo models are kept: $TFLM_MCUNET_CACHE, else
    $XDG_CACHE_HOME/tflm-mcunet, else ~/.cache/tflm-mcunet."""
    if os.environ.get("TFLM_MCUNET_CACHE"):
        return Path(os.environ["TFLM_MCUNET_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tflm-mcunet"


def build_plugin(cache: Path | None = None) -> Path:
    """The instruction-counting QEMU plugin, compiled with the host's `cc` (cached by source
    hash; safe when several processes build it at once)."""
    source = (resources.files("tflm_mcunet.benchmarks") / "qemu_plugin" / "insn_count.c")
    text = source.read_bytes()
    folder = Path(cache or cache_dir()) / "qemu-plugin"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"insn_count-{hashlib.sha256(text).hexdigest()[:12]}.so"
    if target.exists():
        return target
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        src = Path(tmp) / "insn_count.c"
        src.write_bytes(text)
        so = Path(tmp) / "insn_count.so"
        result = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror",
                                 "-fvisibility=hidden", "-o", str(so), str(src)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise MCUError(f"building the QEMU plugin failed:\n{result.stderr}")
        os.replace(so, target)
    return target


# --------------------------------------------------------------------------------------------
# building
# --------------------------------------------------------------------------------------------

_OVERFLOW = re.compile(r"region `?'?(\w+)'? overflowed by (\d+) bytes")


def make_target(project: Path, target: str, *, build_dir: Path, arch_flags: list[str],
                variables: dict[str, str] | None = None, jobs: int = 2) -> str:
    """`make -C project target` with the firmware variables; returns the output. A memory
    region overflow raises FirmwareTooBig naming the region and the bytes."""
    cmd = ["make", "-C", str(project), f"-j{jobs}", target, f"MCU_BUILD={build_dir}",
           f"MCU_ARCH={' '.join(arch_flags)}", f"ARM_PREFIX={ARM_PREFIX}"]
    cmd += [f"{k}={v}" for k, v in (variables or {}).items()]
    result = subprocess.run(cmd, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        overflows = {m.group(1): int(m.group(2)) for m in _OVERFLOW.finditer(output)}
        if overflows:
            told = [line for line in output.splitlines()
                    if line.startswith("error: the firmware does not fit")]
            raise FirmwareTooBig(told[0] if told else ", ".join(
                f"{r} overflowed by {n:,} bytes" for r, n in overflows.items()), overflows)
        raise MCUError(f"`make {target}` in {project} failed:\n{output[-4000:]}")
    return output


@dataclass
class Sections:
    """Section sizes of a firmware ELF (bytes)."""

    sizes: dict[str, int]

    def _sum(self, *names: str) -> int:
        return sum(self.sizes.get(n, 0) for n in names)

    @property
    def code_bytes(self) -> int:
        """Flash without the weights and .data: vector table, code, other constants."""
        return self._sum(".isr_vector", ".text", ".rodata", ".ARM.extab", ".ARM.exidx",
                         ".init_array")

    @property
    def weights_bytes(self) -> int:
        return self._sum(".weights")

    @property
    def data_bytes(self) -> int:
        return self._sum(".data")

    @property
    def bss_bytes(self) -> int:
        return self._sum(".bss")

    @property
    def stack_reserved_bytes(self) -> int:
        return self._sum(".stack")

    @property
    def flash_bytes(self) -> int:
        """text + data: everything stored in Flash."""
        return self.code_bytes + self.weights_bytes + self.data_bytes


def read_sections(elf: Path) -> Sections:
    out = subprocess.run([f"{ARM_PREFIX}size", "-A", "-d", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return Sections(sizes)


def symbol_address(elf: Path, name: str) -> int:
    out = subprocess.run([f"{ARM_PREFIX}nm", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    raise MCUError(f"{elf} has no symbol {name}")


def build_flags(device: Device, build: str) -> list[str]:
    return device.cflags(build)


def build_qemu_firmware(project: Path, build_dir: Path, arch_flags: list[str]) -> Path:
    """The semihosting benchmark firmware of a converted project, for mps2-an500."""
    make_target(project, "qemu-firmware", build_dir=build_dir, arch_flags=arch_flags)
    return build_dir / "qemu.elf"


def link_for_device(project: Path, build_dir: Path, arch_flags: list[str]) -> Sections:
    """`make firmware`: the example application linked with the device's linker script.
    Raises FirmwareTooBig when it does not fit."""
    make_target(project, "firmware", build_dir=build_dir, arch_flags=arch_flags)
    return read_sections(build_dir / "firmware.elf")


# --------------------------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------------------------

@dataclass
class QemuRun:
    outputs: list[list[np.ndarray]]  # per sample, every output
    invoke_instructions: list[int]  # per sample: instructions of the invoke call
    calibration_instructions: int  # the empty marker pair, subtracted from every interval
    stack_peak_bytes: int
    stack_size_bytes: int
    total_instructions: int
    console: str = ""  # what the firmware printed
    blocks: list[tuple[int, int, int]] = field(default_factory=list)  # (address, insns, runs)


_BENCH_LINE = re.compile(r"tme-bench samples=(\d+) stack_peak=(\d+) stack_size=(\d+)")


def run_qemu(elf: Path, samples: list[list[np.ndarray]], output_specs: list[tuple],
             *, plugin: Path | None = None, mode: str = "tb", blocks: bool = False,
             timeout: float = 1800) -> QemuRun:
    """Run a benchmark firmware on every sample (a list of input arrays each).

    output_specs: (numpy dtype, shape) of every model output. With `plugin` (build_plugin()),
    the instructions of every invoke are counted; with `blocks` too, the executions of every
    translation block of the whole run (for function_instructions).
    """
    with tempfile.TemporaryDirectory(prefix="tflm-mcunet-qemu-") as tmp:
        work = Path(tmp)
        with open(work / "in.bin", "wb") as f:
            for sample in samples:
                for x in sample:
                    f.write(np.ascontiguousarray(x).tobytes())
        cmd = [QEMU, "-M", QEMU_MACHINE, "-display", "none", "-serial", "null", "-monitor",
               "none", "-semihosting-config",
               "enable=on,target=native,arg=firmware,arg=in.bin,arg=out.bin",
               "-kernel", str(Path(elf).resolve())]
        if plugin is not None:
            begin = symbol_address(elf, "tme_bench_begin")
            end = symbol_address(elf, "tme_bench_end")
            cmd += ["-plugin", f"{Path(plugin).resolve()},begin={begin:#x},end={end:#x},"
                    f"out={work / 'counts.txt'},mode={mode}"
                    + (f",blocks={work / 'blocks.txt'}" if blocks else "")]
        try:
            result = subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise MCUError(f"QEMU did not finish within {timeout:.0f} s running {elf}") from e
        # QEMU writes the semihosting console to stderr (stdout in some versions)
        match = _BENCH_LINE.search(result.stdout + result.stderr)
        if result.returncode != 0 or not match:
            raise MCUError(f"the firmware {elf} failed under QEMU (exit {result.returncode}):\n"
                           f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
        if int(match.group(1)) != len(samples):
            raise MCUError(f"the firmware ran {match.group(1)} samples of {len(samples)}")
        raw = (work / "out.bin").read_bytes()
        outputs, offset = [], 0
        for _ in samples:
            outs = []
            for dtype, shape in output_specs:
                n = int(np.prod(shape)) * np.dtype(dtype).itemsize
                outs.append(np.frombuffer(raw[offset:offset + n], dtype=dtype).reshape(shape))
                offset += n
            outputs.append(outs)
        if offset != len(raw):
            raise MCUError(f"the firmware wrote {len(raw)} output bytes, expected {offset}")
        intervals, total = [], 0
        if plugin is not None:
            for line in (work / "counts.txt").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "interval":
                    intervals.append(int(value))
                elif key == "total":
                    total = int(value)
            if len(intervals) != len(samples) + 1:
                raise MCUError(f"the plugin counted {len(intervals)} intervals, expected "
                               f"{len(samples) + 1}")
        block_counts = []
        if plugin is not None and blocks:
            for line in (work / "blocks.txt").read_text().splitlines():
                _, address, insns, runs = line.split()
                block_counts.append((int(address, 16), int(insns), int(runs)))
        calibration = intervals[0] if intervals else 0
        return QemuRun(outputs, [n - calibration for n in intervals[1:]], calibration,
                       int(match.group(2)), int(match.group(3)), total,
                       result.stdout + result.stderr, block_counts)


def function_instructions(elf: Path, blocks: list[tuple[int, int, int]]) -> dict[str, int]:
    """Executed instructions per function of the ELF, from QemuRun.blocks (a block is
    counted in the function its first instruction belongs to: blocks end at branches, so they
    do not run across a function's end)."""
    out = subprocess.run([f"{ARM_PREFIX}nm", "-S", "-n", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    functions = []  # (start, end, name)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW":
            start = int(parts[0], 16) & ~1
            functions.append((start, start + int(parts[1], 16), parts[3]))
    starts = [f[0] for f in functions]
    counts: dict[str, int] = {}
    for address, insns, runs in blocks:
        i = bisect.bisect_right(starts, address) - 1
        name = functions[i][2] if i >= 0 and address < functions[i][1] else "(other)"
        counts[name] = counts.get(name, 0) + insns * runs
    return counts


# --------------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------------

def random_samples(graph, count: int, seed: int) -> list[list[np.ndarray]]:
    """Seeded random inputs for every model input (int8: the full range; float: [-1, 1))."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        sample = []
        for t in graph.inputs:
            shape = tuple(t.shape)
            if t.dtype == "float32":
                sample.append(rng.uniform(-1, 1, shape).astype(np.float32))
            else:
                sample.append(rng.integers(-128, 128, shape, dtype=np.int8))
        samples.append(sample)
    return samples


def output_specs(graph) -> list[tuple]:
    return [(np.dtype(t.dtype), tuple(t.shape)) for t in graph.outputs]


def published_anchor(name: str) -> dict | None:
    """TinyEngine's published numbers for an archs/*.json architecture: the board whose
    latency implies the fewest cycles (latency x clock), with that board's Flash and SRAM."""
    from .zoo import ARCHS

    pub = ARCHS.get(name, {}).get("published") or {}
    best = None
    for board, runtimes in pub.items():
        m = re.search(r"(\d+)mhz", board)
        te = runtimes.get("tinyengine") if isinstance(runtimes, dict) else None
        if not m or not te or te.get("latency_ms") is None:
            continue
        cycles = te["latency_ms"] * 1e-3 * int(m.group(1)) * 1e6
        if best is None or cycles < best["cycles"]:
            best = dict(board=board, cycles=cycles, latency_ms=te["latency_ms"],
                        mhz=int(m.group(1)), flash_kB=te.get("flash_kB"),
                        peak_sram_kB=te.get("peak_sram_kB"))
    if best is not None:
        best["macs_M"] = pub.get("macs_M")
    return best


def load_model(spec: str, zoo_cache: Path | None = None) -> tuple[str, bytes]:
    """(name, .tflite bytes) of a zoo name or a .tflite path."""
    path = Path(spec)
    if path.suffix == ".tflite" or path.exists():
        return path.stem, path.read_bytes()
    from . import zoo

    if spec not in zoo.ZOO:
        raise MCUError(f"{spec!r} is neither a .tflite file nor a zoo model "
                       f"({', '.join(zoo.zoo_names())})")
    return spec, zoo.cached_zoo_tflite(spec, zoo_cache or cache_dir() / "zoo")


@dataclass
class Row:
    model: str
    build: str  # "portable", "dsp", or "tflm" (TFLite Micro's firmware)
    flags: str
    bit_exact: bool
    samples: int
    macs: int
    invoke_instructions: int  # the largest over the samples
    invoke_instructions_per_sample: list[int]
    instructions_per_mac: float
    flash_bytes: int  # text + data
    code_bytes: int  # Flash without weights and .data
    weights_bytes: int
    data_bytes: int
    bss_bytes: int
    stack_peak_bytes: int
    sram_bytes: int  # data + bss + stack peak
    arena_bytes: int | None  # our static arena (in bss)
    device: str
    fits_device: str  # "yes", "no: SRAM overflowed by N bytes", or "-"
    published: dict | None = None
    goals: dict = field(default_factory=dict)
    # --profile: layer_profile rows (per layer function, then other functions), whole run
    profile: list[dict] = field(default_factory=list)


def _goals(row: Row, anchor: dict | None) -> dict:
    goals = {"code_under_64kB": row.code_bytes < GOAL_CODE_BYTES}
    if anchor:
        goals["cycles_ratio"] = row.invoke_instructions / anchor["cycles"]
        goals["instructions_at_most_0.8x_tinyengine_cycles"] = (
            row.invoke_instructions <= GOAL_CYCLES_RATIO * anchor["cycles"])
        if anchor.get("flash_kB"):
            goals["flash_at_most_tinyengine"] = row.flash_bytes <= anchor["flash_kB"] * 1024
    return goals


def bench_model(name: str, model: bytes, *, device: Device, builds=BUILDS, samples: int = 1,
                seed: int = 0, workdir: Path, plugin: Path | None,
                tflm_root: str | None = None, profile: bool = False, patch=None,
                stream_input: bool = False, log=print) -> list[Row]:
    """Every build of one model: convert, build, run under QEMU, compare with TFLite Micro.
    `patch` and `stream_input` are convert()'s (patch stages; the firmware then streams the
    input from its sample file, region by region)."""
    from ..converter import convert
    from ..tflm import run_tflm_batch

    project = workdir / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    conv = convert(model, project, device=device, force=True, patch=patch,
                   stream_input=stream_input)
    inputs = random_samples(conv.graph, samples, seed)
    reference = run_tflm_batch(model, inputs)
    specs = output_specs(conv.graph)
    anchor = published_anchor(name)
    rows = []
    for build in builds:
        flags = build_flags(device, build)
        build_dir = project / f"build-{build}"
        log(f"  {name}: {build} build ({' '.join(flags)})")
        elf = build_qemu_firmware(project, build_dir, flags)
        sections = read_sections(elf)
        run = run_qemu(elf, inputs, specs, plugin=plugin, blocks=profile)
        exact = all(len(a) == len(b) and all(
            np.asarray(x).tobytes() == np.asarray(y).tobytes() for x, y in zip(a, b))
            for a, b in zip(run.outputs, reference))
        fits = "-"
        if build == "dsp":
            try:
                link_for_device(project, build_dir, flags)
                fits = "yes"
            except FirmwareTooBig as e:
                fits = "no: " + ", ".join(f"{r} overflowed by {n:,} B"
                                          for r, n in e.overflows.items())
        insns = max(run.invoke_instructions) if run.invoke_instructions else 0
        macs = conv.report.macs
        row = Row(
            model=name + _patch_label(conv.report), build=build, flags=" ".join(flags), bit_exact=exact, samples=samples,
            macs=macs, invoke_instructions=insns,
            invoke_instructions_per_sample=run.invoke_instructions,
            instructions_per_mac=insns / macs if macs else 0.0,
            flash_bytes=sections.flash_bytes, code_bytes=sections.code_bytes,
            weights_bytes=sections.weights_bytes, data_bytes=sections.data_bytes,
            bss_bytes=sections.bss_bytes, stack_peak_bytes=run.stack_peak_bytes,
            sram_bytes=sections.data_bytes + sections.bss_bytes + run.stack_peak_bytes,
            arena_bytes=conv.report.peak_sram_bytes, device=device.name, fits_device=fits,
            published=anchor)
        row.goals = _goals(row, anchor)
        if profile and plugin is not None:
            row.profile = layer_profile(function_instructions(elf, run.blocks), conv.report,
                                        "model")
        rows.append(row)
    if tflm_root:
        from .mcu_tflm import bench_tflm

        try:
            rows.append(bench_tflm(name, model, tflm_root=Path(tflm_root), device=device,
                                   inputs=inputs, reference=reference, specs=specs,
                                   workdir=project / "tflm", plugin=plugin, anchor=anchor,
                                   macs=conv.report.macs, log=log))
        except MCUError as e:
            log(f"  {name}: TFLite Micro firmware failed: {e}")
    return rows


def layer_profile(functions: dict[str, int], report, prefix: str, *, others: int = 8) -> list[dict]:
    """Per layer of the report with a function of its own (`<prefix>_op<index>`, the kernels
    inlined into it): its instructions; then the `others` functions outside the layers that
    ran the most (library kernels the invoke calls, start-up, I/O), each with "function" set;
    then one row for the rest."""
    rows, seen = [], set()
    for layer in report.layers:
        name = f"{prefix}_op{layer.index}"
        if name in functions:
            seen.add(name)
            rows.append({"layer": layer.index, "op": layer.kind, "macs": layer.macs,
                         "output": "x".join(map(str, layer.output_shape)),
                         "instructions": functions[name], "function": None})
    rest = sorted(((n, f) for f, n in functions.items() if f not in seen), reverse=True)
    for n, f in rest[:others]:
        rows.append({"layer": None, "op": f"function {f}", "macs": 0, "output": "",
                     "instructions": n, "function": f})
    rows.append({"layer": None, "op": "every other function", "macs": 0, "output": "",
                 "instructions": sum(n for n, _ in rest[others:]), "function": None})
    return rows


def format_profile(title: str, profile: list[dict], samples: int) -> str:
    """A layer_profile as a markdown table, the costliest first."""
    total = sum(p["instructions"] for p in profile) or 1
    lines = [f"Per layer, {title}; ops without a row of their own run a library function:", "",
             "| # | op | output | MACs | instructions | share | instr/MAC |",
             "|---:|---|---|---:|---:|---:|---:|"]
    for p in sorted(profile, key=lambda p: -p["instructions"]):
        per_mac = f"{p['instructions'] / (p['macs'] * samples):.2f}" if p["macs"] else "-"
        index = "" if p["layer"] is None else p["layer"]
        lines.append(f"| {index} | {p['op']} | {p['output']} | {p['macs']:,} | "
                     f"{p['instructions']:,} | {100 * p['instructions'] / total:.1f}% | "
                     f"{per_mac} |")
    return "\n".join(lines)


def _m(n: float) -> str:
    return f"{n / 1e6:,.1f}M"


def _kb(n: float) -> str:
    return f"{n / 1024:,.1f}"


def format_table(rows: list[Row]) -> str:
    lines = [
        "| model | build | bit-exact | invoke instr | instr/MAC | TinyEngine cycles (published) "
        "| instr / TE cycles (goal <= 0.8) | Flash kB (goal <= TE) | code kB (goal < 64) "
        "| weights kB | SRAM kB (data+bss+stack) / TE | stack peak B | links for device |",
        "|---|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        a = r.published
        te = (f"{_m(a['cycles'])} ({a['latency_ms']} ms x {a['mhz']} MHz, "
              f"{a['board'].split('_')[0].upper()})" if a else "-")
        ratio = (f"{r.goals['cycles_ratio']:.2f} "
                 f"{'met' if r.goals['instructions_at_most_0.8x_tinyengine_cycles'] else 'not met'}"
                 if a else "-")
        flash = _kb(r.flash_bytes)
        if a and a.get("flash_kB"):
            met = "met" if r.goals["flash_at_most_tinyengine"] else "not met"
            flash += f" / {a['flash_kB']} {met}"
        code = f"{_kb(r.code_bytes)} {'met' if r.goals['code_under_64kB'] else 'not met'}"
        sram = _kb(r.sram_bytes) + (f" / {a['peak_sram_kB']}" if a and a.get("peak_sram_kB")
                                    else "")
        lines.append(
            f"| {r.model} | {r.build} | {'yes' if r.bit_exact else 'NO'} | "
            f"{_m(r.invoke_instructions)} | {r.instructions_per_mac:.2f} | {te} | {ratio} | "
            f"{flash} | {code} | {_kb(r.weights_bytes)} | {sram} | "
            f"{r.stack_peak_bytes:,} | {r.device}: {r.fits_device} |")
    return "\n".join(lines)


def machine_info(device: Device) -> list[str]:
    from importlib import metadata

    try:
        tflm_version = metadata.version("tflite-micro")
    except metadata.PackageNotFoundError:  # pragma: no cover
        tflm_version = "?"
    return [
        f"Target: QEMU {QEMU_MACHINE} (Cortex-M7), {_version([QEMU, '--version'])}; "
        "instructions counted by the insn_count TCG plugin (exact; QEMU models no cycles)",
        f"Compiler: {_version([f'{ARM_PREFIX}gcc', '--version'])}, -O2 -fno-schedule-insns, newlib-nano; "
        + "; ".join(f"{b}: {' '.join(device.cflags(b))}" for b in BUILDS),
        f"Device linker script: {device.describe()}",
        f"Oracle: tflite-micro {tflm_version} on the host, same inputs",
    ]


def add_common_arguments(parser: argparse.ArgumentParser, *, default_models: str,
                         default_samples: int | None) -> None:
    """The options every benchmark takes (host, Cortex-M, board); `tflm-mcunet bench` adds
    them once for all its targets (default_samples None: each target's own default)."""
    parser.add_argument("models", nargs="*",
                        help=f"zoo names or .tflite files (default: {default_models})")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    samples = f"{default_samples}" if default_samples else "3 on the host, 1 on Cortex-M"
    parser.add_argument("--samples", type=int, default=default_samples,
                        help=f"random inputs per model compared with TFLite Micro ({samples})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs (0)")
    parser.add_argument("--workdir", help="folder for the projects and builds (default: temp)")
    parser.add_argument("--profile", action="store_true",
                        help="also count the instructions of every layer and print them as a "
                        "table per model and build (QEMU's plugin on Cortex-M, callgrind on "
                        "the host)")


def add_arguments(parser: argparse.ArgumentParser, common: bool = True) -> None:
    """The Cortex-M benchmark's options; `common=False` leaves out add_common_arguments'."""
    if common:
        add_common_arguments(parser, default_models="every architecture of archs/*.json",
                             default_samples=1)
    parser.add_argument("--device", default="stm32f746",
                        help="device whose linker script is checked and whose core the dsp "
                        "build uses (default: stm32f746)")
    parser.add_argument("--builds", default=",".join(BUILDS),
                        help=f"comma-separated builds (default: {','.join(BUILDS)})")
    parser.add_argument("--patch", metavar="auto|STAGE[,STAGE...]",
                        help="run the models with patch stages, as tflm-mcunet convert --patch "
                        "(default: layer by layer)")
    parser.add_argument("--stream-input", action="store_true",
                        help="with --patch: the firmware hands the input over region by region "
                        "(read from its sample file), so it is never whole in SRAM")


def _patch_label(report) -> str:
    """How the model ran, after its name: " (N patch stages[, input streamed])" or nothing."""
    stages = report.patch.stages if report.patch else []
    if not stages:
        return ""
    streamed = ", input streamed" if report.input_streamed else ""
    return f" ({len(stages)} patch stage{'s' if len(stages) > 1 else ''}{streamed})"


def run(args) -> int:
    target = getattr(args, "target", "qemu-m7")
    patch, stream_input = getattr(args, "patch", None), getattr(args, "stream_input", False)
    if target == "disco-f746":
        from .board import run_board

        if patch not in (None, "none") or stream_input:
            raise MCUError("--patch and --stream-input are for --target qemu-m7; the board "
                           "runner measures the layer-by-layer firmware")
        return run_board(args)
    require_tools()
    from .zoo import ARCHS

    device = get_device(args.device)
    builds = [b.strip() for b in args.builds.split(",") if b.strip()]
    for b in builds:
        if b not in BUILDS:
            raise MCUError(f"unknown build {b!r}; known: {', '.join(BUILDS)}")
    names = args.models or list(ARCHS)
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    tflm_root = os.environ.get("TFLM_ROOT")
    plugin = build_plugin()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="tflm-mcunet-mcu-"))
    rows: list[Row] = []
    for spec in names:
        name, model = load_model(spec)
        rows += bench_model(name, model, device=device, builds=builds, samples=args.samples or 1,
                            seed=args.seed, workdir=work, plugin=plugin, tflm_root=tflm_root,
                            profile=getattr(args, "profile", False), patch=patch,
                            stream_input=stream_input, log=log)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        print()
        for line in machine_info(device):
            print(line)
        print(f"Inputs: {args.samples or 1} seeded random int8 sample(s) per model (seed {args.seed});"
              " instructions: the largest over the samples")
        if not tflm_root:
            print("TFLite Micro firmware: skipped (set TFLM_ROOT to a TensorFlow Lite Micro "
                  "source tree to build and measure it beside ours)")
        print()
        print(format_table(rows))
        for row in rows:
            if row.profile:
                print()
                print(format_profile(
                    f"{row.model} ({row.build} build), instructions of the whole run "
                    f"({row.samples} sample(s), start-up and I/O included)", row.profile,
                    row.samples))
        print(f"\nProjects and builds: {work}")
    return 0 if all(r.bit_exact for r in rows) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.target = "qemu-m7"
    try:
        return run(args)
    except (MCUError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
