"""kesu training: base encoder conversion, multi-task fine-tuning, ONNX export and quantization."""
