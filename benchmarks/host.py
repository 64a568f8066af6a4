"""Host benchmark: TFLite Micro, our generated C and TFLite's XNNPACK side by side, on this machine.

For every model (a zoo name or a .tflite file; default: the whole zoo), in one run:

- convert it, and build the generated C with the host compiler (default `-O3 -march=native`)
  linked with the harness `engine_c/targets/tme_bench_host.c`;
- run our code and TFLite Micro (the `tflite-micro` Python runtime, in a child process) on the
  same seeded random int8 inputs and compare every output byte ("identical");
- time both on the first input: the median per-invoke latency over rounds (ours: rounds of at
  least 1 ms timed in C; TFLite Micro: single `invoke()` calls from Python, each a millisecond
  or more on these models);
- time TFLite's own interpreter with the XNNPACK delegate on one thread, the desktop anchor
  (needs TensorFlow; timed through its Python `invoke()`, which adds a microsecond or two);
- count the instructions each runtime executes in its invoke call with callgrind (valgrind):
  `tflite::micro::MicroInterpreter::Invoke()` and `model_invoke()`. These counts are exact and
  repeatable, unlike latencies on a shared machine. valgrind does not decode AVX-512, so our
  counted build uses `--count-cflags` (default `-O3 -march=x86-64-v3`, i.e. AVX2).

    python -m tflm_mcunet.benchmarks.host [MODEL ...] [--json]
    tflm-mcunet bench MODEL.tflite

Goals (issue #5): geometric-mean speedup over TFLite Micro >= 20x, and a geometric-mean
latency within 3x of XNNPACK's single-threaded one.

`--compare-cflags` times our code alone under several sets of compiler flags instead
(CFLAGS_CANDIDATES, each build's outputs checked against TFLite Micro) and checks that
`compile_host`'s default (`host_cflags()`) is within 10% of the fastest (issue #24).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..host import HOST_CFLAGS, host_cflags

DEFAULT_CFLAGS = HOST_CFLAGS
#: the flags --compare-cflags times: the portable default of the projects' Makefile (-O2),
#: compile_host's (HOST_CFLAGS) and the nearby choices a user might try
CFLAGS_CANDIDATES = ("-O2", "-O3", "-O2 -march=native", "-O3 -march=native",
                     "-O3 -march=x86-64-v3", "-O3 -march=native -funroll-loops")
GOAL_DEFAULT_CFLAGS = 1.10  # compile_host's default at most 10% slower than the best flags
#: what callgrind (valgrind 3.19+) can execute: no AVX-512
DEFAULT_COUNT_CFLAGS = "-O3 -march=x86-64-v3"
TFLM_INVOKE = "tflite::micro::MicroInterpreter::Invoke()"
GOAL_SPEEDUP = 20.0
GOAL_XNNPACK_RATIO = 3.0


class HostBenchError(RuntimeError):
    """Building or running one of the runtimes failed."""


@dataclass
class Row:
    model: str
    macs: int
    identical: bool  # every output byte of every sample equals TFLite Micro's
    samples: int
    tflm_ms: float
    ours_ms: float
    speedup: float  # tflm_ms / ours_ms
    xnnpack_ms: float | None  # TFLite + XNNPACK, one thread
    ours_over_xnnpack: float | None  # ours_ms / xnnpack_ms
    tflm_instructions: int | None
    ours_instructions: int | None
    instruction_ratio: float | None  # tflm / ours
    tflm_macs_per_instruction: float | None
    ours_macs_per_instruction: float | None
    peak_sram_bytes: int
    # --profile: per layer function (mcu.layer_profile), instructions of one invoke
    profile: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# our generated code
# --------------------------------------------------------------------------------------------

def _cc() -> str:
    return os.environ.get("CC", "cc")


def build_harness(project: Path, cflags: str, exe: Path) -> Path:
    """The generated project in `project` (prefix `model`) linked with the host harness."""
    harness = resources.files("tflm_mcunet.engine_c") / "targets" / "tme_bench_host.c"
    sources = sorted(str(p) for p in Path(project).glob("*.c"))
    with resources.as_file(harness) as h:
        cmd = [_cc(), "-std=c99", "-Wall", "-Wextra", "-Werror", *cflags.split(), "-I",
               str(project), *sources, str(h), "-o", str(exe), "-lm"]
        result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise HostBenchError(f"building {project} with {cflags} failed:\n{result.stderr[-3000:]}")
    return exe


def _write_samples(path: Path, samples: list[list[np.ndarray]]) -> None:
    with open(path, "wb") as f:
        for sample in samples:
            for x in sample:
                f.write(np.ascontiguousarray(x).tobytes())


def run_ours(exe: Path, inputs: Path, specs: list[tuple], count: int) -> list[list[np.ndarray]]:
    out = inputs.with_suffix(".out")
    result = subprocess.run([str(exe), "run", str(inputs), str(out)], capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise HostBenchError(f"{exe} run failed: {result.stderr[-2000:]}")
    from .toolchain import unpack_outputs

    try:
        return unpack_outputs(out.read_bytes(), specs, count)
    except ValueError as e:
        raise HostBenchError(f"{exe} {e}") from None


def time_ours(exe: Path, inputs: Path, seconds: float) -> list[float]:
    """Per-invoke nanoseconds of each timed round."""
    result = subprocess.run([str(exe), "time", str(inputs), str(seconds)], capture_output=True,
                            text=True)
    m = re.search(r"tme-host-bench ns=([\d.,]+)", result.stdout)
    if result.returncode != 0 or not m:
        raise HostBenchError(f"{exe} time failed: {result.stdout[-500:]}{result.stderr[-2000:]}")
    return [float(v) for v in m.group(1).split(",")]


# --------------------------------------------------------------------------------------------
# callgrind
# --------------------------------------------------------------------------------------------

def callgrind_available() -> bool:
    return shutil.which("valgrind") is not None


def callgrind_instructions(cmd: list[str], function: str,
                           per_function: dict[str, int] | None = None) -> int:
    """Instructions executed inside `function` (and everything it calls) while running cmd;
    with `per_function`, also fills it with each function's own instructions among them
    (from callgrind_annotate)."""
    with tempfile.TemporaryDirectory(prefix="tflm-mcunet-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                                 f"--toggle-collect={function}", *cmd],
                                capture_output=True, text=True)
        if result.returncode != 0 or not out.exists():
            raise HostBenchError(f"callgrind failed ({result.returncode}): "
                                 f"{result.stderr[-2000:]}")
        m = re.search(r"^(?:summary|totals):\s+(\d+)", out.read_text(), re.MULTILINE)
        if not m:
            raise HostBenchError("callgrind wrote no instruction total")
        if per_function is not None:
            annotated = subprocess.run(["callgrind_annotate", "--threshold=100", str(out)],
                                       capture_output=True, text=True)
            for line in annotated.stdout.splitlines():
                row = _ANNOTATED.match(line)
                if row:
                    name = row.group(2)
                    cost = int(row.group(1).replace(",", ""))
                    per_function[name] = per_function.get(name, 0) + cost
        return int(m.group(1))


#: a function's line in callgrind_annotate's output: "1,234 (5.6%)  file:function [binary]"
_ANNOTATED = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?\S*?:(\w+)(?:\s+\[.*\])?\s*$")


# --------------------------------------------------------------------------------------------
# TFLite Micro and TFLite (XNNPACK), in child processes
# --------------------------------------------------------------------------------------------

_TFLM_CHILD = """
import sys, time, numpy as np
from tflite_micro.python.tflite_micro import runtime
model, inputs, mode, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
arena, count = int(sys.argv[5]), int(sys.argv[6])
it = runtime.Interpreter.from_bytes(open(model, 'rb').read(), arena_size=arena)
raw, offset = open(inputs, 'rb').read(), 0
for i in range(count):
    d = it.get_input_details(i)
    n = int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize
    it.set_input(np.frombuffer(raw[offset:offset + n], dtype=d["dtype"]).reshape(d["shape"]), i)
    offset += n
