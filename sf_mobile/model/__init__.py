"""The PyTorch reference: vision tower, projector, SlowFast pooling and the LLM.

Never imports an exporter, a runtime, coremltools, executorch or onnxruntime.
"""

from sf_mobile.model.slowfast_llava import SlowFastLlava, build_model

__all__ = ["SlowFastLlava", "build_model"]
