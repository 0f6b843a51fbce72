"""Converts TensorFlow's SSD-MobileNet-v2 COCO frozen graph to the ONNX model vision runs.

The net is cut from the normalised image (`Preprocessor/sub`, 1 x 300 x 300 x 3, RGB in
-1..1) to the decoded boxes (`Postprocessor/Reshape_2`, 1 x 1917 x 4: y1, x1, y2, x2 in 0..1)
and the per-class scores (`Postprocessor/convert_scores`, 1 x 1917 x 91); the graph's resize
loop and its non-maximum suppression stay out (vision::objects does them). tf2onnx names the
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

INPUT = "Preprocessor/sub:0"
OUTPUTS = {"Postprocessor/Reshape_2:0": "boxes", "Postprocessor/convert_scores:0": "scores"}


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
    graph.name = "ssd_mobilenet_v2_coco"
    graph.doc_string = "converted from the model zoo's ssd_mobilenet_v2_coco_2018_03_29 frozen graph"
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
