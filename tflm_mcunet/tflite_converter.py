"""TensorFlow's TFLite converter in a child process, so that its crashes stay there.

The converter is C++ (MLIR) and some models kill the process that runs it: Keras' `LSTM`
layer, for one, ends in a segmentation fault inside `TFLiteConverter.convert()` (TF 2.21). A
user's training script must not die without a word, so `quantize.py` hands every SavedModel to
one long-lived child (TensorFlow is imported once per parent process, not per conversion) and
turns a dead child into a `QuantizationError`; the next conversion starts a new child.

`convert_saved_model(...)` is the parent's side; `python -m tflm_mcunet.tflite_converter` is the
child: it reads requests (pickled dicts) on stdin and answers on its original stdout, while its
file descriptors 1 and 2 go to each request's log file (what TensorFlow prints is kept even when
the child dies).
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

__all__ = ["convert_saved_model", "ConverterCrashed"]


class ConverterCrashed(RuntimeError):
    """The child died while converting (`signal`: what killed it, or None); `log` holds what
    it printed."""

    def __init__(self, message: str, log: str, signal_name: str | None):
        super().__init__(message)
        self.log, self.signal_name = log, signal_name


class _Child:
    """The converter process of this parent (started on first use, again after a crash)."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def request(self, job: dict) -> tuple[str, object]:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
                self.proc = subprocess.Popen([sys.executable, "-m", __name__],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, env=env)
            try:
                pickle.dump(job, self.proc.stdin)
                self.proc.stdin.flush()
                return pickle.load(self.proc.stdout)
            except (OSError, EOFError, pickle.UnpicklingError):
                code = self.proc.wait()
                self.proc = None
                log = Path(job["log"]).read_text(errors="replace") \
                    if Path(job["log"]).is_file() else ""
                name = signal.Signals(-code).name if code < 0 else None
                raise ConverterCrashed(f"the converter process died ({name or f'exit {code}'})",
                                       log, name) from None


_CHILD = _Child()


def convert_saved_model(saved_model: Path, samples: list[list[np.ndarray]], names: list[str],
                        float_io: bool, workdir: Path) -> tuple[bytes | None, str, str | None]:
    """int8 TFLite conversion of the SavedModel's "serve" signature in the child process,
    calibrated on `samples` (one list of arrays per sample, in the order of `names`).
    Returns (flatbuffer, log, None), or (None, log, error) when the converter raised; raises
    ConverterCrashed when it killed the child."""
    workdir = Path(workdir)
    np.savez(workdir / "samples.npz", *[np.stack([s[k] for s in samples])
                                        for k in range(len(names))])
    job = dict(saved_model=str(saved_model), samples=str(workdir / "samples.npz"), names=names,
               float_io=float_io, out=str(workdir / "model.tflite"),
               log=str(workdir / "converter.log"))
    kind, value = _CHILD.request(job)
    log = Path(job["log"]).read_text(errors="replace")
    if kind == "ok":
        return Path(job["out"]).read_bytes(), log, None
    return None, log, value


# --------------------------------------------------------------------------------------------
# the child
# --------------------------------------------------------------------------------------------

def _convert(job: dict) -> None:
    import tensorflow as tf

    arrays = np.load(job["samples"])
    columns = [arrays[f"arr_{k}"] for k in range(len(job["names"]))]

    def representative_dataset():
        for i in range(len(columns[0])):
            yield {name: column[i] for name, column in zip(job["names"], columns)}

    converter = tf.lite.TFLiteConverter.from_saved_model(job["saved_model"],
                                                         signature_keys=["serve"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not job["float_io"]:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    Path(job["out"]).write_bytes(converter.convert())


def _serve() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    replies = os.fdopen(os.dup(1), "wb")  # fd 1 and 2 go to each request's log from here on
    while True:
        try:
            job = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        with open(job["log"], "wb") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                _convert(job)
                reply = ("ok", None)
            except Exception as exc:  # noqa: BLE001 - the parent raises it with the log
                reply = ("error", f"{type(exc).__name__}: {exc}")
            sys.stdout.flush()
            sys.stderr.flush()
        pickle.dump(reply, replies)
        replies.flush()


if __name__ == "__main__":
    _serve()