if mode == "once":
    it.invoke()
else:
    it.invoke()
    times, start = [], time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < seconds and len(times) < 2000):
        t = time.perf_counter(); it.invoke(); times.append(time.perf_counter() - t)
    print("tflm-times", ",".join(f"{t * 1e9:.1f}" for t in times))
"""


def _tflm_cmd(model: Path, inputs: Path, mode: str, seconds: float, arena: int,
              count: int) -> list[str]:
    return [sys.executable, "-c", _TFLM_CHILD, str(model), str(inputs), mode, str(seconds),
            str(arena), str(count)]


def time_tflm(model: Path, inputs: Path, seconds: float, arena: int, count: int) -> list[float]:
    result = subprocess.run(_tflm_cmd(model, inputs, "time", seconds, arena, count),
                            capture_output=True, text=True)
    m = re.search(r"tflm-times ([\d.,]+)", result.stdout)
    if result.returncode != 0 or not m:
        raise HostBenchError(f"TFLite Micro timing failed ({result.returncode}): "
                             f"{result.stderr[-2000:]}")
    return [float(v) for v in m.group(1).split(",")]


_XNNPACK_CHILD = """
import os, pickle, sys, time, warnings
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
try:
    from tensorflow.lite.python.interpreter import Interpreter
except Exception as e:
    pickle.dump(("error", f"TensorFlow Lite is not available: {e}"), out); out.flush(); sys.exit(0)
