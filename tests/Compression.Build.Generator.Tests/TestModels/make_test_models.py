#!/usr/bin/env python3
"""Make the generator tests' small identity models.

Each output is Identity of one input, so a test can run the class the generator makes for the model and
check that every element type goes into ONNX Runtime and comes back unchanged.

    identity-arrays.onnx  inputs whose shapes leave at most one dimension open (the generated class gets
                          the plain-array overload of Run): int64, bool, string, float16 scalar, bfloat16,
                          int32 under a C# keyword name
    identity-open.onnx    an input of unknown rank and one with two open dimensions (no array overload)

Run with Debian's Python (python3-onnx, 1.12 or newer), from the repository root:
    /usr/bin/python3 tests/Compression.Build.Generator.Tests/TestModels/make_test_models.py

The output is deterministic; nothing in the build or the tests runs Python, the models are committed.
"""

import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))


def identity_model(name, doc, inputs):
    """inputs: (input name, output name, element type, shape or None for unknown rank)."""
    graph_inputs = []
    graph_outputs = []
    nodes = []
    for input_name, output_name, elem_type, shape in inputs:
        graph_inputs.append(helper.make_tensor_value_info(input_name, elem_type, shape))
        graph_outputs.append(helper.make_tensor_value_info(output_name, elem_type, shape))
        nodes.append(helper.make_node("Identity", [input_name], [output_name], name="copy_" + input_name))
    graph = helper.make_graph(nodes, name, graph_inputs, graph_outputs)
    model = helper.make_model(graph, producer_name="make_test_models.py", doc_string=doc,
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if all(shape is not None for _, _, _, shape in inputs):
        # The checker wants a shape on every graph value; ONNX Runtime accepts values of unknown rank.
        onnx.checker.check_model(model)
    path = os.path.join(HERE, name + ".onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    print("wrote", path)


identity_model(
    "identity-arrays",
    "Copies each input to an output.",
    [
        ("tokens", "tokens_out", TensorProto.INT64, ["batch", 4]),
        ("mask", "mask_out", TensorProto.BOOL, ["batch", 4]),
        ("words", "words_out", TensorProto.STRING, ["batch"]),
        ("scale", "scale_out", TensorProto.FLOAT16, []),
        ("bits", "bits_out", TensorProto.BFLOAT16, [2]),
        ("class", "class_out", TensorProto.INT32, [3]),
    ],
)

identity_model(
    "identity-open",
    "Copies inputs of open shapes.",
    [
        ("values", "values_out", TensorProto.FLOAT, None),
        ("grid", "grid_out", TensorProto.UINT8, ["height", None]),
    ],
)
