"""Converts TensorFlow's SSD-MobileNet-v2 COCO frozen graph to the ONNX model vision runs.

The net is cut from the normalised image (`Preprocessor/sub`, 1 x 300 x 300 x 3, RGB in
-1..1) to the decoded boxes (`Postprocessor/Reshape_2`, 1 x 1917 x 4: y1, x1, y2, x2 in 0..1)
and the per-class scores (`Postprocessor/convert_scores`, 1 x 1917 x 91); the graph's resize
loop and its non-maximum suppression stay out (vision::objects does them).

Of COCO's 91 score columns vision reads seven (person; car, motorcycle, bus, truck; traffic
light; stop sign), so the six class-predictor convolutions keep only those classes' output
channels and their reshapes say 7 instead of 91: `scores` becomes 1 x 1917 x 7, in the order
of KEPT_CLASSES. Each score is a sigmoid of its own channel, so the kept scores are the same
numbers; the predictors were 58 % of a pass and the weights 49 of the 67 MB.

tf2onnx names the
tensors it makes from counters whose order changes from run to run, so every node, tensor and
weight is then renamed by its position, the inputs and outputs get plain names (`image`,
`boxes`, `scores`) and the converter's note of the input's path is replaced: the same frozen
graph and tool versions give the same bytes, which scripts/setup-vision checks by SHA-256.

    python ssd_to_onnx.py FROZEN.pb OUT.onnx
"""
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper

INPUT = "Preprocessor/sub:0"
OUTPUTS = {"Postprocessor/Reshape_2:0": "boxes", "Postprocessor/convert_scores:0": "scores"}
# COCO's score columns (0 is background) and the ones kept, in vision::objects' order.
CLASSES = 91
KEPT_CLASSES = [1, 3, 4, 6, 8, 10, 13]


def convert(frozen, raw):
    subprocess.run(
        [
            sys.executable, "-m", "tf2onnx.convert",
            "--graphdef", frozen,
            "--inputs", f"{INPUT}[1,300,300,3]",
            "--outputs", ",".join(OUTPUTS),
            "--opset", "13",
            "--output", raw,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def keep_classes(graph):
    """Cuts every class-predictor convolution (output channels anchor * 91 + class) down to
    KEPT_CLASSES, and the reshape after it (the last transpose, if any, keeps its layout)."""
    weights = {initializer.name: initializer for initializer in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def replace(name, array):
        weights[name].CopyFrom(numpy_helper.from_array(array, name))

    predictors = [
        node
        for node in graph.node
        if node.op_type == "Conv" and weights[node.input[1]].dims[0] % CLASSES == 0
    ]
    if len(predictors) != 6:
        raise SystemExit(f"expected 6 class predictors, found {len(predictors)}")
    for conv in predictors:
        kernel = numpy_helper.to_array(weights[conv.input[1]])
        bias = numpy_helper.to_array(weights[conv.input[2]])
        anchors = kernel.shape[0] // CLASSES
        rows = [anchor * CLASSES + c for anchor in range(anchors) for c in KEPT_CLASSES]
        replace(conv.input[1], kernel[rows])
        replace(conv.input[2], bias[rows])
        tensor = conv.output[0]
        while True:
            (after,) = consumers[tensor]
            if after.op_type == "Reshape":
                break
            if after.op_type != "Transpose":
                raise SystemExit(f"unexpected {after.op_type} after a class predictor")
            tensor = after.output[0]
        shape = numpy_helper.to_array(weights[after.input[1]]).copy()
        if shape[-1] != CLASSES:
            raise SystemExit(f"a class predictor's reshape is {shape.tolist()}")
        shape[-1] = len(KEPT_CLASSES)
        replace(after.input[1], shape)
    (scores,) = [value for value in graph.output if value.name == "scores"]
    scores.type.tensor_type.shape.dim[2].dim_value = len(KEPT_CLASSES)


def canonical(raw, target):
    model = onnx.load(raw)
    graph = model.graph
    fixed = {INPUT: "image", **OUTPUTS}
    weights = {initializer.name for initializer in graph.initializer}
    names = {}

    def rename(name):
        if name == "":
            return name
        if name in fixed:
            return fixed[name]
        if name not in names:
            names[name] = f"{'w' if name in weights else 't'}{len(names)}"
        return names[name]

    for index, node in enumerate(graph.node):
        node.name = f"n{index}"
        node.input[:] = [rename(name) for name in node.input]
        node.output[:] = [rename(name) for name in node.output]
    used = [initializer for initializer in graph.initializer if initializer.name in names]
    for initializer in used:
        initializer.name = names[initializer.name]
    used.sort(key=lambda initializer: int(initializer.name[1:]))
    del graph.initializer[:]
    graph.initializer.extend(used)
    for value in list(graph.input) + list(graph.output):
        value.name = fixed[value.name]
    del graph.value_info[:]
    keep_classes(graph)
    graph.name = "ssd_mobilenet_v2_coco"
    graph.doc_string = (
        "converted from the model zoo's ssd_mobilenet_v2_coco_2018_03_29 frozen graph;"
        f" scores of COCO classes {KEPT_CLASSES}"
    )
    model.doc_string = ""
    onnx.checker.check_model(model)
    onnx.save(model, target)


def main(frozen, target):
    with tempfile.TemporaryDirectory() as work:
        raw = os.path.join(work, "raw.onnx")
        convert(frozen, raw)
        canonical(raw, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
