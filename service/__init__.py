"""kesu inference service: five-head Chinese complaint classification over ONNX Runtime."""

__version__ = "0.1.0"
