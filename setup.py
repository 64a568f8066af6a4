"""tflm-mcunet: MCUNet (TinyNAS + TinyEngine) for the TensorFlow ecosystem.

The top-level folders map into the ``tflm_mcunet`` namespace, so that no generic module name
(``converter``, ``search``) lands in site-packages.
"""
from setuptools import setup

PACKAGES = {
    "tflm_mcunet": "tflm_mcunet",
    "tflm_mcunet.converter": "converter",
    "tflm_mcunet.converter.ops": "converter/ops",
    "tflm_mcunet.converter.passes": "converter/passes",
    "tflm_mcunet.converter.passes.patch": "converter/passes/patch",
    "tflm_mcunet.engine_c": "engine_c",
    "tflm_mcunet.benchmarks": "benchmarks",
    "tflm_mcunet.search": "search",
    "tflm_mcunet.search.supernet": "search/supernet",
}

CORE = [
    "numpy>=1.26,<3",
    "flatbuffers>=24.3,<26",
    "jinja2>=3.1,<4",
    "tflite-micro>=0.dev20250101",
    "tqdm>=4.66,<5",
]
TF = ["tensorflow>=2.18,<2.22"]
SEARCH = [
    "keras>=3.6,<4",
    "keras-tuner>=1.4.7,<1.5",
    "tensorboard>=2.18,<2.22",
    "tf-keras>=2.18,<2.22",
    "tensorflow-model-optimization>=0.8,<0.9",
]
PLOT = ["matplotlib>=3.8,<4"]
BOARD = ["pyocd>=0.36,<1", "pyserial>=3.5,<4"]  # flash and read the STM32F746G-DISCO
DEV = TF + SEARCH + PLOT + ["pytest>=8,<10", "pytest-xdist>=3.5,<4", "hypothesis>=6.100,<7"]

setup(
    name="tflm-mcunet",
    version="0.1.0",
    description="MCUNet for TensorFlow: TinyNAS search and TinyEngine-style C code generation "
    "from int8 .tflite models, bit-exact with TensorFlow Lite Micro",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={
        "tflm_mcunet": ["data/*.tflite"],
        "tflm_mcunet.converter": ["templates/*.j2", "*.c"],
        "tflm_mcunet.engine_c": ["include/*.h", "src/*.c", "targets/*.h", "targets/*.c",
                                  "targets/*.cc"],
        "tflm_mcunet.benchmarks": ["archs/*.json", "qemu_plugin/*.c"],
    },
    install_requires=CORE,
    extras_require={"tf": TF, "search": SEARCH, "plot": PLOT, "board": BOARD, "dev": DEV},
    entry_points={"console_scripts": ["tflm-mcunet = tflm_mcunet.cli:main"]},
)
