using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Benchmarks;

/// <summary>
/// The transformer encoder of bench/models/make_transformer.py, built in C#: the same nodes, names, shapes and
/// attributes, opset 17, IR 8. The weights are drawn from N(0, 0.02) like the script's, but from .NET's seeded
/// generator instead of numpy's, so the values differ while the model is the same size and does the same work.
/// (The script's output is ~50 MB, too large to commit; pass it with --model to bench it instead.)
/// </summary>
internal static class TransformerModel
{
    public const int Layers = 4;
    public const int Hidden = 512;
    public const int Heads = 8;
    public const int Ffn = 2048;
    public const int Sequence = 128;
    public const int Batch = 1;
    private const int HeadSize = Hidden / Heads;

    /// <summary>The model's input name and shape.</summary>
    public const string InputName = "embeddings";

    /// <summary>The token ids input of the variant with an embedding table.</summary>
    public const string TokenInputName = "ids";

    /// <summary>The vocabulary of the variant with an embedding table.</summary>
    public const int Vocabulary = 8000;

    /// <summary>The encoder; with <paramref name="embedding"/>, it starts from token ids through an 8000 x 512 table (Gather).</summary>
    public static ModelProto Build(int seed = 20240601, bool embedding = false)
    {
        var b = new Builder(seed);
        b.Constant("shape.heads", [4], new long[] { Batch, Sequence, Heads, HeadSize });
        b.Constant("shape.hidden", [3], new long[] { Batch, Sequence, Hidden });
        b.Constant("attention.scale", [], [(float)(1.0 / Math.Sqrt(HeadSize))]);
        b.Constant("gelu.sqrt2", [], [(float)Math.Sqrt(2.0)]);
        b.Constant("gelu.one", [], [1f]);
        b.Constant("gelu.half", [], [0.5f]);

        string x = InputName;
        if (embedding)
        {
            b.Table("embedding.table", Vocabulary, Hidden);
            x = b.Node("Gather", ["embedding.table", TokenInputName], "embedding.out");
        }

        for (int layer = 0; layer < Layers; layer++)
        {
            string p = $"layer{layer}";
            string q = b.Linear(p + ".query", x, Hidden, Hidden);
            string k = b.Linear(p + ".key", x, Hidden, Hidden);
            string v = b.Linear(p + ".value", x, Hidden, Hidden);
            q = b.Node("Transpose", [b.Node("Reshape", [q, "shape.heads"], p + ".q.heads")], p + ".q.t", Perm(0, 2, 1, 3));
            k = b.Node("Transpose", [b.Node("Reshape", [k, "shape.heads"], p + ".k.heads")], p + ".k.t", Perm(0, 2, 3, 1));
            v = b.Node("Transpose", [b.Node("Reshape", [v, "shape.heads"], p + ".v.heads")], p + ".v.t", Perm(0, 2, 1, 3));
            string scores = b.Node("Mul", [b.Node("MatMul", [q, k], p + ".scores"), "attention.scale"], p + ".scaled");
            string probs = b.Node("Softmax", [scores], p + ".probs", Int("axis", -1));
            string context = b.Node("Transpose", [b.Node("MatMul", [probs, v], p + ".context")], p + ".context.t", Perm(0, 2, 1, 3));
            context = b.Node("Reshape", [context, "shape.hidden"], p + ".context.merged");
            string attention = b.Linear(p + ".attention.output", context, Hidden, Hidden);
            string x1 = b.LayerNorm(p + ".attention.norm", b.Node("Add", [x, attention], p + ".attention.residual"));
            string h = b.Linear(p + ".ffn.up", x1, Hidden, Ffn);
            string erf = b.Node("Erf", [b.Node("Div", [h, "gelu.sqrt2"], p + ".gelu.div")], p + ".gelu.erf");
            string gelu = b.Node("Mul", [b.Node("Mul", [h, b.Node("Add", [erf, "gelu.one"], p + ".gelu.add")], p + ".gelu.mul"), "gelu.half"], p + ".gelu.out");
            string f = b.Linear(p + ".ffn.down", gelu, Ffn, Hidden);
            x = b.LayerNorm(p + ".ffn.norm", b.Node("Add", [x1, f], p + ".ffn.residual"));
        }

        b.Node("Identity", [x], "encoded");

        var graph = b.Graph;
        graph.Name = "transformer_encoder";
        graph.Input.Add(embedding ? TokenInput() : ValueInfo(InputName));
        graph.Output.Add(ValueInfo("encoded"));
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "Compression.Benchmarks",
            DocString = $"Transformer encoder for the compression benchmark: {Layers} layers, hidden {Hidden}, {Heads} heads, " +
                $"FFN {Ffn}, sequence {Sequence}, batch {Batch}. Built by bench/Compression.Benchmarks (as bench/models/make_transformer.py).",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        return model;
    }

    private static ValueInfoProto ValueInfo(string name)
    {
        var shape = new TensorShapeProto();
        foreach (long size in new long[] { Batch, Sequence, Hidden })
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = size });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } },
        };
    }

    private static ValueInfoProto TokenInput()
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = Batch });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = Sequence });
        return new ValueInfoProto
        {
            Name = TokenInputName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Int64, Shape = shape } },
        };
    }

    private static AttributeProto Perm(params long[] perm)
    {
        var attribute = new AttributeProto { Name = "perm", Type = AttributeType.Ints };
        attribute.Ints.AddRange(perm);
        return attribute;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeType.Float, F = value };

    private sealed class Builder(int seed)
    {
        private readonly Random random = new(seed);

        public GraphProto Graph { get; } = new();

        public void Constant<T>(string name, long[] dims, T[] values) where T : unmanaged =>
            Graph.Initializer.Add(TensorValues.Create<T>(name, dims, values));

        public string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = opType, Name = output + "_" + opType };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            Graph.Node.Add(node);
            return output;
        }

        public string Linear(string prefix, string x, int fanIn, int fanOut)
        {
            Constant(prefix + ".weight", [fanIn, fanOut], Normal(fanIn * fanOut));
            Constant(prefix + ".bias", [fanOut], Normal(fanOut));
            return Node("Add", [Node("MatMul", [x, prefix + ".weight"], prefix + ".matmul"), prefix + ".bias"], prefix + ".out");
        }

        public void Table(string name, int rows, int width) => Constant(name, [rows, width], Normal(rows * width));

        public string LayerNorm(string prefix, string x)
        {
            Constant(prefix + ".gamma", [Hidden], Enumerable.Repeat(1f, Hidden).ToArray());
            Constant(prefix + ".beta", [Hidden], new float[Hidden]);
            return Node("LayerNormalization", [x, prefix + ".gamma", prefix + ".beta"], prefix + ".out", Int("axis", -1), Float("epsilon", 1e-5f));
        }

        /// <summary>N(0, 0.02) by the Box-Muller transform.</summary>
        private float[] Normal(int count)
        {
            var values = new float[count];
            for (int i = 0; i < count; i += 2)
            {
                double u1 = 1.0 - random.NextDouble();
                double u2 = random.NextDouble();
                double radius = Math.Sqrt(-2.0 * Math.Log(u1)) * 0.02;
                values[i] = (float)(radius * Math.Cos(2 * Math.PI * u2));
                if (i + 1 < count)
                {
                    values[i + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
                }
            }

            return values;
        }
    }
}
