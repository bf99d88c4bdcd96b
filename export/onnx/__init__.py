"""sf-export --target onnx: vision, prefill and decode graphs (opset 21, static shapes, KV cache as
inputs/outputs) run by ONNX Runtime's CPU provider; the same graphs are what the QNN half quantizes."""
