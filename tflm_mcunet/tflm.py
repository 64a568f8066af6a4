"""TensorFlow Lite Micro reference runtime: the test oracle and the benchmark baseline.

Every call runs ``tflite_micro.runtime.Interpreter`` in a fresh child process
(``sys.executable`` running this very file), because TFLM aborts or crashes the whole process
on some inputs: SIGABRT on extreme quantization scales (e.g. a softmax after an untrained net),
SIGSEGV when the arena is too small to hold even the allocator. A crash in the child becomes a
:class:`TFLMError` naming the signal or exit code, with the child's last stderr lines.

The child imports only numpy and ``tflite_micro`` (no TensorFlow), so start-up is ~0.3 s;
:func:`run_tflm_batch` runs many invokes in one child.

Parent and child talk over pipes: the request is one pickle on the child's stdin; the child
answers with a stream of pickled messages on its original stdout (its fd 1 is pointed at
stderr so that stray prints cannot corrupt the stream).
"""
from __future__ import annotations

import io
import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np

__all__ = [
    "TFLMError",
    "run_tflm",
    "run_tflm_batch",
    "run_tflm_sequence",
    "tflm_arena_report",
    "default_arena_size",
    "model_op_names",
    "MAX_ARENA_SIZE",
]

ModelLike = Union[bytes, bytearray, memoryview, str, os.PathLike]

#: The largest arena the automatic sizing tries (64 MiB).
MAX_ARENA_SIZE = 64 << 20
_ALIGN = 16


class TFLMError(RuntimeError):
    """TFLite Micro failed: the child process crashed, or allocation/invoke returned an error."""


# --------------------------------------------------------------------------------------------
# flatbuffer helpers (no TensorFlow needed)
# --------------------------------------------------------------------------------------------

# bytes per element of the TFLite tensor types (schema TensorType enum values)
_TYPE_BYTES = {
    0: 4,  # FLOAT32
    1: 2,  # FLOAT16
    2: 4,  # INT32
    3: 1,  # UINT8
    4: 8,  # INT64
    6: 1,  # BOOL
    7: 2,  # INT16
    8: 8,  # COMPLEX64
    9: 1,  # INT8
    10: 8,  # FLOAT64
    12: 8,  # UINT64
    15: 4,  # UINT32
    16: 2,  # UINT16
    17: 1,  # INT4
}


def _model_bytes(model: ModelLike) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"no such .tflite file: {path}")
        return path.read_bytes()
    raise TypeError(f"model must be bytes or a path, not {type(model).__name__}")


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _parse(data: bytes):
    """The flatbuffer as the schema's object API (``ModelT``); raises TFLMError if malformed."""
    schema = _schema()
    try:
        if len(data) < 8 or not schema.Model.ModelBufferHasIdentifier(data, 0):
            raise ValueError("missing the 'TFL3' file identifier")
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    except Exception as exc:  # noqa: BLE001 - any parse failure means a malformed file
        raise TFLMError(f"not a valid .tflite flatbuffer: {exc}") from exc


def model_op_names(model: ModelLike) -> list[str]:
    """Builtin operator names of every op of every subgraph, in execution order."""
    m = _parse(_model_bytes(model))
    schema = _schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    result = []
    for sg in m.subgraphs or []:
        for op in sg.operators or []:
            code = m.operatorCodes[op.opcodeIndex]
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            if builtin == schema.BuiltinOperator.CUSTOM:
                custom = code.customCode.decode() if code.customCode else "?"
                result.append(f"CUSTOM:{custom}")
            else:
                result.append(names.get(builtin, f"BUILTIN_{builtin}"))
    return result


def default_arena_size(model: ModelLike) -> int:
    """A generous arena for ``model``: 2x the sum of its non-constant tensors + 64 KiB + 1 KiB
    per operator (persistent per-op data such as per-channel multipliers), 16-byte aligned."""
    m = _parse(_model_bytes(model))
    total = 0
    n_ops = 0
    for sg in m.subgraphs or []:
        n_ops += len(sg.operators or [])
        for t in sg.tensors or []:
            buf = m.buffers[t.buffer] if m.buffers is not None and t.buffer < len(m.buffers) else None
            constant = buf is not None and (
                (buf.data is not None and len(buf.data) > 0) or (buf.offset or 0) > 1
            )
            if constant:
                continue
            shape = [int(d) for d in (t.shape if t.shape is not None else [])]
            count = int(np.prod([max(d, 1) for d in shape])) if shape else 1
            total += count * _TYPE_BYTES.get(t.type, 8)
    size = 2 * total + (64 << 10) + (n_ops << 10)
    return min(_round_up(size), MAX_ARENA_SIZE)


