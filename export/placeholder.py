"""A hand-built style file that needs no training: a coarse colour mosaic.

It is honest about what it is (kind `placeholder`, trained on nothing) and hides identity: the
face becomes `block`-pixel tiles of posterised colour. Also used by tests as a tiny valid style.
Run `python -m export.placeholder OUT.onnx` to write one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PLACEHOLDER_META = {
    "name": "placeholder-mosaic",
    "kind": "placeholder",
    "value_range": "-1,1",
    "license_note": "MIT; contains no learned weights",
    "trained_on": "nothing: a hand-built ONNX graph (average-pool mosaic + posterise), not a trained model",
    "description": "Stand-in until a trained style is installed: a coarse colour mosaic of the face.",
}


def build_placeholder_style(
    size: int | None = 256,
    block: int = 16,
    levels: int = 5,
    metadata: dict[str, str] | None = None,
    opset: int = 17,
) -> onnx.ModelProto:
    """ONNX graph: AveragePool(block) -> posterise to `levels` -> nearest upsample back.

    `size=None` makes H and W dynamic (they must be multiples of `block`)."""
    dim: int | str = size if size is not None else "S"
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, dim, dim])
    y = helper.make_tensor_value_info("cartoon", TensorProto.FLOAT, [1, 3, dim, dim])
    q = float(levels - 1) / 2.0
    inits = [
        numpy_helper.from_array(np.array(q, np.float32), "q"),
        numpy_helper.from_array(np.array([1, 1, block, block], np.float32), "scales"),
    ]
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[block, block],
                         strides=[block, block]),
        helper.make_node("Mul", ["pooled", "q"], ["scaled"]),
        helper.make_node("Round", ["scaled"], ["rounded"]),
        helper.make_node("Div", ["rounded", "q"], ["poster"]),
        helper.make_node("Resize", ["poster", "", "scales"], ["cartoon"], mode="nearest"),
    ]
    graph = helper.make_graph(nodes, "placeholder_mosaic", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="avatar-cam export.placeholder")
    model.ir_version = 8
    meta = dict(PLACEHOLDER_META, input_size=str(size) if size else "dynamic")
    meta.update(metadata or {})
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def write_placeholder_style(path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(build_placeholder_style(**kwargs), str(path))
    return path


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "avatar_cam/assets/styles/placeholder-mosaic.onnx")
    print(write_placeholder_style(out))
