"""Measuring the search's cost models again: the code size of a generated model
(`search.codesize.MEASURED`) and the Cortex-M7 speed model (`search.latency.MEASURED`).

Both need the Arm toolchain, the speed model QEMU too (`toolchain`); the search itself only
reads the tables. `python -m tflm_mcunet.benchmarks.search_space --code-size --latency` runs
both and prints the tables with their errors (docs/latency.md).

- `measure_code_size(core)`: the kernels compiled and linked with the firmware's flags, the
  `model.c` of five search-space networks compiled, a least-squares fit per layer;
- `measure_latency(core)`: the networks of `TRAINING` and `HELD_OUT` converted, built as the
  QEMU benchmark firmware, their invoke counted per layer function, `latency.fit` on
  `TRAINING`, and the errors of the new table on `HELD_OUT`.
"""
from __future__ import annotations

import bisect
import random
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from ..converter.emit import emit_project
from ..converter.ir import Graph
from ..converter.passes.inplace import inplace_candidates
from ..converter.targets import target_files
from ..devices import DEVICES
from ..search.codesize import KERNEL_ENTRY_POINTS, KERNEL_FAMILIES
from ..search.cost import converter_graph, fused_graph
from ..search.latency import (DEFAULT_CORE, features, fit, graph_instructions, kind,
                              table_in_use)
from ..search.space import SearchSpace
from .toolchain import (ARM_PREFIX, build_plugin, build_qemu_firmware, function_instructions,
                        output_specs, random_samples, require_tools, run_qemu)

__all__ = ["measure_code_size", "measure_latency", "measure_network", "measured_graph",
           "reference_arch", "TRAINING", "HELD_OUT"]


# ---------------------------------------------------------------------------------------------
# code size (search.codesize)
# ---------------------------------------------------------------------------------------------

def _sections(path: Path, size_tool: str) -> int:
    """Bytes of code and constant/initialised data (.text*, .rodata*, .data*) in an object."""
    out = subprocess.run([size_tool, "-A", "-d", str(path)], check=True, capture_output=True,
                         text=True).stdout
    total = 0
    for line in out.splitlines():
        m = re.match(r"^(\.(?:text|rodata|data)\S*)\s+(\d+)", line)
        if m:
            total += int(m.group(2))
    return total


