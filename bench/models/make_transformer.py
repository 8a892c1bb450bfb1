#!/usr/bin/python3
"""Writes transformer.onnx: a MatMul-heavy transformer encoder for the compression benchmark.

Architecture (BERT-like, post-LayerNorm), opset 17, IR 8, every size fixed:
  input  `embeddings` float [1, 128, 512] (batch 1, sequence 128, hidden 512)
  4 layers of: 8-head self-attention (Q, K, V and output projections, MatMul weights [512, 512] laid out
  [in, out], then Add bias), residual + LayerNormalization, feed-forward 512 -> 2048 -> 512 with exact GELU
  (0.5 * x * (1 + erf(x / sqrt(2)))), residual + LayerNormalization
  output `encoded` float [1, 128, 512]
Weights ~ N(0, 0.02) (BERT's initializer), biases ~ N(0, 0.02), LayerNorm gamma 1 and beta 0, drawn from
numpy.random.RandomState(seed) in a fixed order, so the file is the same on every run.

The model is ~50 MB (12.6 M float weights), too large to commit; the benchmark builds the same architecture
in C# (bench/Compression.Benchmarks/TransformerModel.cs) when no --model is given. To bench this file instead:

    /usr/bin/python3 bench/models/make_transformer.py            # writes bench/models/transformer.onnx
    dotnet run -c Release --project bench/Compression.Benchmarks -- --model bench/models/transformer.onnx

Needs numpy and onnx (Debian's /usr/bin/python3 has both).
"""

import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LAYERS = 4
HIDDEN = 512
HEADS = 8
FFN = 2048
SEQUENCE = 128
BATCH = 1
HEAD_SIZE = HIDDEN // HEADS


class Builder:
    def __init__(self, seed):
        self.random = np.random.RandomState(seed)
        self.nodes = []
        self.initializers = []

    def constant(self, name, values):
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def normal(self, name, shape):
        return self.constant(name, (self.random.normal(0.0, 0.02, size=shape)).astype(np.float32))

    def node(self, op, inputs, output, **attributes):
        self.nodes.append(helper.make_node(op, inputs, [output], name=output + "_" + op, **attributes))
        return output

    def linear(self, prefix, x, fan_in, fan_out):
        weight = self.normal(prefix + ".weight", (fan_in, fan_out))
        bias = self.normal(prefix + ".bias", (fan_out,))
        return self.node("Add", [self.node("MatMul", [x, weight], prefix + ".matmul"), bias], prefix + ".out")

    def layer_norm(self, prefix, x):
        gamma = self.constant(prefix + ".gamma", np.ones(HIDDEN, dtype=np.float32))
        beta = self.constant(prefix + ".beta", np.zeros(HIDDEN, dtype=np.float32))
        return self.node("LayerNormalization", [x, gamma, beta], prefix + ".out", axis=-1, epsilon=1e-5)


def build(seed):
    b = Builder(seed)
    b.constant("shape.heads", np.array([BATCH, SEQUENCE, HEADS, HEAD_SIZE], dtype=np.int64))
    b.constant("shape.hidden", np.array([BATCH, SEQUENCE, HIDDEN], dtype=np.int64))
    b.constant("attention.scale", np.array(1.0 / np.sqrt(HEAD_SIZE), dtype=np.float32))
    b.constant("gelu.sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    b.constant("gelu.one", np.array(1.0, dtype=np.float32))
    b.constant("gelu.half", np.array(0.5, dtype=np.float32))

    x = "embeddings"
    for layer in range(LAYERS):
        p = f"layer{layer}"
        q = b.linear(p + ".query", x, HIDDEN, HIDDEN)
        k = b.linear(p + ".key", x, HIDDEN, HIDDEN)
        v = b.linear(p + ".value", x, HIDDEN, HIDDEN)
        q = b.node("Transpose", [b.node("Reshape", [q, "shape.heads"], p + ".q.heads")], p + ".q.t", perm=[0, 2, 1, 3])
        k = b.node("Transpose", [b.node("Reshape", [k, "shape.heads"], p + ".k.heads")], p + ".k.t", perm=[0, 2, 3, 1])
        v = b.node("Transpose", [b.node("Reshape", [v, "shape.heads"], p + ".v.heads")], p + ".v.t", perm=[0, 2, 1, 3])
        scores = b.node("Mul", [b.node("MatMul", [q, k], p + ".scores"), "attention.scale"], p + ".scaled")
        probs = b.node("Softmax", [scores], p + ".probs", axis=-1)
        context = b.node("Transpose", [b.node("MatMul", [probs, v], p + ".context")], p + ".context.t", perm=[0, 2, 1, 3])
        context = b.node("Reshape", [context, "shape.hidden"], p + ".context.merged")
        attention = b.linear(p + ".attention.output", context, HIDDEN, HIDDEN)
        x1 = b.layer_norm(p + ".attention.norm", b.node("Add", [x, attention], p + ".attention.residual"))
        h = b.linear(p + ".ffn.up", x1, HIDDEN, FFN)
        erf = b.node("Erf", [b.node("Div", [h, "gelu.sqrt2"], p + ".gelu.div")], p + ".gelu.erf")
        gelu = b.node("Mul", [b.node("Mul", [h, b.node("Add", [erf, "gelu.one"], p + ".gelu.add")], p + ".gelu.mul"), "gelu.half"], p + ".gelu.out")
        f = b.linear(p + ".ffn.down", gelu, FFN, HIDDEN)
        x = b.layer_norm(p + ".ffn.norm", b.node("Add", [x1, f], p + ".ffn.residual"))
    b.node("Identity", [x], "encoded")

    graph = helper.make_graph(
        b.nodes,
        "transformer_encoder",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, [BATCH, SEQUENCE, HIDDEN])],
        [helper.make_tensor_value_info("encoded", TensorProto.FLOAT, [BATCH, SEQUENCE, HIDDEN])],
        b.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_transformer.py")
    model.ir_version = 8
    model.doc_string = (
        f"Transformer encoder for the compression benchmark: {LAYERS} layers, hidden {HIDDEN}, {HEADS} heads, "
        f"FFN {FFN}, sequence {SEQUENCE}, batch {BATCH}. Made by bench/models/make_transformer.py."
    )
    onnx.checker.check_model(model)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "transformer.onnx"))
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    model = build(args.seed)
    onnx.save(model, args.output)
    weights = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"wrote {args.output}: {os.path.getsize(args.output):,} bytes, {len(model.graph.node)} nodes, {weights:,} weight values")


if __name__ == "__main__":
    main()
