"""TensorFlow Lite Micro's own firmware for the Cortex-M benchmark (when TFLM_ROOT is set).

TFLM_ROOT points at a tflite-micro source tree whose third-party downloads are in place (run
its Makefile once with network access, e.g. `make -f tensorflow/lite/micro/tools/make/Makefile
third_party_downloads`). Its library is built with its own Makefile for `cortex_m_generic`
(TARGET_ARCH cortex-m7+fp by default; TFLM_MAKE_ARGS adds arguments, e.g.
OPTIMIZED_KERNEL_DIR=cmsis_nn), and a small C++ harness (engine_c/targets/tme_bench_tflm.cc)
runs the model with the same semihosting protocol, markers, startup and QEMU linker script as
our firmware, so the instruction counts, Flash and SRAM are measured the same way. The
harness's arena is 2 MB; the SRAM reported counts the arena bytes TFLM actually used
(`arena_used_bytes()`).
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..converter.targets import QEMU_STACK_BYTES, linker_script, runtime_file
from ..devices import EMULATORS
from .toolchain import ARM_PREFIX, MCUError, QemuRun, Sections, read_sections, run_qemu

TFLM_ARENA_BYTES = 2 * 1024 * 1024
#: harness flags: the hard-float Cortex-M7 ABI of TARGET_ARCH=cortex-m7+fp
TFLM_ARCH_FLAGS = ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"]

#: builtin operator -> MicroMutableOpResolver method
_RESOLVER = {
    "ADD": "AddAdd", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul", "CALL_ONCE": "AddCallOnce",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEQUANTIZE": "AddDequantize", "ELU": "AddElu",
    "EXPAND_DIMS": "AddExpandDims", "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather",
    "HARD_SWISH": "AddHardSwish", "LEAKY_RELU": "AddLeakyRelu", "LOGISTIC": "AddLogistic",
    "MAXIMUM": "AddMaximum", "MAX_POOL_2D": "AddMaxPool2D", "MEAN": "AddMean",
    "MINIMUM": "AddMinimum", "MIRROR_PAD": "AddMirrorPad", "MUL": "AddMul", "PACK": "AddPack",
    "PAD": "AddPad", "PADV2": "AddPadV2", "PRELU": "AddPrelu", "QUANTIZE": "AddQuantize",
    "READ_VARIABLE": "AddReadVariable",
    "REDUCE_MAX": "AddReduceMax", "REDUCE_MIN": "AddReduceMin", "RELU": "AddRelu",
    "RELU6": "AddRelu6", "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "SHAPE": "AddShape",
    "SLICE": "AddSlice", "SOFTMAX": "AddSoftmax", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv",
    "UNPACK": "AddUnpack",
    "VAR_HANDLE": "AddVarHandle",
}



def _run(cmd: list[str], cwd: Path | None = None, what: str = "") -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise MCUError(f"{what or cmd[0]} failed:\n{(result.stdout + result.stderr)[-4000:]}")


def build_tflm_library(root: Path) -> tuple[Path, list[str]]:
    """(libtensorflow-microlite.a, extra make args) built by TFLM's own Makefile."""
    makefile = root / "tensorflow/lite/micro/tools/make/Makefile"
    if not makefile.exists():
        raise MCUError(f"TFLM_ROOT={root} is not a tflite-micro source tree (no {makefile})")
    import os

    gcc = shutil.which(f"{ARM_PREFIX}gcc")
    extra = shlex.split(os.environ.get("TFLM_MAKE_ARGS", ""))
    args = ["TARGET=cortex_m_generic", "TARGET_ARCH=cortex-m7+fp",
            f"TARGET_TOOLCHAIN_ROOT={Path(gcc).parent}/" if gcc else "",
            f"TARGET_TOOLCHAIN_PREFIX={ARM_PREFIX}"] + extra
    _run(["make", "-f", str(makefile), "-j2"] + [a for a in args if a] + ["microlite"], cwd=root,
         what="building TFLite Micro (its Makefile)")
    libs = sorted((root / "gen").glob("cortex_m_generic*/lib/libtensorflow-microlite.a"),
                  key=lambda p: p.stat().st_mtime)
    if not libs:
        raise MCUError(f"no libtensorflow-microlite.a under {root / 'gen'}")
    return libs[-1], extra


