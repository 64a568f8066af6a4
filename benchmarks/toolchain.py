"""The Arm toolchain and QEMU, as the Cortex-M benchmarks use them: build a converted project's
firmware (the project's own Makefile), read its sections, run it on QEMU's mps2-an500 with
semihosting and count the instructions it executes (the `qemu_plugin/insn_count.c` plugin).

Every benchmark that builds or runs firmware (`mcu`, `mcu_tflm`, `board`, and the cost models'
measurements in `cost_model`) takes its tools from here.
"""
from __future__ import annotations

import bisect
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..devices import Device

ARM_PREFIX = os.environ.get("ARM_PREFIX", "arm-none-eabi-")
QEMU = os.environ.get("QEMU_SYSTEM_ARM", "qemu-system-arm")
QEMU_MACHINE = "mps2-an500"
APT_PACKAGES = "gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"


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


def tool_version(cmd: list[str]) -> str:
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
        try:
            outputs = unpack_outputs((work / "out.bin").read_bytes(), output_specs, len(samples))
        except ValueError as e:
            raise MCUError(f"the firmware {e}") from None
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


def unpack_outputs(raw: bytes, specs: list[tuple], count: int) -> list[list[np.ndarray]]:
    """The outputs of `count` samples as the benchmark harnesses write them: each output of
    each sample (`specs`: dtype and shape) back to back. ValueError when the bytes do not
    match."""
    sizes = [int(np.prod(shape)) * np.dtype(dtype).itemsize for dtype, shape in specs]
    if len(raw) != count * sum(sizes):
        raise ValueError(f"wrote {len(raw)} output bytes, expected {count * sum(sizes)}")
    outputs, offset = [], 0
    for _ in range(count):
        outs = []
        for (dtype, shape), n in zip(specs, sizes):
            outs.append(np.frombuffer(raw[offset:offset + n], dtype=dtype).reshape(shape))
            offset += n
        outputs.append(outs)
    return outputs


def identical_outputs(ours: list[list], reference: list[list]) -> bool:
    """Every output of every sample byte for byte equal (samples as lists of outputs)."""
    return len(ours) == len(reference) and all(
        len(a) == len(b) and all(np.asarray(x).tobytes() == np.asarray(y).tobytes()
                                 for x, y in zip(a, b))
        for a, b in zip(ours, reference))


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
