using Compression.Core.Runtime;
using System.Runtime.InteropServices;

namespace Compression.Core.Tests.Runtime;

/// <summary>Every element type OnnxSession supports goes into ONNX Runtime and comes back bit for bit.</summary>
public class ElementTypeTests
{
    public static TheoryData<TensorElementType> SupportedTypes() =>
    [
        TensorElementType.Float, TensorElementType.Double, TensorElementType.Float16, TensorElementType.BFloat16,
        TensorElementType.Int8, TensorElementType.UInt8, TensorElementType.Int16, TensorElementType.UInt16,
        TensorElementType.Int32, TensorElementType.UInt32, TensorElementType.Int64, TensorElementType.UInt64,
        TensorElementType.Bool, TensorElementType.String,
    ];

    [Theory]
    [MemberData(nameof(SupportedTypes))]
    public void Element_type_round_trips_through_Identity(TensorElementType type)
    {
        OnnxTensor input = Sample(type);
        using var session = new OnnxSession(TestModels.Identity(type, 2L, 3L));

        Assert.Equal(type, session.Inputs[0].ElementType);
        Assert.Equal(type, session.Outputs[0].ElementType);
        Assert.Equal([2L, 3L], session.Inputs[0].Dimensions);

        OnnxTensor output = Assert.Single(session.Run(["x"], [input], []));

        Assert.Equal(type, output.ElementType);
        Assert.Equal([2L, 3L], output.Shape.ToArray());
        Assert.Equal(6, output.ElementCount);
        Assert.Equal(ClrTypeOf(type), output.GetType());
        AssertSameBits(input, output);
    }

