"""`token_embedding.onnx`: ids [1, S] -> embeddings [1, S, D], a Gather over the raw table file.

The table already ships as `token_embeddings.f32|f16` for apps to memory-map; the graph's one
initializer points at that very file as ONNX external data (offset 0, the whole file), so the graph
adds a few hundred bytes, not a second copy of the table. The length S is dynamic: the lookup runs
on the CPU in every deployment (it is a memory read, not NPU work), so it needs no fixed shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TOKEN_EMBEDDING_NAME = "token_embedding.onnx"
ONNX_TYPES = {"float32": 1, "float16": 10}  # onnx.TensorProto.FLOAT / FLOAT16


def write_token_embedding_graph(folder: Path, table_name: str, vocab: int, hidden: int, dtype: str, opset: int) -> Path:
    import onnx
    from onnx import TensorProto, helper

    table_bytes = (folder / table_name).stat().st_size
    expected = vocab * hidden * np.dtype(dtype).itemsize
    if table_bytes != expected:
        raise AssertionError(f"{table_name} holds {table_bytes} bytes, [{vocab}, {hidden}] {dtype} is {expected}")
    table = TensorProto(name="embedding_table", data_type=ONNX_TYPES[dtype], dims=[vocab, hidden])
    table.data_location = TensorProto.EXTERNAL
    for key, value in (("location", table_name), ("offset", "0"), ("length", str(table_bytes))):
        table.external_data.add(key=key, value=value)
    graph = helper.make_graph(
        [helper.make_node("Gather", ["embedding_table", "ids"], ["embeds"], axis=0)],
        "token_embedding",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "S"])],
        [helper.make_tensor_value_info("embeds", ONNX_TYPES[dtype], [1, "S", hidden])],
        initializer=[table],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="sf-mobile")
    path = folder / TOKEN_EMBEDDING_NAME
    onnx.save_model(model, str(path))  # the initializer already refers to the table file: nothing else is written
    onnx.checker.check_model(str(path))  # the path form: resolves the external data beside the graph
    return path