def _round_up(n: int) -> int:
    return (int(n) + _ALIGN - 1) // _ALIGN * _ALIGN


# --------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------

_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


def _stderr_tail(stderr: bytes, lines: int = 15) -> str:
    text = stderr.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    return "\n--- TFLM stderr (last lines) ---\n" + "\n".join(text.splitlines()[-lines:])


def _spawn(request: dict) -> tuple[list[tuple], int, bytes]:
    """Run one child on ``request``; returns (messages, returncode, stderr)."""
    payload = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    proc = subprocess.run(
        [sys.executable, "-c", _BOOT, str(Path(__file__).resolve())],
        input=payload,
        capture_output=True,
    )
    messages = []
    stream = io.BytesIO(proc.stdout)
    while stream.tell() < len(proc.stdout):
        try:
            messages.append(pickle.load(stream))
        except Exception:  # noqa: BLE001 - a message cut short by a crash
            break
    return messages, proc.returncode, proc.stderr


def _raise_child_error(msg: tuple, stderr: bytes) -> None:
    _, kind, text = msg[:3]
    if kind == "ValueError":
        raise ValueError(text)
    if kind != "TFLMError":
        text = f"{kind} in the TFLite Micro child process: {text}"
    raise TFLMError(f"{text}{_stderr_tail(stderr)}")


def _call(request: dict) -> Any:
    messages, code, stderr = _spawn(request)
    for msg in messages:
        if msg[0] == "error":
            _raise_child_error(msg, stderr)
        if msg[0] == "done":
            return msg[1]
    raise TFLMError(
        f"TFLite Micro child process {_describe_exit(code)} during {request['op']!r} "
        f"before answering{_stderr_tail(stderr)}"
    )


def _as_input_list(inputs: Any) -> list[np.ndarray]:
    if isinstance(inputs, np.ndarray):
        return [inputs]
    if isinstance(inputs, (list, tuple)):
        return [np.asarray(a) for a in inputs]
    return [np.asarray(inputs)]


def run_tflm(
    model: ModelLike,
    inputs: np.ndarray | Sequence[np.ndarray],
    arena_size: int | None = None,
) -> list[np.ndarray]:
    """Run one TFLM invoke and return every output (copies, in model output order).

    ``inputs`` is one array (single-input model) or a list with one array per model input;
    each must have the input tensor's dtype (int8 for an int8 model; other integer arrays are
    accepted when their values fit) and its number of elements (the shape is taken from the
    model). ``arena_size=None`` starts at :func:`default_arena_size` and doubles on allocation
    failure up to 64 MiB; an explicit size is used as is (failure raises :class:`TFLMError`).
    """
    return run_tflm_batch(model, [inputs], arena_size=arena_size)[0]


def run_tflm_batch(
    model: ModelLike,
    list_of_inputs: Sequence[np.ndarray | Sequence[np.ndarray]],
    arena_size: int | None = None,
) -> list[list[np.ndarray]]:
    """Run one invoke per element of ``list_of_inputs`` in a single child process.

    The interpreter is created once and reset before every invoke after the first, so each
    result equals a separate :func:`run_tflm` call. Returns one list of outputs per input set.
    """
    return _run_invokes(model, list_of_inputs, arena_size)


def run_tflm_sequence(
    model: ModelLike,
    list_of_inputs: Sequence[np.ndarray | Sequence[np.ndarray]],
    reset_before: Sequence[int] = (),
    arena_size: int | None = None,
) -> list[list[np.ndarray]]:
    """Run one invoke per element of ``list_of_inputs`` in one interpreter, keeping its state
    between invokes (a streaming model's resource variables), as a device runs it.

    The interpreter's ``reset()`` is called before the invokes whose positions are in
    ``reset_before``. TFLite Micro's reset fills every resource variable with its zero point
    and does not run the CALL_ONCE initialisation again. Returns one list of outputs per
    invoke, like :func:`run_tflm_batch`.
    """
    return _run_invokes(model, list_of_inputs, arena_size, keep_state=True,
                        reset_before=sorted(int(k) for k in reset_before))