pickle.dump(("ready", None), out); out.flush()
while True:
    try:
        req = pickle.load(sys.stdin.buffer)
    except EOFError:
        break
    try:
        it = Interpreter(model_content=req["model"], num_threads=1)
        it.allocate_tensors()
        for d, x in zip(it.get_input_details(), req["inputs"]):
            it.set_tensor(d["index"], x)
        it.invoke()
        times, start = [], time.perf_counter()
        while len(times) < 20 or (time.perf_counter() - start < req["seconds"] and len(times) < 20000):
            t = time.perf_counter(); it.invoke(); times.append(time.perf_counter() - t)
        pickle.dump(("times", [t * 1e9 for t in times]), out)
    except Exception as e:
        pickle.dump(("error", str(e)), out)
    out.flush()
"""


class XnnpackTimer:
    """TFLite's interpreter (XNNPACK delegate, one thread) in one child process for the run."""

    def __init__(self):
        self.proc = None
        self.error = None

    def _start(self):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.proc = subprocess.Popen([sys.executable, "-c", _XNNPACK_CHILD],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        kind, value = pickle.load(self.proc.stdout)
        if kind != "ready":
            self.error = value

    def time(self, model: bytes, inputs: list[np.ndarray], seconds: float) -> list[float] | None:
        if self.proc is None and self.error is None:
            try:
                self._start()
            except (OSError, EOFError, pickle.UnpicklingError) as e:
                self.error = f"the TensorFlow child failed: {e}"
        if self.error:
            return None
        try:
            pickle.dump(dict(model=model, inputs=inputs, seconds=seconds), self.proc.stdin)
            self.proc.stdin.flush()
            kind, value = pickle.load(self.proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            self.error = f"the TensorFlow child failed: {e}"
            return None
        return value if kind == "times" else None

    def close(self):
        if self.proc is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
            self.proc = None


# --------------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------------

def bench_model(name: str, model: bytes, *, workdir: Path, cflags: str, count_cflags: str,
                samples: int, seed: int, seconds: float, instructions: bool,
                xnnpack: XnnpackTimer | None, profile: bool = False) -> Row:
    from ..converter import convert
    from ..tflm import default_arena_size, run_tflm_batch
    from .mcu import layer_profile
    from .toolchain import identical_outputs, output_specs, random_samples

    project = workdir / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    conv = convert(model, project / "c", force=True)
    model_path = project / "model.tflite"
    model_path.write_bytes(model)
    inputs = random_samples(conv.graph, samples, seed)
    input_file = project / "inputs.bin"
    _write_samples(input_file, inputs)
    first_file = project / "first.bin"
    _write_samples(first_file, inputs[:1])

    exe = build_harness(project / "c", cflags, project / "bench")
    ours = run_ours(exe, input_file, output_specs(conv.graph), samples)
    reference = run_tflm_batch(model, inputs)
    identical = identical_outputs(ours, reference)

    arena = default_arena_size(model)
    count = len(conv.graph.inputs)
    tflm_ns = float(np.median(time_tflm(model_path, first_file, seconds, arena, count)))
    ours_ns = float(np.median(time_ours(exe, first_file, seconds)))
    xnn_ns = None
    if xnnpack is not None:
        times = xnnpack.time(model, inputs[0], seconds)
        xnn_ns = float(np.median(times)) if times else None

    tflm_insns = ours_insns = None
    functions: dict[str, int] | None = {} if profile else None
    if instructions or profile:
        counted = build_harness(project / "c", count_cflags, project / "bench-count")
        ours_insns = callgrind_instructions([str(counted), "once", str(first_file)],
                                            "model_invoke", functions)
        tflm_insns = callgrind_instructions(
            _tflm_cmd(model_path, first_file, "once", 0, arena, count), TFLM_INVOKE)
    macs = conv.report.macs
    return Row(
        model=name, macs=macs, identical=identical, samples=samples,
        tflm_ms=tflm_ns / 1e6, ours_ms=ours_ns / 1e6, speedup=tflm_ns / ours_ns,
        xnnpack_ms=None if xnn_ns is None else xnn_ns / 1e6,
        ours_over_xnnpack=None if xnn_ns is None else ours_ns / xnn_ns,
        tflm_instructions=tflm_insns, ours_instructions=ours_insns,
        instruction_ratio=(tflm_insns / ours_insns) if tflm_insns and ours_insns else None,
        tflm_macs_per_instruction=(macs / tflm_insns) if tflm_insns else None,
        ours_macs_per_instruction=(macs / ours_insns) if ours_insns else None,
        peak_sram_bytes=conv.report.peak_sram_bytes,
        profile=layer_profile(functions, conv.report, "model") if functions else [])


def compare_cflags(name: str, model: bytes, *, workdir: Path, candidates, samples: int,
                   seed: int, seconds: float) -> dict:
    """Our code of `model` built with each flag set of `candidates`: the median per-invoke
    nanoseconds of each, and whether every build's outputs equal TFLite Micro's."""
    from ..converter import convert
    from ..tflm import run_tflm_batch
    from .toolchain import identical_outputs, output_specs, random_samples

    project = workdir / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    conv = convert(model, project / "c", force=True)
    inputs = random_samples(conv.graph, samples, seed)
    input_file, first_file = project / "inputs.bin", project / "first.bin"
    _write_samples(input_file, inputs)
    _write_samples(first_file, inputs[:1])
    reference = run_tflm_batch(model, inputs)
    ns, identical = {}, True
    for k, cflags in enumerate(candidates):
        exe = build_harness(project / "c", cflags, project / f"bench-{k}")
        ours = run_ours(exe, input_file, output_specs(conv.graph), samples)
        identical &= identical_outputs(ours, reference)
        ns[cflags] = float(np.median(time_ours(exe, first_file, seconds)))
    return {"model": name, "macs": conv.report.macs, "ns": ns, "identical": identical}


def format_cflags_table(rows: list[dict], default: str) -> list[str]:
    """Latency per flag set (ms), and compile_host's default against the fastest."""
    candidates = list(rows[0]["ns"])
    lines = ["| model | MACs | " + " | ".join(f"`{c}`" for c in candidates) +
             " | default / best | identical |",
             "|---|---:|" + "---:|" * len(candidates) + "---:|---|"]
    for r in rows:
        best = min(r["ns"].values())
        cells = [(f"**{_ms(v / 1e6)}**" if v == best else _ms(v / 1e6))
                 for v in r["ns"].values()]
        lines.append(f"| {r['model']} | {r['macs'] / 1e6:,.1f}M | " + " | ".join(cells) +
                     f" | {r['ns'][default] / best:.2f}x | {'yes' if r['identical'] else 'NO'} |")
    ratios = [r["ns"][default] / min(r["ns"].values()) for r in rows]
    speedups = [r["ns"]["-O2"] / r["ns"][default] for r in rows if "-O2" in r["ns"]]
    lines += ["", f"compile_host's default here: `{default}` (ms per invoke, fastest in bold)."]
    if speedups:
        lines.append(f"Default against the Makefile's portable -O2: {_x(geomean(speedups), 2)} "
                     "faster (geometric mean).")
    worst = max(ratios)
    lines.append(f"Goal: compile_host's default within {100 * (GOAL_DEFAULT_CFLAGS - 1):.0f}% "
                 f"of the best flags on every model: worst {worst:.2f}x, geometric mean "
                 f"{geomean(ratios):.2f}x, {'met' if worst <= GOAL_DEFAULT_CFLAGS else 'NOT met'}")
    return lines


def geomean(values) -> float | None:
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _m(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:,.1f}M"


def _x(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}x"


def format_table(rows: list[Row]) -> str:
    lines = [
        "| model | MACs | TFLM ms | ours ms | speedup | XNNPACK ms (1 thread) | ours / XNNPACK "
        "| TFLM instr | ours instr | instr ratio | MACs/instr TFLM | MACs/instr ours "
        "| identical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.model} | {r.macs / 1e6:,.1f}M | {_ms(r.tflm_ms)} | {_ms(r.ours_ms)} | "
            f"{_x(r.speedup)} | {_ms(r.xnnpack_ms)} | {_x(r.ours_over_xnnpack, 2)} | "
            f"{_m(r.tflm_instructions)} | {_m(r.ours_instructions)} | "
            f"{_x(r.instruction_ratio)} | "
            f"{'-' if r.tflm_macs_per_instruction is None else f'{r.tflm_macs_per_instruction:.3f}'} | "
            f"{'-' if r.ours_macs_per_instruction is None else f'{r.ours_macs_per_instruction:.3f}'} | "
            f"{'yes' if r.identical else 'NO'} |")
    speed = geomean(r.speedup for r in rows)
    xnn = geomean(r.ours_over_xnnpack for r in rows)
    insn = geomean(r.instruction_ratio for r in rows)
    lines.append(f"| **geometric mean** | | | | **{_x(speed)}** | | **{_x(xnn, 2)}** | | | "
                 f"**{_x(insn)}** | | | |")
    return "\n".join(lines)


def goals(rows: list[Row]) -> list[str]:
    speed = geomean(r.speedup for r in rows)
    xnn = geomean(r.ours_over_xnnpack for r in rows)
    out = [f"Goal: geometric-mean speedup over TFLite Micro >= {GOAL_SPEEDUP:.0f}x: "
           f"{speed:.1f}x, {'met' if speed >= GOAL_SPEEDUP else 'NOT met'}"]
    if xnn is not None:
        out.append(f"Goal: geometric-mean latency within {GOAL_XNNPACK_RATIO:.0f}x of XNNPACK "
                   f"(one thread): {xnn:.2f}x, "
                   f"{'met' if xnn <= GOAL_XNNPACK_RATIO else 'NOT met'}")
    else:
        out.append("Goal: within 3x of XNNPACK: not measured (TensorFlow not available)")
    out.append(f"Outputs identical to TFLite Micro: {sum(r.identical for r in rows)}/{len(rows)} "
               "models")
    return out


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
    except OSError:
        return "not found"
    return out.splitlines()[0].strip() if out else "unknown"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(args) -> list[str]:
    from importlib import metadata

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        f"Machine: {_cpu()}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}",
        f"Ours: generated C built with {_version([_cc(), '--version'])}: -std=c99 {args.cflags}; "
        f"latency: median per-invoke time of rounds >= 1 ms timed in C",
        f"TFLite Micro: tflite-micro {version('tflite-micro')} (Python runtime, reference "
        "kernels), median of single invoke() calls",
        f"XNNPACK: tensorflow {version('tensorflow')} tf.lite Interpreter, num_threads=1 "
        "(XNNPACK delegate), median of single invoke() calls",
        ("Instructions: callgrind (" + _version(["valgrind", "--version"]) + ") over "
         f"{TFLM_INVOKE} and model_invoke() (built with {args.count_cflags}), one invoke"
         if args.instructions else "Instructions: not counted (--no-instructions)"),
        f"Inputs: {args.samples or 3} seeded random int8 sample(s) per model (seed {args.seed}), "
        "timed on the first",
    ]


def add_arguments(parser: argparse.ArgumentParser, common: bool = True) -> None:
    """The host benchmark's options; `common=False` leaves out the ones every benchmark has
    (models, --json, --samples, --seed, --workdir: `mcu.add_common_arguments`)."""
    if common:
        from .mcu import add_common_arguments

        add_common_arguments(parser, default_models="the whole zoo", default_samples=3)
    parser.add_argument("--cflags", default=DEFAULT_CFLAGS,
                        help=f"host compiler flags of our timed build ({DEFAULT_CFLAGS})")
    parser.add_argument("--count-cflags", default=DEFAULT_COUNT_CFLAGS,
                        help=f"flags of the build callgrind counts ({DEFAULT_COUNT_CFLAGS})")
    parser.add_argument("--no-instructions", dest="instructions", action="store_false",
                        help="skip the callgrind instruction counts")
    parser.add_argument("--no-xnnpack", dest="xnnpack", action="store_false",
                        help="skip TFLite's XNNPACK interpreter")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="timing budget per runtime and model (1.0)")
    parser.add_argument("--compare-cflags", action="store_true",
                        help="time our code alone under several compiler flag sets and compare "
                        "compile_host's default with the fastest")