@dataclass
class TflmFirmware:
    """TFLite Micro's benchmark firmware of one model, run on QEMU."""

    flags: str
    sections: Sections
    run: QemuRun
    arena_used_bytes: int  # of the harness's TFLM_ARENA_BYTES

    @property
    def sram_bytes(self) -> int:
        """data + bss with the arena TFLM used (not the harness's whole arena) + stack peak."""
        return (self.sections.data_bytes + self.sections.bss_bytes - TFLM_ARENA_BYTES
                + self.arena_used_bytes + self.run.stack_peak_bytes)


def run_tflm_firmware(name: str, model: bytes, *, tflm_root: Path, inputs, specs,
                      workdir: Path, plugin, log=print) -> TflmFirmware:
    """Build TFLite Micro's firmware of `model` in `workdir` and run it on `inputs` under
    QEMU (`specs`: the outputs' dtypes and shapes)."""
    from ..tflm import model_op_names

    log(f"  {name}: TFLite Micro firmware ({tflm_root})")
    lib, extra = build_tflm_library(tflm_root)
    ops = sorted(set(model_op_names(model)))
    unknown = [op for op in ops if op not in _RESOLVER]
    if unknown:
        raise MCUError(f"no MicroMutableOpResolver method known for {', '.join(unknown)}")
    workdir.mkdir(parents=True, exist_ok=True)
    for f in ("tme_cortexm.h", "tme_cortexm_startup.c", "tme_semihost.h", "tme_semihost.c",
              "tme_bench.h"):
        (workdir / f).write_text(runtime_file(f))
    (workdir / "mps2_an500.ld").write_text(
        linker_script(EMULATORS["mps2-an500"], stack_bytes=QEMU_STACK_BYTES,
                      title="QEMU mps2-an500 (TFLite Micro benchmark firmware)"))
    body = ",".join(str(b) for b in np.frombuffer(model, np.uint8))
    # named model_weights.c so that the linker script puts the model into .weights
    (workdir / "model_weights.c").write_text(
        "/* the .tflite flatbuffer */\n__attribute__((aligned(16))) const unsigned char "
        f"tme_tflm_model[{len(model)}] = {{{body}}};\n")
    (workdir / "tme_bench_tflm.cc").write_text(runtime_file("tme_bench_tflm.cc"))
    adds = "".join(f" \\\n  (r).{_RESOLVER[op]}();" for op in ops)
    (workdir / "tme_tflm_ops.h").write_text(  # the model's operators, for the harness
        f"#define TME_TFLM_NUM_OPS {len(ops)}\n"
        f"#define TME_TFLM_ADD_OPS(r) do {{{adds} \\\n}} while (0)\n")
    downloads = tflm_root / "tensorflow/lite/micro/tools/make/downloads"
    includes = [f"-I{p}" for p in (workdir, tflm_root, downloads / "flatbuffers/include",
                                   downloads / "gemmlowp", downloads / "ruy")]
    common = TFLM_ARCH_FLAGS + ["-O2", "-ffunction-sections", "-fdata-sections"]
    objs = []
    for src in ("tme_cortexm_startup.c", "tme_semihost.c", "model_weights.c"):
        obj = workdir / src.replace(".c", ".o")
        _run([f"{ARM_PREFIX}gcc", "-std=c99"] + common + includes + ["-c", str(workdir / src),
              "-o", str(obj)], what=f"compiling {src}")
        objs.append(obj)
    obj = workdir / "tme_bench_tflm.o"
    _run([f"{ARM_PREFIX}g++", "-std=c++17", "-fno-rtti", "-fno-exceptions",
          "-fno-threadsafe-statics", "-DTF_LITE_STATIC_MEMORY",
          f"-DTME_TFLM_ARENA_BYTES={TFLM_ARENA_BYTES}"] + common + includes
         + ["-c", str(workdir / "tme_bench_tflm.cc"), "-o", str(obj)],
         what="compiling the harness")
    objs.append(obj)
    elf = workdir / "tflm.elf"
    _run([f"{ARM_PREFIX}g++"] + TFLM_ARCH_FLAGS + [
        "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-T",
        str(workdir / "mps2_an500.ld"), "-o", str(elf)] + [str(o) for o in objs]
        + [str(lib), "-lm"], what="linking the TFLite Micro firmware")
    run = run_qemu(elf, inputs, specs, plugin=plugin)
    m = re.search(r"tflm arena_used=(\d+)", run.console)
    return TflmFirmware(" ".join(TFLM_ARCH_FLAGS + extra), read_sections(elf), run,
                        int(m.group(1)) if m else TFLM_ARENA_BYTES)