    [Fact]
    public void Float16_given_as_ushort_bits_comes_back_as_Half()
    {
        ushort[] bits = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7E00, 0x8000]; // 1, -2, max, smallest subnormal, NaN, -0
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float16, 6L));

        OnnxTensor output = session.Run(["x"], [new OnnxTensor<ushort>(bits, [6], TensorElementType.Float16)], [])[0];

        Assert.Equal(bits, output.As<Half>().ToArray().Select(BitConverter.HalfToUInt16Bits));
    }

    [Theory]
    [InlineData(TensorElementType.BFloat16)]
    [InlineData(TensorElementType.Float16)]
    public void Half_precision_types_are_converted_by_value_not_just_copied(TensorElementType type)
    {
        // Cast to float and back: ONNX Runtime reads the 16-bit values as numbers, so the type tag crossed too.
        // bfloat16 1.5 = 0x3FC0, -2 = 0xC000, 3 = 0x4040; float16 1.5 = 0x3E00, -2 = 0xC000, 3 = 0x4200.
        ushort[] bits = type == TensorElementType.BFloat16 ? [0x3FC0, 0xC000] : [0x3E00, 0xC000];
        byte[] toFloat = TestModels.Model([TestModels.Node("Cast", ["x"], ["y"], TestModels.Attribute("to", (long)TensorElementType.Float))],
            [TestModels.Value("x", type, 2L)], [TestModels.Value("y", TensorElementType.Float, 2L)]);
        using (var session = new OnnxSession(toFloat))
        {
            OnnxTensor y = session.Run(["x"], [new OnnxTensor<ushort>(bits, [2], type)], [])[0];
            Assert.Equal([1.5f, -2f], y.As<float>().ToArray());
        }

        byte[] fromFloat = TestModels.Model([TestModels.Node("Cast", ["x"], ["y"], TestModels.Attribute("to", (long)type))],
            [TestModels.Value("x", TensorElementType.Float, 1L)], [TestModels.Value("y", type, 1L)]);
        using (var session = new OnnxSession(fromFloat))
        {
            OnnxTensor y = session.Run(["x"], [OnnxTensor.FromArray(new[] { 3f }, 1)], [])[0];
            Assert.Equal(type, y.ElementType);
            ushort three = type == TensorElementType.BFloat16 ? y.As<ushort>()[0] : BitConverter.HalfToUInt16Bits(y.As<Half>()[0]);
            Assert.Equal(type == TensorElementType.BFloat16 ? 0x4040 : 0x4200, three);
        }
    }

    [Fact]
    public void Strings_round_trip_with_unicode_empty_and_long_values()
    {
        string[] values = ["", "ascii", "ünïcödé", "日本語テキスト", "emoji 😀 and a surrogate pair", new string('x', 100_000), "tab\tand\nnewline"];
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.String, "n"));

        OnnxTensor output = session.Run(["x"], [OnnxTensor.FromStrings(values, values.Length)], [])[0];

        var strings = Assert.IsType<OnnxStringTensor>(output);
        Assert.Equal([(long)values.Length], strings.Shape.ToArray());
        Assert.Equal(values, strings.Values);
    }

    [Fact]
    public void A_null_string_element_is_refused_before_it_reaches_ONNX_Runtime()
    {
        // ONNX Runtime would dereference the null pointer (OnnxSession refuses it first).
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.String, "n"));

        var e = Assert.Throws<ArgumentException>(() => session.Run(["x"], [OnnxTensor.FromStrings(["a", null!], 2)], []));

        Assert.Contains("String 1 of input 'x' is null", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_input_containing_NUL_is_refused_instead_of_being_cut_short()
    {
        // ONNX Runtime keeps strings NUL-terminated: "a\0b" would arrive as "a".
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.String, "n"));

        var e = Assert.Throws<ArgumentException>(() => session.Run(["x"], [OnnxTensor.FromStrings(["ok", "a\0b"], 2)], []));

        Assert.Contains("String 1 of input 'x' contains a NUL character", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void String_outputs_containing_NUL_are_read_whole()
    {
        // Outputs are read with explicit lengths (GetStringTensorContent offsets), so U+0000 survives.
        var value = new Compression.Onnx.Protos.TensorProto { DataType = (int)TensorElementType.String };
        value.Dims.Add(3);
        value.StringData.Add(Google.Protobuf.ByteString.CopyFromUtf8("a\0b"));
        value.StringData.Add(Google.Protobuf.ByteString.CopyFromUtf8(""));
        value.StringData.Add(Google.Protobuf.ByteString.CopyFromUtf8("\0"));
        var constant = TestModels.Node("Constant", [], ["y"]);
        constant.Attribute.Add(new Compression.Onnx.Protos.AttributeProto { Name = "value", Type = Compression.Onnx.Protos.AttributeProto.Types.AttributeType.Tensor, T = value });
        using var session = new OnnxSession(TestModels.Model([constant], [], [TestModels.Value("y", TensorElementType.String, 3L)]));

        OnnxTensor y = session.Run([], [], [])[0];

        Assert.Equal(["a\0b", "", "\0"], ((OnnxStringTensor)y).Values);
    }

    [Fact]
    public void Strings_are_transformed_by_an_operator_in_both_directions()
    {
        // Cast string -> int64 and int64 -> string: ONNX Runtime parses and formats, so the bytes really crossed.
        byte[] toNumber = TestModels.Model([TestModels.Node("Cast", ["x"], ["y"], TestModels.Attribute("to", (long)TensorElementType.Int64))],
            [TestModels.Value("x", TensorElementType.String, 3L)], [TestModels.Value("y", TensorElementType.Int64, 3L)]);
        using (var session = new OnnxSession(toNumber))
        {
            OnnxTensor y = session.Run(["x"], [OnnxTensor.FromStrings(["42", "-7", "9000000000"], 3)], [])[0];
            Assert.Equal([42L, -7L, 9_000_000_000L], y.As<long>().ToArray());
        }

        byte[] toText = TestModels.Model([TestModels.Node("Cast", ["x"], ["y"], TestModels.Attribute("to", (long)TensorElementType.String))],
            [TestModels.Value("x", TensorElementType.Int64, 3L)], [TestModels.Value("y", TensorElementType.String, 3L)]);
        using (var session = new OnnxSession(toText))
        {
            OnnxTensor y = session.Run(["x"], [OnnxTensor.FromArray(new[] { 42L, -7L, long.MinValue }, 3)], [])[0];
            Assert.Equal(["42", "-7", "-9223372036854775808"], ((OnnxStringTensor)y).Values);
        }
    }

    [Theory]
    [InlineData(TensorElementType.Float)]
    [InlineData(TensorElementType.Int64)]
    [InlineData(TensorElementType.Bool)]
    [InlineData(TensorElementType.String)]
    public void Scalars_have_an_empty_shape_and_one_element(TensorElementType type)
    {
        OnnxTensor input = type switch
        {
            TensorElementType.Float => OnnxTensor.FromArray(new[] { 3.5f }),
            TensorElementType.Int64 => OnnxTensor.FromArray(new[] { -42L }),
            TensorElementType.Bool => OnnxTensor.FromArray(new[] { true }),
            _ => OnnxTensor.FromStrings(["scalar"]),
        };
        using var session = new OnnxSession(TestModels.Identity(type));

        Assert.Empty(session.Inputs[0].Dimensions);
        Assert.Equal("[]", session.Inputs[0].ShapeText);
        OnnxTensor output = session.Run(["x"], [input], [])[0];

        Assert.Equal(0, output.Shape.Length);
        Assert.Equal(1, output.ElementCount);
        AssertSameBits(input, output);
    }

    [Fact]
    public void A_scalar_broadcasts_against_a_vector()
    {
        byte[] model = TestModels.Model([TestModels.Node("Mul", ["x", "s"], ["y"])],
            [TestModels.Value("x", TensorElementType.Double, 3L), TestModels.Value("s", TensorElementType.Double)],
            [TestModels.Value("y", TensorElementType.Double, 3L)]);
        using var session = new OnnxSession(model);

        OnnxTensor y = session.Run(["x", "s"], [OnnxTensor.FromArray(new[] { 1.0, -2.0, 0.5 }, 3), OnnxTensor.FromArray(new[] { 4.0 })], [])[0];

        Assert.Equal([4.0, -8.0, 2.0], y.As<double>().ToArray());
    }

    public static TheoryData<TensorElementType, long[]> EmptyShapes() => new()
    {
        { TensorElementType.Float, [0] },
        { TensorElementType.Float, [2, 0, 3] },
        { TensorElementType.Int32, [0, 5] },
        { TensorElementType.Bool, [3, 0] },
        { TensorElementType.String, [0] },
        { TensorElementType.String, [2, 0] },
    };

    [Theory]
    [MemberData(nameof(EmptyShapes))]
    public void Empty_tensors_keep_their_shape_and_have_no_elements(TensorElementType type, long[] shape)
    {
        OnnxTensor input = type switch
        {
            TensorElementType.Float => OnnxTensor.FromArray(Array.Empty<float>(), shape),
            TensorElementType.Int32 => OnnxTensor.FromArray(Array.Empty<int>(), shape),
            TensorElementType.Bool => OnnxTensor.FromArray(Array.Empty<bool>(), shape),
            _ => OnnxTensor.FromStrings([], shape),
        };
        using var session = new OnnxSession(TestModels.Identity(type, shape.Select((_, i) => (object?)$"d{i}").ToArray()));

        OnnxTensor output = session.Run(["x"], [input], [])[0];

        Assert.Equal(type, output.ElementType);
        Assert.Equal(shape, output.Shape.ToArray());
        Assert.Equal(0, output.ElementCount);
    }

    [Fact]
    public void An_empty_tensor_over_default_memory_is_accepted()
    {
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, "n"));

        OnnxTensor output = session.Run(["x"], [OnnxTensor.FromMemory(Memory<float>.Empty, [0])], [])[0];

        Assert.Equal([0L], output.Shape.ToArray());
    }

    [Fact]
    public void An_operator_can_produce_an_empty_output_from_a_non_empty_input()
    {
        // Slice [1:1] of a [4] vector is [0].
        var starts = Int64Initializer("starts", 1);
        var ends = Int64Initializer("ends", 1);
        byte[] model = TestModels.Model([TestModels.Node("Slice", ["x", "starts", "ends"], ["y"])],
            [TestModels.Value("x", TensorElementType.Float, 4L)], [TestModels.Value("y", TensorElementType.Float, [null])], [starts, ends]);
        using var session = new OnnxSession(model);

        OnnxTensor y = session.Run(["x"], [OnnxTensor.FromArray(new[] { 1f, 2f, 3f, 4f }, 4)], [])[0];

        Assert.Equal([0L], y.Shape.ToArray());
        Assert.Empty(y.As<float>().ToArray());
    }

    private static Compression.Onnx.Protos.TensorProto Int64Initializer(string name, long value)
    {
        var tensor = new Compression.Onnx.Protos.TensorProto { Name = name, DataType = (int)TensorElementType.Int64 };
        tensor.Dims.Add(1);
        tensor.Int64Data.Add(value);
        return tensor;
    }

    /// <summary>Six values per type that reach the edges of its range (and NaN payloads, -0, subnormals).</summary>
    private static OnnxTensor Sample(TensorElementType type) => type switch
    {
        TensorElementType.Float => OnnxTensor.FromArray(new[] { 0f, -0f, float.Epsilon, float.MaxValue, float.NegativeInfinity, BitConverter.Int32BitsToSingle(0x7FC12345) }, 2, 3),
        TensorElementType.Double => OnnxTensor.FromArray(new[] { Math.PI, -0.0, double.Epsilon, double.MinValue, double.PositiveInfinity, BitConverter.Int64BitsToDouble(0x7FF8_0000_DEAD_BEEF) }, 2, 3),
        TensorElementType.Float16 => OnnxTensor.FromArray(new[] { (Half)1.5f, Half.NegativeZero, Half.Epsilon, Half.MaxValue, Half.NegativeInfinity, BitConverter.UInt16BitsToHalf(0x7E01) }, 2, 3),
        TensorElementType.BFloat16 => new OnnxTensor<ushort>(new ushort[] { 0x3F80, 0x8000, 0x0001, 0x7F7F, 0xFF80, 0x7FC1 }, [2, 3], TensorElementType.BFloat16),
        TensorElementType.Int8 => OnnxTensor.FromArray(new sbyte[] { 0, 1, -1, sbyte.MinValue, sbyte.MaxValue, 42 }, 2, 3),
        TensorElementType.UInt8 => OnnxTensor.FromArray(new byte[] { 0, 1, 127, 128, byte.MaxValue, 42 }, 2, 3),
        TensorElementType.Int16 => OnnxTensor.FromArray(new short[] { 0, 1, -1, short.MinValue, short.MaxValue, 4242 }, 2, 3),
        TensorElementType.UInt16 => OnnxTensor.FromArray(new ushort[] { 0, 1, 0x7FFF, 0x8000, ushort.MaxValue, 4242 }, 2, 3),
        TensorElementType.Int32 => OnnxTensor.FromArray(new[] { 0, 1, -1, int.MinValue, int.MaxValue, 424242 }, 2, 3),
        TensorElementType.UInt32 => OnnxTensor.FromArray(new[] { 0u, 1u, 0x7FFF_FFFFu, 0x8000_0000u, uint.MaxValue, 424242u }, 2, 3),
        TensorElementType.Int64 => OnnxTensor.FromArray(new[] { 0L, 1L, -1L, long.MinValue, long.MaxValue, 1L << 40 }, 2, 3),
        TensorElementType.UInt64 => OnnxTensor.FromArray(new[] { 0UL, 1UL, 1UL << 63, ulong.MaxValue, (1UL << 63) - 1, 1UL << 40 }, 2, 3),
        TensorElementType.Bool => OnnxTensor.FromArray(new[] { true, false, false, true, true, false }, 2, 3),
        TensorElementType.String => OnnxTensor.FromStrings(["", "a", "ünïcödé", "日本", "😀", "last"], 2, 3),
        _ => throw new NotSupportedException(type.ToString()),
    };

    private static Type ClrTypeOf(TensorElementType type) => type switch
    {
        TensorElementType.Float => typeof(OnnxTensor<float>),
        TensorElementType.Double => typeof(OnnxTensor<double>),
        TensorElementType.Float16 => typeof(OnnxTensor<Half>),
        TensorElementType.BFloat16 or TensorElementType.UInt16 => typeof(OnnxTensor<ushort>),
        TensorElementType.Int8 => typeof(OnnxTensor<sbyte>),
        TensorElementType.UInt8 => typeof(OnnxTensor<byte>),
        TensorElementType.Int16 => typeof(OnnxTensor<short>),
        TensorElementType.Int32 => typeof(OnnxTensor<int>),
        TensorElementType.UInt32 => typeof(OnnxTensor<uint>),
        TensorElementType.Int64 => typeof(OnnxTensor<long>),
        TensorElementType.UInt64 => typeof(OnnxTensor<ulong>),
        TensorElementType.Bool => typeof(OnnxTensor<bool>),
        _ => typeof(OnnxStringTensor),
    };

    internal static void AssertSameBits(OnnxTensor expected, OnnxTensor actual)
    {
        Assert.Equal(expected.ElementType, actual.ElementType);
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        if (expected is OnnxStringTensor strings)
        {
            Assert.Equal(strings.Values, ((OnnxStringTensor)actual).Values);
            return;
        }

        Assert.Equal(Bytes(expected), Bytes(actual));
    }

    private static byte[] Bytes(OnnxTensor tensor) => tensor switch
    {
        OnnxTensor<float> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<double> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<Half> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<sbyte> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<byte> t => t.Span.ToArray(),
        OnnxTensor<short> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<ushort> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<int> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<uint> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<long> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<ulong> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        OnnxTensor<bool> t => MemoryMarshal.AsBytes(t.Span).ToArray(),
        _ => throw new NotSupportedException(tensor.GetType().Name),
    };
}
