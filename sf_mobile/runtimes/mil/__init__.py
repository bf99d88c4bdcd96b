"""A numpy evaluator for Core ML MIL programs: checks Core ML numerics without a Mac.

    program = load_program("model.mlpackage")      # or an MLModel, or a Program
    ev = MilEvaluator(program, function="decode")
    state = ev.make_state()
    outputs = ev.predict({"inputs_embeds": x, "causal_mask": m}, state=state)

Every op output is rounded to its declared dtype (fp16 for fp16 programs), so the result
approximates Core ML's fp16 execution. coremltools is needed to build an evaluator, not to import this.
"""

from sf_mobile.runtimes.mil.evaluator import ConstantPool, MilEvaluator, UnsupportedOpError
from sf_mobile.runtimes.mil.ops import SUPPORTED_OPS
from sf_mobile.runtimes.mil.program import load_program

__all__ = ["ConstantPool", "MilEvaluator", "SUPPORTED_OPS", "UnsupportedOpError", "load_program"]
