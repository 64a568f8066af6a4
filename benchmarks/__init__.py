"""Benchmarks: the model zoo and the TFLM-vs-generated-C runners."""
