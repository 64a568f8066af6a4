"""tflm-mcunet: MCUNet for the TensorFlow ecosystem.

- `convert(model.tflite, out_dir)`: int8 .tflite -> standalone C, bit-exact with TFLite Micro.
- `compile_host(out_dir)`: build that C for this machine and run it from Python.
"""
from .converter import Conversion, ConversionError, convert
from .host import HostModel, compile_host

__version__ = "0.1.0"
__all__ = ["Conversion", "ConversionError", "HostModel", "compile_host", "convert"]
