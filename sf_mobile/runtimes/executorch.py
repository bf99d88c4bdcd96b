"""ExecuTorch on the host: a `.pte` loaded with ExecuTorch's Python runtime, as a GraphBackend.

Loads artifacts, never builds them. The `.pte` calls ExecuTorch's LLM custom ops (KV cache,
SDPA) and, with quantized embeddings, its quantized kernels: both libraries are registered
here before the program is loaded, or the methods fail with `Missing operator`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sf_mobile.errors import MissingDependencyError, SfError

METHODS = ("vision_encoder", "token_embedding", "text_decoder")


def register_kernels() -> None:
    try:
        import executorch.extension.llm.custom_ops.custom_ops  # noqa: F401  llama::update_cache / custom_sdpa
        import executorch.kernels.quantized  # noqa: F401  quantized_decomposed::embedding_byte / _4bit
    except ImportError:
        raise MissingDependencyError("executorch", "executorch") from None


class ExecuTorchBackend:
    """The three methods of one `.pte`, run by ExecuTorch's portable + XNNPACK kernels."""

    name = "executorch-host"

    def __init__(self, pte: Path):
        register_kernels()
        from executorch.runtime import Runtime, Verification

        pte = Path(pte)
        if not pte.is_file():
            raise SfError(f"no ExecuTorch program at {pte}", "export one with sf-export --target executorch")
        try:
            self.program = Runtime.get().load_program(pte, verification=Verification.Minimal)
        except RuntimeError as err:
            raise SfError(f"{pte} is not a loadable ExecuTorch program ({err})", "re-export it") from None
        missing = [m for m in METHODS if m not in self.program.method_names]
        if missing:
            raise SfError(f"{pte} lacks the method(s) {missing}", "re-export it with sf-export --target executorch")
        self.methods = {name: self.program.load_method(name) for name in METHODS}
        self.max_seq_len = int(self.constant("get_max_seq_len"))
        self.max_context = int(self.constant("get_max_context_len"))

    def constant(self, name: str):
        """A constant method's value (a scalar, or a list for e.g. get_eos_ids)."""
        if name not in self.program.method_names:
            raise SfError(f"the program has no constant method {name!r}", "re-export it with this sf-mobile version")
        values = self.program.load_method(name).execute([])
        return values[0] if len(values) == 1 else list(values)

    def _run(self, method: str, *inputs: torch.Tensor) -> torch.Tensor:
        return self.methods[method].execute(list(inputs))[0]

    def vision_encoder(self, frames: torch.Tensor) -> torch.Tensor:
        return self._run("vision_encoder", frames.contiguous())

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        return self._run("token_embedding", ids.to(torch.int64).contiguous())

    def text_decoder(self, embeds: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        return self._run("text_decoder", embeds.contiguous(), cache_position.to(torch.int64).contiguous())

    def reset(self) -> None:
        # Nothing to clear: custom_sdpa attends only to slots < start_pos + S, and every sequence
        # starts at slot 0, so a new sequence overwrites each slot before it is read.
        return None