def run(args) -> int:
    from tqdm import tqdm

    from . import zoo
    from .mcu import format_profile
    from .zoo import load_model

    if getattr(args, "instructions", True) and not callgrind_available():
        print("valgrind not found: instruction counts skipped (apt-get install valgrind)",
              file=sys.stderr)
        args.instructions = False
        args.profile = False
    names = args.models or zoo.zoo_names()
    work = Path(args.workdir) if args.workdir else Path(
        tempfile.mkdtemp(prefix="tflm-mcunet-host-"))
    work.mkdir(parents=True, exist_ok=True)
    if getattr(args, "compare_cflags", False):
        return _run_cflags(args, names, work)
    xnnpack = XnnpackTimer() if args.xnnpack else None
    rows: list[Row] = []
    try:
        progress = tqdm(names, desc="host benchmark", unit="model", file=sys.stderr,
                        disable=len(names) < 2)
        for spec in progress:
            progress.set_postfix_str(str(spec))
            name, model = load_model(spec)
            rows.append(bench_model(name, model, workdir=work, cflags=args.cflags,
                                    count_cflags=args.count_cflags, samples=args.samples or 3,
                                    seed=args.seed, seconds=args.seconds,
                                    instructions=args.instructions, xnnpack=xnnpack,
                                    profile=getattr(args, "profile", False)))
    finally:
        if xnnpack is not None:
            xnnpack.close()
    if xnnpack is not None and xnnpack.error:
        print(f"XNNPACK column skipped: {xnnpack.error}", file=sys.stderr)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=1))
    else:
        for line in machine_info(args):
            print(line)
        print()
        print(format_table(rows))
        print()
        for line in goals(rows):
            print(line)
        for row in rows:
            if row.profile:
                print()
                print(format_profile(f"{row.model} on the host, instructions of one invoke "
                                     f"(callgrind, {args.count_cflags})", row.profile, 1))
        print(f"\nProjects and builds: {work}")
    return 0 if all(r.identical for r in rows) else 1


def _run_cflags(args, names, work: Path) -> int:
    from tqdm import tqdm

    from .zoo import load_model

    default = host_cflags()
    candidates = list(CFLAGS_CANDIDATES) + ([default] if default not in CFLAGS_CANDIDATES
                                            else [])
    rows = []
    for spec in tqdm(names, desc="flags", unit="model", file=sys.stderr, disable=len(names) < 2):
        name, model = load_model(spec)
        rows.append(compare_cflags(name, model, workdir=work, candidates=candidates,
                                   samples=args.samples or 3, seed=args.seed,
                                   seconds=args.seconds))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(machine_info(args)[0])
        print(f"Ours: generated C built with {_version([_cc(), '--version'])}: -std=c99 FLAGS; "
              "latency: median per-invoke time of rounds >= 1 ms timed in C\n")
        print("\n".join(format_cflags_table(rows, default)))
    return 0 if all(r["identical"] for r in rows) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (HostBenchError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
