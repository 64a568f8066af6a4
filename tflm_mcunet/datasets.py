"""Data sets for the examples, the tests and the benchmarks, read from files on this machine.

    >>> from tflm_mcunet import datasets
    >>> (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist()   # doctest: +SKIP
    >>> x_train.shape, x_train.dtype, y_train[:3]                          # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'), array([9, 0, 0], dtype=uint8))

`fashion_mnist()` returns what `keras.datasets.fashion_mnist.load_data()` returns, looking in
this order: Keras' cache (`~/.keras/datasets/fashion-mnist/`, or `$KERAS_HOME`), the Debian
package `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist/`), then Keras' own download
(needs the internet). TensorFlow is imported only for that last step.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

__all__ = ["fashion_mnist", "read_idx", "FASHION_MNIST_DIRS", "FASHION_MNIST_CLASSES"]

FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")


def _keras_cache() -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


#: where `fashion_mnist()` looks for the IDX files, in order (Keras' cache, Debian's package)
FASHION_MNIST_DIRS = (_keras_cache(), Path("/usr/share/datasets/fashion-mnist"))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file (MNIST's format: big-endian header, then the array), gzipped or not."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(rank))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: truncated ({body.size} values, the header says {shape})")
    return body.reshape(shape)


def fashion_mnist(dirs=None, *, download: bool = True):
    """Fashion-MNIST as ((x_train, y_train), (x_test, y_test)): 60,000 and 10,000 grey 28 x 28
    uint8 images and their uint8 labels (`FASHION_MNIST_CLASSES`). `dirs`: folders to look in
    (default `FASHION_MNIST_DIRS`); `download`: let Keras fetch it when no folder has it."""
    folders = [Path(d) for d in (dirs if dirs is not None else FASHION_MNIST_DIRS)]
    for folder in folders:
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES):
            x_train, y_train, x_test, y_test = (read_idx(folder / name)
                                                for name in FASHION_MNIST_FILES)
            return (x_train, y_train), (x_test, y_test)
    tried = ", ".join(str(f) for f in folders)
    if download:
        try:
            from .quiet_tf import import_tf

            import_tf()
            import keras

            return keras.datasets.fashion_mnist.load_data()
        except Exception as e:  # no network, no TensorFlow: say what would work
            reason = f"; Keras' download failed too ({type(e).__name__}: {e})"
    else:
        reason = ""
    raise FileNotFoundError(
        f"Fashion-MNIST not found (looked in {tried}){reason}. Install the Debian package "
        "(`apt-get install dataset-fashion-mnist`) or put the four IDX files "
        f"({', '.join(FASHION_MNIST_FILES)}) in one of those folders.")
