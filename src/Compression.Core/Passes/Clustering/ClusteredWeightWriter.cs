using Compression.Core.Ir;
using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Clustering;

/// <summary>
/// Writes a clustered weight as packed codes and a float codebook, expanded to the float weight, under its own name, by
/// standard operators that ONNX Runtime's constant folding evaluates when it loads the model. Codes of B &lt; 8 bits are
/// stored as B bit planes (plane b holds bit b of every code, eight codes to a byte): <c>BitShift</c> right by 0..7 and
/// <c>Mod</c> 2 take the bits out, <c>Cast</c>, <c>Mul</c> by 2^b and <c>ReduceSum</c> over the planes give the codes
/// back; 8-bit codes are stored as bytes. <c>Gather</c> from the codebook gives the weight; one codebook per output
/// channel is one flat codebook with an offset per channel added to the codes. Every operator is in opset 13.
/// </summary>
internal sealed class ClusteredWeightWriter
{
    /// <summary>The opset of the expansion (ReduceSum with its axes as an input).</summary>
    public const long RequiredOpset = 13;

    private readonly Dictionary<Graph, int> constantsInserted = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Replaces the initializer <paramref name="weight"/> by its expansion from <paramref name="codes"/> (in the weight's
    /// layout) and <paramref name="codebook"/> (<c>[channels, stride]</c> flattened when <paramref name="axis"/> is a channel
    /// axis, else its entries). Returns the bytes of the new initializers.
    /// </summary>
    public long Write(Value weight, long[] dims, byte[] codes, float[] codebook, int bits, int axis, int stride)
    {
        Graph graph = weight.Graph;
        string name = weight.Name;
        int position = graph.DetachInitializer(weight);
        long bytes = 0;
        var nodes = new List<Node>();

        Value Add(TensorProto tensor)
        {
            tensor.Name = name + tensor.Name;
            bytes += tensor.RawData.Length;
            return graph.AddInitializer(tensor, position++);
        }

        Value Compute(string opType, string suffix, Value?[] inputs, params AttributeProto[] attributes)
        {
            Value output = graph.CreateValue(name + suffix);
            nodes.Add(graph.CreateNode(opType, string.Empty, name + "_" + opType, inputs, [output], attributes));
            return output;
        }

        long count = codes.LongLength;
        Value indices;
        if (bits >= 8)
        {
            Value stored = Add(TensorValues.Create<byte>("_codes", dims, codes));
            indices = Compute("Cast", "_code_values", [stored], Int("to", (long)DataType.Int32));
        }
        else
        {
            long bytesPerPlane = (count + 7) / 8;
            Value planes = Add(TensorValues.Create<byte>("_codes", [bits, bytesPerPlane, 1], BitPlanes(codes, bits, bytesPerPlane)));
            Value shifts = Add(TensorValues.Create<byte>("_shifts", [8], [0, 1, 2, 3, 4, 5, 6, 7]));
            Value two = Add(TensorValues.Create<byte>("_two", [], [2]));
            var powerValues = new int[bits];
            for (int b = 0; b < bits; b++)
            {
                powerValues[b] = 1 << b;
            }

            Value powers = Add(TensorValues.Create<int>("_powers", [bits, 1, 1], powerValues));
            Value planeAxis = Add(TensorValues.Create<long>("_plane_axis", [1], [0]));
            Value shifted = Compute("BitShift", "_shifted", [planes, shifts], new AttributeProto { Name = "direction", Type = AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("RIGHT") });
            Value bitValues = Compute("Mod", "_bits", [shifted, two]);
            Value wide = Compute("Cast", "_bit_values", [bitValues], Int("to", (long)DataType.Int32));
            Value weighted = Compute("Mul", "_bit_weights", [wide, powers]);
            Value summed = Compute("ReduceSum", "_code_bytes", [weighted, planeAxis], Int("keepdims", 0));
            Value flat = summed;
            if (bytesPerPlane * 8 != count)
            {
                Value flatShape = Add(TensorValues.Create<long>("_flat_shape", [1], [-1]));
                Value start = Add(TensorValues.Create<long>("_start", [1], [0]));
                Value end = Add(TensorValues.Create<long>("_end", [1], [count]));
                flat = Compute("Slice", "_code_list", [Compute("Reshape", "_padded_codes", [summed, flatShape]), start, end]);
            }

            Value shape = Add(TensorValues.Create<long>("_shape", [dims.Length], dims));
            indices = Compute("Reshape", "_code_values", [flat, shape]);
        }

        if (axis >= 0)
        {
            // One codebook per channel: the codes of channel c index entries c * stride onward.
            long[] offsetDims = dims.Select((d, i) => i == axis ? d : 1).ToArray();
            var offsets = new int[dims[axis]];
            for (int c = 0; c < offsets.Length; c++)
            {
                offsets[c] = c * stride;
            }

            Value offsetValues = Add(TensorValues.Create<int>("_offsets", offsetDims, offsets));
            indices = Compute("Add", "_codebook_indices", [indices, offsetValues]);
        }

        Value table = Add(TensorValues.Create<float>("_codebook", [codebook.Length], codebook));
        nodes.Add(graph.CreateNode("Gather", string.Empty, name + "_Gather", [table, indices], [weight], [Int("axis", 0)]));

        // The new nodes read only initializers, so they go first, in the order of the weights, and the graph stays sorted.
        int index = constantsInserted.TryGetValue(graph, out int inserted) ? inserted : 0;
        foreach (Node node in nodes)
        {
            graph.Insert(index++, node);
        }

        constantsInserted[graph] = index;
        return bytes;
    }

    /// <summary>Bit b of code i at bit (i mod 8) of byte (b, i / 8): the codes as <paramref name="bits"/> planes of bits.</summary>
    internal static byte[] BitPlanes(ReadOnlySpan<byte> codes, int bits, long bytesPerPlane)
    {
        var planes = new byte[bits * bytesPerPlane];
        for (int b = 0; b < bits; b++)
        {
            Span<byte> plane = planes.AsSpan((int)(b * bytesPerPlane), (int)bytesPerPlane);
            for (int i = 0; i < codes.Length; i++)
            {
                plane[i >> 3] |= (byte)(((codes[i] >> b) & 1) << (i & 7));
            }
        }

        return planes;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };
}
