"""The converter: int8 .tflite -> Graph IR -> passes -> memory plan -> C project.

It imports neither TensorFlow nor Keras, so `tflm-mcunet convert` starts fast.
"""
from .errors import ConversionError
from .pipeline import Conversion, convert, load_graph
from .reader import read_tflite

__all__ = ["ConversionError", "Conversion", "convert", "load_graph", "read_tflite"]