def measure_code_size(core: str = DEFAULT_CORE, prefix: str = ARM_PREFIX) -> dict:
    """Measure `codesize.MEASURED[core]` again with the installed Arm toolchain."""
    gcc, ld, size = (shutil.which(prefix + t) for t in ("gcc", "ld", "size"))
    if not (gcc and ld and size):
        raise FileNotFoundError(f"{prefix}gcc, ld and size are needed to measure code size")
    device = next(d for d in DEVICES.values() if d.core == core)
    engine = resources.files("tflm_mcunet.engine_c")
    flags = ["-std=c99", "-O2", *device.cflags("dsp"), "-ffunction-sections",
             "-fdata-sections"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        objs = []
        for fam in KERNEL_FAMILIES:
            obj = tmp / f"tme_{fam}.o"
            subprocess.run([gcc, *flags, "-I", str(engine / "include"), "-c",
                            str(engine / "src" / f"tme_{fam}.c"), "-o", str(obj)], check=True)
            objs.append(str(obj))
        roots = [a for e in KERNEL_ENTRY_POINTS for a in ("-u", e)]
        linked = tmp / "kernels.o"
        subprocess.run([ld, "-r", "--gc-sections", *roots, "-e", KERNEL_ENTRY_POINTS[0],
                        "-o", str(linked), *objs], check=True)
        kernels = _sections(linked, size)
        points = []
        for k, arch in enumerate(_reference_archs()):
            folder = tmp / f"model{k}"
            folder.mkdir()
            layers, residuals = _write_model(arch, folder)
            obj = folder / "model.o"
            subprocess.run([gcc, *flags, "-I", str(folder), "-c", str(folder / "model.c"),
                            "-o", str(obj)], check=True)
            points.append((layers, residuals, _sections(obj, size)))
    a = np.array([[1, lay, res] for lay, res, _ in points], float)
    b = np.array([s for _, _, s in points], float)
    fixed, per_layer, per_residual = (int(round(v)) for v in np.linalg.lstsq(a, b, rcond=None)[0])
    worst = max(abs(fixed + per_layer * lay + per_residual * res - s) for lay, res, s in points)
    return {"kernels": kernels, "model_fixed": fixed, "per_layer": per_layer,
            "per_residual": per_residual, "fit_error_bytes": int(worst)}


def _reference_archs():
    space = SearchSpace(classes=10)
    rng = random.Random(7)
    return [space.smallest(0.3, 48), space.largest(0.3, 48),
            *(space.sample(0.3, 48, rng) for _ in range(3))]


def _write_model(arch, folder: Path) -> int:
    """Emit the converter's C project of `arch` into `folder`; returns its layer count."""
    graph, plan = converter_graph(arch, dsp=True)  # as converted for a device
    files, _ = emit_project(graph, plan, "model")
    for name, text in files.items():
        (folder / name).write_text(text)
    return len(graph.ops), sum("residual" in op.params for op in graph.ops)


# ---------------------------------------------------------------------------------------------
# speed (search.latency)
# ---------------------------------------------------------------------------------------------

def _call_sites(elf: Path, prefix: str) -> tuple[list[int], list[tuple[int, str, str]]]:
    """(every instruction address of the ELF, sorted; the calls: (address, caller, callee),
    sorted), from its disassembly: `bl` and tail-call `b.w`/`b` to a function symbol."""
    text = subprocess.run([f"{prefix}objdump", "-d", "--no-show-raw-insn", str(elf)],
                          check=True, capture_output=True, text=True).stdout
    addresses, calls, caller = [], [], None
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if head:
            caller = head.group(1)
            continue
        m = re.match(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$", line)
        if not m or m.group(2).startswith("."):  # data in the code (.word): never executed
            continue
        address = int(m.group(1), 16)
        addresses.append(address)
        target = re.match(r"^[0-9a-f]+ <([^>+]+)>$", m.group(3).strip())
        if target and re.fullmatch(r"bl|b\.w|b", m.group(2)) and target.group(1) != caller:
            calls.append((address, caller, target.group(1)))
    return sorted(set(addresses)), sorted(calls)


def attribute_calls(elf: Path, blocks: list[tuple[int, int, int]], functions: dict[str, int],
                    keep: set[str], prefix: str) -> dict[str, int]:
    """Instructions per function of `keep` (`functions`: `benchmarks.function_instructions`)
    with the functions it calls included, and theirs in turn: a callee's count is shared among
    its call sites by how often each ran (a site's executions: those of the translation blocks
    that hold it). Exact for a callee with one caller; memcpy, called from several layers, goes
    to them by calls, not by bytes copied."""
    addresses, calls = _call_sites(elf, prefix)
    sites = [a for a, _, _ in calls]
    runs = [0] * len(calls)
    for pc, n, count in blocks:
        i = bisect.bisect_left(addresses, pc)
        if i == len(addresses) or addresses[i] != pc:
            continue
        last = addresses[min(i + n, len(addresses)) - 1]
        for j in range(bisect.bisect_left(sites, pc), bisect.bisect_right(sites, last)):
            runs[j] += count
    callers: dict[str, list[tuple[str, int]]] = {}  # callee -> (caller, calls)
    for (_, caller, callee), r in zip(calls, runs):
        if r and caller is not None:
            callers.setdefault(callee, []).append((caller, r))
    result = {f: float(n) for f, n in functions.items()}
    pending = {f for f in callers if f not in keep}
    while pending:  # a callee after everything it calls has been added to it
        ready = [f for f in pending if not any(c in pending and f in (x for x, _ in sites_)
                                               for c, sites_ in callers.items())] or list(pending)
        for f in ready:
            pending.discard(f)
            total, whole = result.pop(f, 0.0), sum(r for _, r in callers[f])
            for caller, r in callers[f]:
                result[caller] = result.get(caller, 0.0) + total * r / whole
    return {f: int(round(n)) for f, n in result.items() if f in keep}


def measure_network(arch, core: str = DEFAULT_CORE, *, workdir: Path, plugin: Path,
                    seed: int = 0) -> dict:
    """Convert `arch` as for a device with `core` (the converter's passes, its in-place choice
    for DSP cores, zero weights), build the QEMU benchmark firmware with that core's DSP flags,
    run it once and count: {"invoke": instructions of the invoke call, "layers": [(op, its
    instructions with the library functions it called)], "fixed": the rest of the invoke}."""
    device = next(d for d in DEVICES.values() if d.core == core)
    graph, plan = converter_graph(arch, dsp=True)
    files, _ = emit_project(graph, plan, "model")
    files.update(target_files(device, prefix="model", source=arch.label()))
    folder = Path(workdir) / f"{arch.label()}-{core}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    elf = build_qemu_firmware(folder, folder / "build", device.cflags("dsp"))
    run = run_qemu(elf, random_samples(graph, 1, seed), output_specs(graph),
                       plugin=plugin, blocks=True)
    functions = function_instructions(elf, run.blocks)
    names = {op: f"model_op{op.index}" for op in graph.ops}
    keep = {n for n in names.values() if n in functions} | {"model_invoke"}
    counts = attribute_calls(elf, run.blocks, functions, keep, ARM_PREFIX)
    # an op without a function of its own (MEAN) is a library call of model_invoke
    bare = [op for op, n in names.items() if n not in functions]
    if len(bare) > 1:
        raise RuntimeError(f"{arch.label()}: ops {[op.index for op in bare]} have no function "
                           "of their own: their instructions cannot be told apart")
    layers = [(op, counts[n] if op not in bare else
               counts["model_invoke"] - functions["model_invoke"]) for op, n in names.items()]
    invoke = run.invoke_instructions[0]
    return {"invoke": invoke, "layers": layers, "fixed": invoke - sum(n for _, n in layers)}


#: the networks measured: (width multiplier, resolution, classes, seed) of
#: `SearchSpace(classes=...).sample(width, resolution, random.Random(seed))`; the fit sees only
#: TRAINING (classes vary there, so that the classifier's per-output cost is told apart)
TRAINING = ((0.2, 32, 10, 100), (0.3, 48, 10, 101), (0.4, 64, 2, 102), (0.5, 96, 10, 103),
            (0.3, 80, 100, 104), (0.5, 48, 10, 105), (0.2, 96, 10, 106), (0.4, 32, 10, 107),
            (0.2, 64, 1000, 108), (0.5, 32, 10, 109), (0.4, 80, 10, 120), (0.5, 64, 10, 121))
HELD_OUT = ((0.2, 48, 10, 110), (0.3, 64, 10, 111), (0.4, 96, 10, 112), (0.5, 80, 10, 113),
            (0.3, 32, 10, 114), (0.4, 48, 10, 115), (0.3, 96, 10, 116), (0.5, 64, 10, 117))


def reference_arch(spec):
    width, resolution, classes, seed = spec
    return SearchSpace(classes=classes).sample(width, resolution, random.Random(seed))


def arch_instructions(arch, core: str | None = None) -> int:
    """Predicted invoke instructions of a search-space architecture, as the cost model predicts
    them: its fused graph, the depthwise kernels by `predict_inplace`."""
    graph = fused_graph(arch)
    return graph_instructions(graph, core, inplace_candidates(graph))


def measure_latency(core: str = DEFAULT_CORE, *, workdir: str | None = None,
                    log=None) -> dict:
    """Measure `latency.MEASURED[core]` again (QEMU and the Arm toolchain; about a minute): {"table":
    the new `latency.MEASURED[core]`, "training" / "held_out": per network (label, measured, predicted
    as the cost model does, predicted with the converter's own depthwise kernels)}."""
    require_tools()
    plugin = build_plugin()
    nets = {}
    with tempfile.TemporaryDirectory(prefix="tflm-mcunet-latency-", dir=workdir) as tmp:
        for spec in TRAINING + HELD_OUT:
            arch = reference_arch(spec)
            nets[spec] = (arch, measure_network(arch, core, workdir=Path(tmp), plugin=plugin))
            if log:
                log(f"  {_label(spec)}: {nets[spec][1]['invoke']:,} instructions")
    samples = [(kind(op), features(op, kind(op)), n) for spec in TRAINING
               for op, n in nets[spec][1]["layers"]]
    # the invoke outside the layers: a few calls, the same in every network
    invoke = int(round(np.mean([nets[s][1]["fixed"] for s in TRAINING])))
    table = {"invoke": invoke, "kinds": fit(samples),
             "held_out": {spec: nets[spec][1]["invoke"] for spec in HELD_OUT}}
    with table_in_use(core, table):  # predict with the new table
        def rows(specs):
            return [(_label(s), nets[s][1]["invoke"], arch_instructions(nets[s][0], core),
                     graph_instructions(measured_graph(nets[s][1]), core)) for s in specs]
        result = {"table": table, "training": rows(TRAINING), "held_out": rows(HELD_OUT)}
    return result


def _label(spec) -> str:
    return f"{reference_arch(spec).label()} ({spec[2]} classes, seed {spec[3]})"


def measured_graph(measured: dict):
    """A stand-in graph of the ops measure_network ran (their own in-place choice)."""
    return Graph([], [op for op, _ in measured["layers"]], [], [])
