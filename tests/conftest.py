"""Shared test helpers: the oracle comparison against TFLite Micro, and the test tiers.

Tiers (markers; CI runs them all):
- `tf`: needs TensorFlow / Keras (builds, quantizes or trains models);
- `tflm`: compares with the TFLite Micro runtime (the oracle);
- `cortex_m`: needs the Arm toolchain and QEMU (the `tools` fixture marks its tests);
- `fast`: every other test, marked here at collection: `pytest -m fast` runs in under two
  minutes. A fast test that imports TensorFlow, runs TFLite Micro or QEMU fails and says
  which marker it needs, so the tier stays honest.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tflm_mcunet import compile_host, convert
from tflm_mcunet.tflm import run_tflm_batch

_counter = itertools.count()


def random_inputs(host, samples: int, seed: int) -> list[list[np.ndarray]]:
    """Random inputs for every model input: the full int8 range, extremes included."""
    rng = np.random.default_rng(seed)
    batches = []
    for k in range(samples):
        sample = []
        for info in host.inputs:
            if info["dtype"] == np.float32:
                sample.append(rng.uniform(-1.5, 1.5, info["shape"]).astype(np.float32))
            elif k == 0:
                sample.append(np.full(info["shape"], -128, np.int8))
            elif k == 1:
                sample.append(np.full(info["shape"], 127, np.int8))
            else:
                sample.append(rng.integers(-128, 128, info["shape"], dtype=np.int8))
        batches.append(sample)
    return batches


#: the host build of the kernels written for the Arm DSP extension (SXTB16/SMLAD), with those
#: instructions emulated in C (engine_c/include/tme_dsp.h)
DSP_EMULATION_CFLAGS = "-O2 -DTME_EMULATE_DSP"
#: the host build of the kernels written with AVX2 intrinsics (TME_AVX2)
AVX2_CFLAGS = "-O2 -mavx2"


def host_has_avx2() -> bool:
    try:
        return "avx2" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


#: the kernel paths besides the portable one that this machine can run: (name, flags)
OTHER_PATHS = [("dsp", DSP_EMULATION_CFLAGS)] + ([("avx2", AVX2_CFLAGS)] if host_has_avx2() else [])


def static_data_bytes(out_dir) -> int:
    """Writable .data + .bss of every object of the generated project, as the compiler laid
    them out (.data.rel.ro holds constants with relocations: read-only, Flash on an MCU)."""
    total = 0
    for source in sorted(out_dir.glob("*.c")):
        obj = source.with_suffix(".o")
        subprocess.run(["cc", "-std=c99", "-O2", "-c", str(source), "-o", str(obj)],
                       cwd=out_dir, check=True)
        sizes = subprocess.run(["size", "-A", str(obj)], capture_output=True, text=True,
                               check=True).stdout
        for line in sizes.splitlines():
            parts = line.split()
            if parts and parts[0].startswith((".data", ".bss")) and \
                    not parts[0].startswith(".data.rel.ro"):
                total += int(parts[1])
    return total


def compare_with_tflm(model: bytes, out_dir, batches, *, all_paths: bool = False,
                      skip_paths: tuple[str, ...] = (), **options):
    """Convert, compile, run every batch here and in TFLite Micro; every output byte must agree.

    `batches` is a list of input lists, or a function of the compiled HostModel giving one.
    `all_paths`: also build the project's other kernel paths (OTHER_PATHS: the DSP kernels
    emulated on the host; the AVX2 kernels where this CPU has AVX2) and check each the same way,
    but those named in `skip_paths` (what a slow test leaves to another).
    `options` go to convert() (patch=..., stream_input=...).
    """
    conversion = convert(model, out_dir, force=True, **options)
    host = compile_host(out_dir)
    if callable(batches):
        batches = batches(host)
    reference = run_tflm_batch(model, batches)
    _compare(host, batches, reference)
    for name, cflags in OTHER_PATHS if all_paths else []:
        if name in skip_paths:
            continue
        path_dir = Path(out_dir).with_name(f"{Path(out_dir).name}-{name}")
        shutil.rmtree(path_dir, ignore_errors=True)
        shutil.copytree(out_dir, path_dir, ignore=shutil.ignore_patterns("*.o", "*.so", "*.a"))
        _compare(compile_host(path_dir, cflags=cflags), batches, reference,
                 what=f"{name.upper()} path: ")
    return conversion


def _compare(host, batches, reference, what: str = ""):
    for k, (sample, ref) in enumerate(zip(batches, reference)):
        ours = host.invoke(*sample)
        ours = ours if isinstance(ours, list) else [ours]
        assert len(ours) == len(ref)
        for i, (a, b) in enumerate(zip(ours, ref)):
            a, b = np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
            assert a.dtype == b.dtype and a.size == b.size, (a.dtype, a.size, b.dtype, b.size)
            if a.tobytes() != b.tobytes():
                bad = np.flatnonzero(a != b)
                where = f"index {bad[0]}"
                if len(sample) == len(ours):  # one input per output: name the input value
                    where += f" (input {np.asarray(sample[i]).reshape(-1)[bad[0]]})"
                pytest.fail(f"{what}sample {k}, output {i}: {bad.size} of {a.size} values "
                            f"differ; first at {where}: ours {a[bad[0]]}, TFLM {b[bad[0]]}")


def check_bit_exact(model: bytes, out_dir, samples: int = 5, seed: int = 0, all_paths: bool = False,
                    skip_paths: tuple[str, ...] = (), **options):
    """compare_with_tflm on random inputs (all -128, all 127, then uniform int8)."""
    return compare_with_tflm(model, out_dir, lambda host: random_inputs(host, samples, seed),
                             all_paths=all_paths, skip_paths=skip_paths, **options)


@pytest.fixture
def bit_exact(tmp_path):
    """check_bit_exact(model_bytes) with a fresh output folder per call."""
    def check(model: bytes, **kwargs):
        return check_bit_exact(model, tmp_path / f"c{next(_counter)}", **kwargs)
    return check


@pytest.fixture(scope="module")
def tfk():
    """(tensorflow, keras, tflm_mcunet.quantize), imported only by the tests that ask for them
    (tf tier)."""
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    from tflm_mcunet import quantize
    return tf, keras, quantize


@pytest.fixture(scope="session")
def zoo_dir(request, tmp_path_factory):
    """Built zoo models are cached across runs in the pytest cache (keyed by source hashes)."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return cache.mkdir("tflm_mcunet_zoo")
    return tmp_path_factory.mktemp("zoo")