def _run_invokes(model: ModelLike, list_of_inputs, arena_size: int | None,
                 **options) -> list[list[np.ndarray]]:
    """One child run of an invoke per input set; `options` go to the child's request."""
    data = _model_bytes(model)
    _parse(data)  # a malformed file is reported here, not as a crash
    batches = [_as_input_list(x) for x in list_of_inputs]
    if not batches:
        return []
    if arena_size is not None and int(arena_size) <= 0:
        raise ValueError(f"arena_size must be positive, got {arena_size}")
    request = {
        "op": "run",
        "model": data,
        "batches": batches,
        "arena_size": None if arena_size is None else int(arena_size),
        "default_arena": default_arena_size(data),
        **options,
    }
    return _call(request)


def _parse_allocations(text: str) -> dict:
    report: dict[str, Any] = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", text)
        if m:
            report[f"arena_{key}_bytes"] = int(m.group(1))
    details = {}
    for m in re.finditer(r"'([^']+)' used (\d+) bytes", text):
        details[m.group(1)] = int(m.group(2))
    report["allocations"] = details
    return report


def tflm_arena_report(model: ModelLike) -> dict:
    """TFLM's own arena accounting and the smallest arena that really works.

    Returns a dict with

    - ``arena_head_bytes``: "Arena allocation head" from ``print_allocations()`` after one
      invoke: the non-persistent section planned by TFLM's memory planner (activations and
      scratch buffers).
    - ``arena_tail_bytes``: the persistent section (tensor structs, quantization data, node
      structs, per-op data).
    - ``arena_total_bytes``: the printed total, head + tail: TFLM's own figure for the arena.
    - ``min_working_arena_bytes``: the smallest ``arena_size`` (16-byte granularity) for which
      interpreter creation (allocation) and one invoke succeed, found by bisection. It can be
      above the printed total (alignment, planner slack). It is measured with the Python
      runtime's recording allocator, whose bookkeeping lives in the tail.
    - ``allocations``: the per-kind tail breakdown printed by TFLM (bytes).
    - ``report_arena_size``: the arena used for the ``print_allocations()`` run.
    - ``printed``: TFLM's raw ``print_allocations()`` text.

    The input and output tensors live in the head, so they are counted in every figure.
    """
    data = _model_bytes(model)
    _parse(data)
    state: dict[str, Any] = {
        "report": None,
        "lo": None,  # largest size known (or assumed) to fail
        "hi": None,  # smallest size known to work
        "phase": "alloc",  # 'alloc': creation only; 'invoke': creation + invoke
    }
    for _ in range(64):
        request = {
            "op": "report",
            "model": data,
            "state": dict(state),
            "default_arena": default_arena_size(data),
        }
        messages, code, stderr = _spawn(request)
        pending = None
        for msg in messages:
            kind = msg[0]
            if kind == "error":
                _raise_child_error(msg, stderr)
            elif kind == "state":
                state = msg[1]
                pending = None
            elif kind == "trial":
                pending = msg[1]
            elif kind == "done":
                return msg[1]
        if pending is None:
            raise TFLMError(
                f"TFLite Micro child process {_describe_exit(code)} while measuring the arena"
                f"{_stderr_tail(stderr)}"
            )
        # The child crashed on an arena of `pending` bytes: that size does not work.
        if state["hi"] is not None and pending >= state["hi"]:
            # It crashed while invoking at the smallest size that allocates: search again,
            # with invokes, between there and the size of the report run (known to work).
            state["phase"] = "invoke"
            state["hi"] = _round_up(state["report"]["report_arena_size"])
        state["lo"] = pending if state["lo"] is None else max(state["lo"], pending)
    raise TFLMError("arena bisection did not converge (too many crashed trials)")


# --------------------------------------------------------------------------------------------
# child side (this file run as a script by _spawn)
# --------------------------------------------------------------------------------------------


class _Channel:
    def __init__(self, stream):
        self._stream = stream

    def send(self, *msg) -> None:
        pickle.dump(tuple(msg), self._stream, protocol=pickle.HIGHEST_PROTOCOL)
        self._stream.flush()


