using Compression.Core.Ir;
using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Clustering;

/// <summary>
/// Writes a clustered weight as packed codes and a float codebook, expanded to the float weight, under its own name, by
/// standard operators that ONNX Runtime's constant folding evaluates when it loads the model. Codes of 1, 2 or 4 bits are
/// packed 8 / B to a byte, which <c>BitShift</c> right and <c>Mod</c> 2^B take out; codes of 3, 5, 6 or 7 bits are stored
/// as B bit planes (plane b holds bit b of every code, eight codes to a byte): <c>BitShift</c> right by 0..7 and
/// <c>Mod</c> 2 take the bits out, <c>Cast</c>, <c>Mul</c> by 2^b and <c>ReduceSum</c> over the planes give the codes
/// back; 8-bit codes are stored as bytes. (Packed nibbles of a 90%-pruned 4-bit weight deflate to 0.74 of its bit planes
/// and 0.91 of its codes as bytes.) <c>Gather</c> from the codebook gives the weight; one codebook per output
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
        var added = new List<TensorProto>();

        Value Add(TensorProto tensor)
        {
            tensor.Name = name + tensor.Name;
            bytes += tensor.RawData.Length;
            added.Add(tensor);
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
            // Codes of 1, 2 or 4 bits packed 8 / B to a byte, the first in the low bits (the form that deflates best when
            // most codes are a pruned weight's zero code); other widths as bit planes. Either way BitShift and Mod take
            // them out: [rows, 1] bytes shifted by [columns] amounts.
            bool packed = 8 % bits == 0;
            int perByte = packed ? 8 / bits : 8;
            int planeCount = packed ? 1 : bits;
            long rows = (count + perByte - 1) / perByte;
            byte[] stored = packed ? Pack(codes, bits, rows) : BitPlanes(codes, bits, rows);
            Value data = Add(TensorValues.Create<byte>("_codes", packed ? [rows, 1] : [bits, rows, 1], stored));
            var shiftValues = new byte[perByte];
            for (int s = 0; s < perByte; s++)
            {
                shiftValues[s] = (byte)(s * (packed ? bits : 1));
            }

            Value shifts = Add(TensorValues.Create<byte>("_shifts", [perByte], shiftValues));
            Value modulus = Add(TensorValues.Create<byte>("_modulus", [], [(byte)(packed ? 1 << bits : 2)]));
            Value shifted = Compute("BitShift", "_shifted", [data, shifts], new AttributeProto { Name = "direction", Type = AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("RIGHT") });
            Value parts = Compute("Mod", "_code_parts", [shifted, modulus]);
            Value wide = Compute("Cast", "_code_ints", [parts], Int("to", (long)DataType.Int32));
            if (planeCount > 1)
            {
                // Bit b of every code from plane b: weighted by 2^b and summed over the planes.
                var powerValues = new int[planeCount];
                for (int b = 0; b < planeCount; b++)
                {
                    powerValues[b] = 1 << b;
                }

                Value powers = Add(TensorValues.Create<int>("_powers", [planeCount, 1, 1], powerValues));
                Value planeAxis = Add(TensorValues.Create<long>("_plane_axis", [1], [0]));
                Value weighted = Compute("Mul", "_bit_weights", [wide, powers]);
                wide = Compute("ReduceSum", "_code_sums", [weighted, planeAxis], Int("keepdims", 0));
            }

            Value flat = wide;
            if (rows * perByte != count)
            {
                Value flatShape = Add(TensorValues.Create<long>("_flat_shape", [1], [-1]));
                Value start = Add(TensorValues.Create<long>("_start", [1], [0]));
                Value end = Add(TensorValues.Create<long>("_end", [1], [count]));
                flat = Compute("Slice", "_code_list", [Compute("Reshape", "_padded_codes", [wide, flatShape]), start, end]);
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

        // The new tensors go to the compressed model's external data file now, when it has one.
        foreach (TensorProto tensor in added)
        {
            graph.Model.Spill(tensor);
        }

        return bytes;
    }

    /// <summary>Codes of <paramref name="bits"/> (1, 2 or 4) bits, 8 / bits to a byte, code i at bit (i mod (8 / bits)) * bits of byte i / (8 / bits).</summary>
    internal static byte[] Pack(ReadOnlySpan<byte> codes, int bits, long bytes)
    {
        var packed = new byte[bytes];
        int perByte = 8 / bits;
        int full = codes.Length / perByte;
        for (int j = 0; j < full; j++)
        {
            int value = 0;
            ReadOnlySpan<byte> group = codes.Slice(j * perByte, perByte);
            for (int s = 0; s < group.Length; s++)
            {
                value |= group[s] << (s * bits);
            }

            packed[j] = (byte)value;
        }

        for (int i = full * perByte; i < codes.Length; i++)
        {
            packed[i / perByte] |= (byte)(codes[i] << (i % perByte * bits));
        }

        return packed;
    }

    /// <summary>Bit b of code i at bit (i mod 8) of byte (b, i / 8): the codes as <paramref name="bits"/> planes of bits.</summary>
    internal static byte[] BitPlanes(ReadOnlySpan<byte> codes, int bits, long bytesPerPlane)
    {
        var planes = new byte[bits * bytesPerPlane];
        Span<int> bytes = stackalloc int[8];
        for (long j = 0; j < bytesPerPlane; j++)
        {
            bytes.Clear();
            int end = (int)Math.Min(codes.Length, (j + 1) * 8);
            for (int i = (int)(j * 8); i < end; i++)
            {
                int code = codes[i];
                int bit = i & 7;
                for (int b = 0; b < bits; b++)
                {
                    bytes[b] |= ((code >> b) & 1) << bit;
                }
            }

            for (int b = 0; b < bits; b++)
            {
                planes[(b * bytesPerPlane) + j] = (byte)bytes[b];
            }
        }

        return planes;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };
}
