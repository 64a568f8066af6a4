"""TinyNAS stage 2: the weight-sharing supernet (Keras 3, TensorFlow backend).

    >>> from tflm_mcunet.search.supernet import Supernet, train_supernet   # doctest: +SKIP
"""
from .layers import graph_options
from .model import Supernet
from .train import train_supernet

__all__ = ["Supernet", "graph_options", "train_supernet"]
