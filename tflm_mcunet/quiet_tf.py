"""TensorFlow without its noise: its start-up messages, Python warnings, logger and the C++
converter's output, which it prints straight to the file descriptors.

`import_tf()` is how every module of the package imports TensorFlow; `quiet_tf()` silences a
block and hands its output over, so that a converter failure can carry its log.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from typing import Iterator

__all__ = ["import_tf", "quiet_tf", "captured_output"]


@contextlib.contextmanager
def captured_output() -> Iterator[list[str]]:
    """Send the C-level stdout/stderr (fd 1 and 2) to a temporary file for the duration.

    TensorFlow's C++ converter and absl print straight to the file descriptors, so redirecting
    ``sys.stdout`` is not enough. The captured text is appended to the yielded list on exit,
    so that callers can attach it to an error.
    """
    log: list[str] = []
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pragma: no cover - exotic streams
            pass
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # pragma: no cover - no usable file descriptors (embedded interpreters)
        yield log
        return
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield log
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # pragma: no cover
                    pass
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            log.append(sink.read().decode("utf-8", errors="replace"))


@contextlib.contextmanager
def quiet_tf() -> Iterator[list[str]]:
    """Silence TensorFlow's Python warnings, its logger and its C++ output."""
    with warnings.catch_warnings(), captured_output() as log:
        warnings.simplefilter("ignore")
        yield log


def import_tf():
    """Import TensorFlow (and Keras) with their start-up noise silenced."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with quiet_tf():
            import tensorflow  # noqa: F401  (the first import prints the noise)
    import tensorflow as tf

    try:
        tf.get_logger().setLevel("ERROR")
    except Exception:  # pragma: no cover
        pass
    try:  # absl warnings such as "Found untraced functions"
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except Exception:  # pragma: no cover
        pass
    return tf