def _runtime():
    from tflite_micro.python.tflite_micro import runtime

    return runtime


def _new_interpreter(data: bytes, arena: int):
    return _runtime().Interpreter.from_bytes(data, arena_size=int(arena))


def _alloc_failure(exc: Exception) -> bool:
    return isinstance(exc, RuntimeError) and "allocate" in str(exc).lower()


def _interpreter_auto(data: bytes, arena: int | None, default: int):
    """(interpreter, arena): an explicit arena is used once; None doubles from the default."""
    if arena is not None:
        try:
            return _new_interpreter(data, arena), arena
        except RuntimeError as exc:
            raise TFLMError(f"TFLite Micro could not allocate the model in an arena of "
                            f"{arena} bytes: {exc}") from None
    size = default
    while True:
        try:
            return _new_interpreter(data, size), size
        except RuntimeError as exc:
            if not _alloc_failure(exc) or size >= MAX_ARENA_SIZE:
                raise TFLMError(f"TFLite Micro could not allocate the model (arena up to "
                                f"{size} bytes): {exc}") from None
            size = min(size * 2, MAX_ARENA_SIZE)


def _io_counts(data: bytes) -> tuple[int, int]:
    sg = _parse(data).subgraphs[0]
    return len(sg.inputs if sg.inputs is not None else []), len(
        sg.outputs if sg.outputs is not None else []
    )


def _set_inputs(interp, arrays: list[np.ndarray], n_inputs: int) -> None:
    if len(arrays) != n_inputs:
        raise ValueError(f"the model has {n_inputs} input(s) but {len(arrays)} array(s) were given")
    for i, arr in enumerate(arrays):
        details = interp.get_input_details(i)
        dtype = np.dtype(details["dtype"])
        shape = tuple(int(d) for d in details["shape"])
        arr = np.asarray(arr)
        if arr.size != int(np.prod(shape)):
            raise ValueError(
                f"input {i}: {arr.size} elements of shape {arr.shape} given, the model expects "
                f"shape {shape}"
            )
        if arr.dtype != dtype:
            cast = arr.astype(dtype)
            ok = (
                np.issubdtype(arr.dtype, np.integer)
                and np.issubdtype(dtype, np.integer)
                and np.array_equal(cast.astype(arr.dtype), arr)
            ) or (np.issubdtype(arr.dtype, np.floating) and np.issubdtype(dtype, np.floating))
            if not ok:
                raise ValueError(
                    f"input {i}: dtype {arr.dtype} given, the model expects {dtype} "
                    "(quantize float data first)"
                )
            arr = cast
        interp.set_input(np.ascontiguousarray(arr.reshape(shape)), i)


def _child_run(req: dict, chan: _Channel) -> None:
    data = req["model"]
    n_in, n_out = _io_counts(data)
    interp, _ = _interpreter_auto(data, req["arena_size"], req["default_arena"])
    results = []
    keep_state, resets = req.get("keep_state", False), set(req.get("reset_before", ()))
    for k, arrays in enumerate(req["batches"]):
        if (k and not keep_state) or k in resets:
            interp.reset()
        _set_inputs(interp, arrays, n_in)
        try:
            interp.invoke()
        except RuntimeError as exc:
            raise TFLMError(f"TFLite Micro invoke failed: {exc}") from None
        results.append([np.array(interp.get_output(j), copy=True) for j in range(n_out)])
    chan.send("done", results)


def _zero_inputs(interp, n_inputs: int) -> list[np.ndarray]:
    out = []
    for i in range(n_inputs):
        d = interp.get_input_details(i)
        out.append(np.zeros(tuple(int(x) for x in d["shape"]), dtype=np.dtype(d["dtype"])))
    return out


def _captured_fd2(fn) -> str:
    """Run ``fn()`` with the C-level stderr sent to a temporary file; return the text."""
    import ctypes
    import tempfile

    libc = ctypes.CDLL(None)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            fn()
            libc.fflush(None)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        return sink.read().decode("utf-8", errors="replace")