@pytest.fixture(scope="session")
def zoo_tflite(zoo_dir):
    """zoo_tflite(name) -> the int8 .tflite bytes of a zoo model."""
    from tflm_mcunet.benchmarks import zoo

    built: dict[str, bytes] = {}

    def get(name: str) -> bytes:
        if name not in built:
            built[name] = zoo.cached_zoo_tflite(name, zoo_dir)
        return built[name]

    return get


def pytest_terminal_summary(terminalreporter):
    """How many mutated models the fuzz tests tried and how they ended (tests/test_fuzz.py),
    summed over the xdist workers; printed at the end of every run that includes them."""
    import collections

    inputs, seconds, outcomes = 0, 0.0, collections.Counter()
    ran, ran_outcomes = 0, collections.Counter()
    for status in ("passed", "failed"):
        for report in terminalreporter.stats.get(status, []):
            props = dict(getattr(report, "user_properties", []))
            inputs += props.get("fuzz_inputs", 0)
            seconds += props.get("fuzz_seconds", 0.0)
            outcomes.update(props.get("fuzz_outcomes", {}))
            ran += props.get("fuzz_run_inputs", 0)
            ran_outcomes.update(props.get("fuzz_run_outcomes", {}))
    if inputs or ran:
        terminalreporter.write_sep("-", "fuzz")
        terminalreporter.write_line(
            f"{inputs:,} mutated .tflite inputs through the converter in {seconds:.0f} s: "
            + ", ".join(f"{v:,} {k}" for k, v in sorted(outcomes.items()))
            + "; no other exception, hang or crash")
        if ran:
            terminalreporter.write_line(
                f"{ran:,} mutants built with ASan+UBSan and compared with TFLite Micro: "
                + ", ".join(f"{v:,} {k}" for k, v in sorted(ran_outcomes.items())))


@pytest.fixture(scope="session")
def tools():
    """The Arm toolchain and QEMU (tests/test_mcu.py, test_kernels.py): required in CI, where
    .ci/run installs them; elsewhere their tests are skipped when they are missing."""
    import os

    from tflm_mcunet.benchmarks import toolchain

    missing = toolchain.missing_tools()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have {', '.join(missing)} (.ci/run installs them)")
        pytest.skip(f"needs {', '.join(missing)} (apt-get install {toolchain.APT_PACKAGES})")


# --------------------------------------------------------------------------------------------
# tiers
# --------------------------------------------------------------------------------------------

TIERS = ("tf", "tflm", "cortex_m")
#: what only a test of the tier may import
_TF_MODULES = ("tensorflow", "keras", "tf_keras", "tensorflow_model_optimization", "keras_tuner")


def pytest_ignore_collect(collection_path, config):
    """`-m fast` skips the modules whose every test is in the tf tier (module `pytestmark`):
    importing them loads TensorFlow, and then the fast tier's import guard could not tell."""
    if (config.getoption("markexpr") or "").strip() != "fast" or collection_path.suffix != ".py":
        return None
    text = collection_path.read_text(encoding="utf-8")
    return True if re.search(r"^pytestmark = .*pytest\.mark\.tf\b", text, re.M) else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tools" in item.fixturenames:
            item.add_marker("cortex_m")
        if "zoo_tflite" in item.fixturenames or "bit_exact" in item.fixturenames:
            item.add_marker("tflm")
        if "zoo_tflite" in item.fixturenames:
            item.add_marker("tf")
        if not any(item.get_closest_marker(tier) for tier in TIERS):
            item.add_marker("fast")


class TierViolation(AssertionError):
    pass


class _BlockTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _TF_MODULES:
            raise TierViolation(f"this fast-tier test imports {name}: mark it "
                                "@pytest.mark.tf")
        return None


@contextlib.contextmanager
def _fast_tier_guard(monkeypatch):
    """TensorFlow's import, TFLite Micro's child process and QEMU raise TierViolation."""
    def refuse(marker, what):
        def call(*args, **kwargs):
            raise TierViolation(f"this fast-tier test {what}: mark it @pytest.mark.{marker}")
        return call

    from tflm_mcunet import tflm
    from tflm_mcunet.benchmarks import toolchain

    monkeypatch.setattr(tflm, "_spawn", refuse("tflm", "runs TFLite Micro"))
    monkeypatch.setattr(toolchain, "run_qemu", refuse("cortex_m", "runs QEMU"))
    blocker = _BlockTensorFlow()
    loaded = any(name in sys.modules for name in _TF_MODULES)
    if not loaded:  # once another tier imported TensorFlow, imports cannot be told apart
        sys.meta_path.insert(0, blocker)
    try:
        yield
    finally:
        if blocker in sys.meta_path:
            sys.meta_path.remove(blocker)


@pytest.fixture(autouse=True)
def _tier_guard(request, monkeypatch):
    if request.node.get_closest_marker("fast") is None:
        yield
        return
    with _fast_tier_guard(monkeypatch):
        yield
