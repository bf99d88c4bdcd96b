"""ExecuTorch target: one multimodal `.pte` (vision_encoder, token_embedding, text_decoder) for the
stock ExecuTorch multimodal runner, XNNPACK-delegated, optionally 8da4w-quantized."""
