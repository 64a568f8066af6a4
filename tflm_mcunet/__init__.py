"""tflm-mcunet: MCUNet for the TensorFlow ecosystem.

- `convert(model.tflite, out_dir)`: int8 .tflite -> standalone C, bit-exact with TFLite Micro.
- `compile_host(out_dir)`: build that C for this machine and run it from Python.
- `get_device(name)`: the device catalogue (`convert(..., device=...)` adds Cortex-M firmware).
"""
from .converter import Conversion, ConversionError, convert
from .devices import Device, get_device
from .host import HostModel, compile_host

__version__ = "0.1.0"
__all__ = ["Conversion", "ConversionError", "Device", "HostModel", "compile_host", "convert",
           "get_device"]
