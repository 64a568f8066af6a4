"""Generated projects built with AddressSanitizer + UndefinedBehaviorSanitizer and run.

The harness invokes the model once per sample, in order, so TFLite Micro's reference runs the
samples in one interpreter too (`run_tflm_sequence`): the same for a model without state, and
a streaming model carries its state from sample to sample in both.

ctypes and ASan do not mix, so the project is linked with a small harness
(tests/harness/run_model.c) into an executable that reads input samples on stdin and writes
the output bytes on stdout. Any sanitizer report makes the run fail (-fno-sanitize-recover),
and `run_sanitized` fails on a non-zero exit status or anything written to stderr.

The engine's kernel files are the same in every project: their objects are cached by content,
so a project costs only the compilation of its model.c and model_weights.c.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tflm_mcunet import convert
from tflm_mcunet.tflm import run_tflm_sequence

CC = os.environ.get("CC", "cc")
SAN_FLAGS = ["-std=c99", "-O1", "-g", "-fsanitize=address,undefined",
             "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
WARNINGS = ["-Wall", "-Wextra", "-Werror"]
HARNESS = Path(__file__).parent / "harness" / "run_model.c"
ENV = dict(os.environ,
           ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:detect_stack_use_after_return=1:"
                        "strict_string_checks=1:check_initialization_order=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")

_cache: Path | None = None


def _object_cache() -> Path:
    global _cache
    if _cache is None:
        _cache = Path(tempfile.mkdtemp(prefix="tflm-mcunet-san-"))
        atexit.register(shutil.rmtree, _cache, True)
    return _cache


def _compile(source: Path, obj: Path, include: Path, flags: list[str]) -> None:
    tmp = obj.with_name(obj.name + f".{os.getpid()}.tmp")
    result = subprocess.run([CC, *flags, *WARNINGS, "-I", str(include), "-c", str(source),
                             "-o", str(tmp)], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"compiling {source.name} failed:\n{result.stderr}")
    tmp.replace(obj)


def build_sanitized(project: Path, extra_flags: tuple[str, ...] = ()) -> Path:
    """Compile the project and the harness with the sanitizers (and `extra_flags`, e.g. -mavx2
    for the AVX2 kernels); returns the executable."""
    project = Path(project)
    cache = _object_cache()
    san = [*SAN_FLAGS, *extra_flags]
    headers = b"".join(p.name.encode() + p.read_bytes() for p in sorted(project.glob("tme_*.h")))
    flags = " ".join([CC, *san, *WARNINGS]).encode()
    objects = []
    for src in sorted(project.glob("*.c")):
        if src.name.startswith("tme_"):  # an engine kernel: the same in every project
            key = hashlib.sha256(flags + headers + src.read_bytes()).hexdigest()[:20]
            obj = cache / f"{src.stem}-{key}.o"
            if not obj.exists():
                _compile(src, obj, project, san)
        else:
            obj = project / f"{src.stem}.san.o"
            _compile(src, obj, project, san)
        objects.append(obj)
    harness = project / "run_model.san.o"
    _compile(HARNESS, harness, project, san)
    exe = project / "run_model_san"
    result = subprocess.run([CC, *san, str(harness), *map(str, objects), "-lm", "-o",
                             str(exe)], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"linking the sanitized harness failed:\n{result.stderr}")
    return exe


def run_sanitized(exe: Path, conversion, batches) -> list[list[np.ndarray]]:
    """Run every sample (a list of arrays, one per model input); the outputs of each sample.

    Fails on any sanitizer report, non-zero exit status or stderr output."""
    graph = conversion.graph
    stdin = b"".join(np.ascontiguousarray(x, dtype=t.dtype).tobytes()
                     for sample in batches for x, t in zip(sample, graph.inputs))
    result = subprocess.run([str(exe)], input=stdin, capture_output=True, env=ENV, timeout=600)
    stderr = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0 or stderr:
        raise AssertionError(f"{exe} exited with status {result.returncode}:\n{stderr[-6000:]}")
    out, pos, outputs = result.stdout, 0, []
    for _ in batches:
        sample = []
        for t in graph.outputs:
            n = t.nbytes
            sample.append(np.frombuffer(out[pos:pos + n], dtype=t.dtype).reshape(t.shape))
            pos += n
        outputs.append(sample)
    assert pos == len(out), f"{len(out)} output bytes, expected {pos}"
    return outputs


def sanitized_matches_tflm(model: bytes, out_dir, batches, *, tflm_may_fail: bool = False,
                           extra_flags: tuple[str, ...] = ()):
    """Convert, build with the sanitizers, run; the outputs must equal TFLite Micro's bytes.

    With `tflm_may_fail`, a TFLite Micro failure (it aborts on some models) only skips the
    comparison: the sanitized run must still be clean. Returns the Conversion.
    """
    from tflm_mcunet.tflm import TFLMError

    conversion = convert(model, out_dir, force=True)
    exe = build_sanitized(Path(out_dir), extra_flags)
    if callable(batches):
        batches = batches(conversion)
    ours = run_sanitized(exe, conversion, batches)
    try:
        reference = run_tflm_sequence(model, batches)  # one interpreter, as the harness
    except TFLMError:
        # TFLite Micro crashes on a depthwise convolution whose bias slot says "none" (-1);
        # the same model without the empty slot is what it means, and what we computed
        stripped = without_empty_trailing_inputs(model)
        try:
            if stripped is None:
                raise
            reference = run_tflm_sequence(stripped, batches)
        except TFLMError:
            if tflm_may_fail:
                return conversion
            raise
    for k, (a_list, b_list) in enumerate(zip(ours, reference)):
        assert len(a_list) == len(b_list)
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
            if a.tobytes() != b.tobytes():
                bad = np.flatnonzero(a != b)
                raise AssertionError(f"sample {k}, output {i}: {bad.size} of {a.size} values "
                                     f"differ from TFLite Micro; first at {bad[0]}: ours "
                                     f"{a[bad[0]]}, TFLM {b[bad[0]]}")
    return conversion


def without_empty_trailing_inputs(model: bytes) -> bytes | None:
    """The model with trailing -1 ("no tensor") operator inputs dropped; None if it has none."""
    from flatbuffer_models import pack, unpack

    m = unpack(model)
    changed = False
    for op in m.subgraphs[0].operators:
        inputs = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        while inputs and inputs[-1] == -1:
            inputs.pop()
            changed = True
        op.inputs = inputs
    return pack(m) if changed else None


def random_batches(conversion, samples: int, seed: int) -> list[list[np.ndarray]]:
    """All -128, all 127, then uniform int8 (uniform floats in [-1.5, 1.5] for float inputs)."""
    rng = np.random.default_rng(seed)
    batches = []
    for k in range(samples):
        sample = []
        for t in conversion.graph.inputs:
            if t.dtype == "float32":
                sample.append(rng.uniform(-1.5, 1.5, t.shape).astype(np.float32))
            elif k < 2:
                sample.append(np.full(t.shape, (-128, 127)[k], np.int8))
            else:
                sample.append(rng.integers(-128, 128, t.shape, dtype=np.int8))
        batches.append(sample)
    return batches