def _trial(data: bytes, arena: int, inputs: list[np.ndarray] | None, n_in: int) -> bool:
    """Does an arena of ``arena`` bytes work (creation, and an invoke when inputs is given)?"""
    try:
        interp = _new_interpreter(data, arena)
    except RuntimeError:
        return False
    try:
        if inputs is not None:
            _set_inputs(interp, inputs, n_in)
            interp.invoke()
        return True
    except RuntimeError:
        return False
    finally:
        del interp


def _child_report(req: dict, chan: _Channel) -> None:
    data = req["model"]
    state = dict(req["state"])
    n_in, _ = _io_counts(data)

    if state["report"] is None:
        interp, arena = _interpreter_auto(data, None, req["default_arena"])
        inputs = _zero_inputs(interp, n_in)
        _set_inputs(interp, inputs, n_in)
        interp.invoke()
        text = _captured_fd2(interp.print_allocations)
        report = _parse_allocations(text)
        if "arena_total_bytes" not in report:
            raise TFLMError(f"could not parse TFLM's print_allocations() output:\n{text}")
        report["report_arena_size"] = arena
        report["printed"] = text.strip()
        del interp
        state["report"] = report
        state["hi"] = _round_up(arena)
        chan.send("state", dict(state))
    report = state["report"]

    # Stderr noise of the failing trials ("Failed to allocate ...") is expected; drop it.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)

    probe_inputs = None

    def trial(size: int) -> bool:
        chan.send("trial", size)
        ok = _trial(data, size, probe_inputs if state["phase"] == "invoke" else None, n_in)
        if ok:
            state["hi"] = size if state["hi"] is None else min(state["hi"], size)
        else:
            state["lo"] = size if state["lo"] is None else max(state["lo"], size)
        chan.send("state", dict(state))
        return ok

    if state["lo"] is None:
        # Good first guesses: TFLM's printed total, then its persistent tail alone.
        guess = _round_up(report["arena_total_bytes"])
        if guess < state["hi"]:
            trial(guess)
        if state["lo"] is None:
            tail = report.get("arena_tail_bytes", 0) // _ALIGN * _ALIGN
            if 0 < tail < state["hi"]:
                trial(tail)
        if state["lo"] is None:
            state["lo"] = 0  # assumed to fail; never tried

    while True:
        if state["phase"] == "invoke" and probe_inputs is None:
            probe = _new_interpreter(data, report["report_arena_size"])
            probe_inputs = _zero_inputs(probe, n_in)
            del probe
        while state["hi"] - state["lo"] > _ALIGN:
            mid = state["lo"] + (state["hi"] - state["lo"]) // (2 * _ALIGN) * _ALIGN
            trial(mid)
        if state["phase"] == "invoke":
            break
        # Creation alone succeeded at hi: check that an invoke works there too.
        if probe_inputs is None:
            probe = _new_interpreter(data, report["report_arena_size"])
            probe_inputs = _zero_inputs(probe, n_in)
            del probe
        chan.send("trial", state["hi"])
        if _trial(data, state["hi"], probe_inputs, n_in):
            break
        # Allocation passes but the invoke fails: bisect again with invokes above hi.
        state["lo"], state["hi"] = state["hi"], _round_up(report["report_arena_size"])
        state["phase"] = "invoke"
        chan.send("state", dict(state))

    result = {
        "arena_head_bytes": report.get("arena_head_bytes"),
        "arena_tail_bytes": report.get("arena_tail_bytes"),
        "arena_total_bytes": report["arena_total_bytes"],
        "min_working_arena_bytes": state["hi"],
        "allocations": report["allocations"],
        "report_arena_size": report["report_arena_size"],
        "printed": report["printed"],
    }
    chan.send("done", result)


def _child_main() -> None:
    if sys.stdin.isatty():
        print("tflm.py is run by tflm_mcunet.tflm as a child process; import it instead.")
        sys.exit(2)
    chan = _Channel(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)  # stray C or Python prints go to stderr, not into the message stream
    sys.stdout = sys.stderr
    try:
        req = pickle.load(sys.stdin.buffer)
        {"run": _child_run, "report": _child_report}[req["op"]](req, chan)
    except Exception as exc:  # noqa: BLE001 - everything goes back to the parent
        chan.send("error", type(exc).__name__, str(exc))
    sys.stderr.flush()


if __name__ == "__main__":
    _child_main()
