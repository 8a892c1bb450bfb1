using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Benchmarks;

/// <summary>
/// The transformer encoder of bench/models/make_transformer.py, built in C#: the same nodes, names, shapes and
/// attributes, opset 17, IR 8. The weights are drawn from N(0, 0.02) like the script's, but from .NET's seeded
/// generator instead of numpy's, so the values differ while the model is the same size and does the same work.
/// (The script's output is ~50 MB, too large to commit.) With an embedding, the encoder starts from token ids.
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

    /// <summary>The weights' standard deviation, as the script's N(0, 0.02).</summary>
    private const double WeightDeviation = 0.02;

    /// <summary>The model's input name and shape.</summary>
    public const string InputName = "embeddings";

    /// <summary>The token ids input of the variant with an embedding table.</summary>
    public const string TokenInputName = "ids";

    /// <summary>The vocabulary of the variant with an embedding table.</summary>
    public const int Vocabulary = 8000;

    /// <summary>The encoder; with <paramref name="embedding"/>, it starts from token ids through an 8000 x 512 table (Gather).</summary>
    public static ModelProto Build(int seed = 20240601, bool embedding = false)
    {
        var b = new GraphWriter(seed);
        b.Constant("shape.heads", [4], new long[] { Batch, Sequence, Heads, HeadSize });
        b.Constant("shape.hidden", [3], new long[] { Batch, Sequence, Hidden });
        b.Constant("attention.scale", [], [(float)(1.0 / Math.Sqrt(HeadSize))]);
        b.Constant("gelu.sqrt2", [], [(float)Math.Sqrt(2.0)]);
        b.Constant("gelu.one", [], [1f]);
        b.Constant("gelu.half", [], [0.5f]);

        string x = InputName;
        if (embedding)
        {
            b.Normal("embedding.table", [Vocabulary, Hidden], WeightDeviation);
            x = b.Node("Gather", ["embedding.table", TokenInputName], "embedding.out");
        }

        for (int layer = 0; layer < Layers; layer++)
        {
            string p = $"layer{layer}";
            string q = Linear(b, p + ".query", x, Hidden, Hidden);
            string k = Linear(b, p + ".key", x, Hidden, Hidden);
            string v = Linear(b, p + ".value", x, Hidden, Hidden);
            q = b.Node("Transpose", [b.Node("Reshape", [q, "shape.heads"], p + ".q.heads")], p + ".q.t", Perm(0, 2, 1, 3));
            k = b.Node("Transpose", [b.Node("Reshape", [k, "shape.heads"], p + ".k.heads")], p + ".k.t", Perm(0, 2, 3, 1));
            v = b.Node("Transpose", [b.Node("Reshape", [v, "shape.heads"], p + ".v.heads")], p + ".v.t", Perm(0, 2, 1, 3));
            string scores = b.Node("Mul", [b.Node("MatMul", [q, k], p + ".scores"), "attention.scale"], p + ".scaled");
            string probs = b.Node("Softmax", [scores], p + ".probs", Int("axis", -1));
            string context = b.Node("Transpose", [b.Node("MatMul", [probs, v], p + ".context")], p + ".context.t", Perm(0, 2, 1, 3));
            context = b.Node("Reshape", [context, "shape.hidden"], p + ".context.merged");
            string attention = Linear(b, p + ".attention.output", context, Hidden, Hidden);
            string x1 = LayerNorm(b, p + ".attention.norm", b.Node("Add", [x, attention], p + ".attention.residual"));
            string h = Linear(b, p + ".ffn.up", x1, Hidden, Ffn);
            string erf = b.Node("Erf", [b.Node("Div", [h, "gelu.sqrt2"], p + ".gelu.div")], p + ".gelu.erf");
            string gelu = b.Node("Mul", [b.Node("Mul", [h, b.Node("Add", [erf, "gelu.one"], p + ".gelu.add")], p + ".gelu.mul"), "gelu.half"], p + ".gelu.out");
            string f = Linear(b, p + ".ffn.down", gelu, Ffn, Hidden);
            x = LayerNorm(b, p + ".ffn.norm", b.Node("Add", [x1, f], p + ".ffn.residual"));
        }

        b.Node("Identity", [x], "encoded");

        return b.Model("transformer_encoder",
            $"Transformer encoder for the compression benchmark: {Layers} layers, hidden {Hidden}, {Heads} heads, " +
            $"FFN {Ffn}, sequence {Sequence}, batch {Batch}. Built by bench/Compression.Benchmarks (as bench/models/make_transformer.py).",
            embedding ? GraphWriter.Tensor(TokenInputName, DataType.Int64, Batch, Sequence) : Hidden3D(InputName), Hidden3D("encoded"));
    }

    private static ValueInfoProto Hidden3D(string name) => GraphWriter.Tensor(name, DataType.Float, Batch, Sequence, Hidden);

    private static string Linear(GraphWriter b, string prefix, string x, int fanIn, int fanOut)
    {
        b.Normal(prefix + ".weight", [fanIn, fanOut], WeightDeviation);
        b.Normal(prefix + ".bias", [fanOut], WeightDeviation);
        return b.Node("Add", [b.Node("MatMul", [x, prefix + ".weight"], prefix + ".matmul"), prefix + ".bias"], prefix + ".out");
    }

    private static string LayerNorm(GraphWriter b, string prefix, string x)
    {
        b.Constant(prefix + ".gamma", [Hidden], Enumerable.Repeat(1f, Hidden).ToArray());
        b.Constant(prefix + ".beta", [Hidden], new float[Hidden]);
        return b.Node("LayerNormalization", [x, prefix + ".gamma", prefix + ".beta"], prefix + ".out", GraphWriter.Int("axis", -1), GraphWriter.Float("epsilon", 1e-5f));
    }

    private static AttributeProto Perm(params long[] perm) => GraphWriter.Ints("perm", perm);

    private static AttributeProto Int(string name, long value) => GraphWriter.Int(name, value);
}
