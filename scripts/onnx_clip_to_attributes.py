"""Moves the constant min/max inputs of every ONNX `Clip` node into attributes.

OpenCV 4.6's ONNX importer reads Clip bounds only as attributes (opset < 11 style); PP-OCRv4
text detection (opset 11+) gives them as constant inputs. The graph is otherwise unchanged,
and the output is byte-for-byte reproducible, so scripts/setup-vision checks its SHA-256.

    python onnx_clip_to_attributes.py IN.onnx OUT.onnx
"""
import sys

import onnx
from onnx import helper, numpy_helper


def constant(graph, name, constants):
    for initializer in graph.initializer:
        if initializer.name == name:
            return float(numpy_helper.to_array(initializer))
    if name in constants:
        return float(constants[name])
    raise SystemExit(f"Clip bound {name!r} is not a constant; cannot rewrite")


def main(source, target):
    model = onnx.load(source)
    graph = model.graph
    constants = {
        node.output[0]: numpy_helper.to_array(attribute.t)
        for node in graph.node
        if node.op_type == "Constant"
        for attribute in node.attribute
        if attribute.name == "value"
    }
    rewritten = 0
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "Clip" or len(node.input) == 1:
            continue
        bounds = {}
        if len(node.input) > 1 and node.input[1]:
            bounds["min"] = constant(graph, node.input[1], constants)
        if len(node.input) > 2 and node.input[2]:
            bounds["max"] = constant(graph, node.input[2], constants)
        replacement = helper.make_node(
            "Clip", [node.input[0]], list(node.output), name=node.name, **bounds
        )
        graph.node.remove(node)
        graph.node.insert(index, replacement)
        rewritten += 1
    # No onnx.checker: an opset-11 Clip with attributes is not valid ONNX, only what
    # OpenCV 4.6 reads.
    onnx.save(model, target)
    print(f"rewrote {rewritten} Clip nodes into {target}")


if __name__ == "__main__":
    main(*sys.argv[1:])
