using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx.Tests;

/// <summary>Typed views over the inputs and expected outputs of the ONNX node tests.</summary>
public sealed class TestSuiteTensorTests
{
    private static readonly string NodeSuite = Path.Combine(OnnxTestData.Root, "node");

    /// <summary>
    /// Files whose model declares BFLOAT16 but which store UINT16: the ONNX 1.12 test generator wrote bfloat16 values
    /// as their 16 bits in a UINT16 tensor (found with onnx.load_tensor and the models' graph types).
    /// </summary>
    private static readonly string[] BFloat16StoredAsUInt16 =
    [
        "test_cast_BFLOAT16_to_FLOAT/test_data_set_0/input_0.pb",
        "test_cast_FLOAT_to_BFLOAT16/test_data_set_0/output_0.pb",
        "test_castlike_BFLOAT16_to_FLOAT/test_data_set_0/input_0.pb",
        "test_castlike_BFLOAT16_to_FLOAT_expanded/test_data_set_0/input_0.pb",
        "test_castlike_FLOAT_to_BFLOAT16/test_data_set_0/input_1.pb",
        "test_castlike_FLOAT_to_BFLOAT16/test_data_set_0/output_0.pb",
        "test_castlike_FLOAT_to_BFLOAT16_expanded/test_data_set_0/input_1.pb",
        "test_castlike_FLOAT_to_BFLOAT16_expanded/test_data_set_0/output_0.pb",
    ];

    [Fact]
    public void Every_numeric_node_test_tensor_reads_with_as_many_elements_as_its_dims_call_for()
    {
        var failures = new List<string>();
        var readPerType = new Dictionary<DataType, int>();
        foreach (var dataFile in OnnxTestData.DataFiles("node"))
        {
            if (dataFile.Type.ValueCase != TypeProto.ValueOneofCase.TensorType)
            {
                continue;
            }

            var tensor = OnnxDataFile.LoadTensor(dataFile.Path);
            var dataType = (DataType)tensor.DataType;
            var clrType = TensorDataTypes.ToClrType(dataType);
            if (clrType is null || clrType == typeof(string))
            {
                continue;
            }

            try
            {
                long elementCount = TensorShape.ElementCount(tensor.Dims);
                int read = ReadTyped(tensor, dataType);
                if (read != elementCount)
                {
                    failures.Add($"{dataFile.Path}: read {read} elements, dims {TensorShape.Format(tensor.Dims)} call for {elementCount}");
                }

                readPerType[dataType] = readPerType.GetValueOrDefault(dataType) + 1;
            }
            catch (OnnxFormatException ex)
            {
                failures.Add($"{dataFile.Path}: {ex.Message}");
            }
        }

        Assert.True(failures.Count == 0, string.Join('\n', failures));

        // Counts of files per element type, from the same walk in Python (onnx.load_tensor over the node suite).
        Assert.Equal(1966, readPerType[DataType.Float]);
        Assert.Equal(74, readPerType[DataType.Double]);
        Assert.Equal(25, readPerType[DataType.Float16]);
        Assert.Equal(122, readPerType[DataType.Bool]);
        Assert.Equal(17, readPerType[DataType.Int8]);
        Assert.Equal(80, readPerType[DataType.Uint8]);
        Assert.Equal(9, readPerType[DataType.Int16]);
        Assert.Equal(23, readPerType[DataType.Uint16]);
        Assert.Equal(80, readPerType[DataType.Int32]);
        Assert.Equal(16, readPerType[DataType.Uint32]);
        Assert.Equal(388, readPerType[DataType.Int64]);
        Assert.Equal(16, readPerType[DataType.Uint64]);
    }

    [Fact]
    public void Tensor_files_hold_the_element_type_their_model_declares_except_the_bfloat16_ones()
    {
        var mismatches = new List<string>();
        foreach (var dataFile in OnnxTestData.DataFiles("node"))
        {
            if (dataFile.Type.ValueCase == TypeProto.ValueOneofCase.TensorType)
            {
                var tensor = OnnxDataFile.LoadTensor(dataFile.Path);
                if (tensor.DataType != dataFile.Type.TensorType.ElemType)
                {
                    mismatches.Add(Path.GetRelativePath(NodeSuite, dataFile.Path));
                }
            }
        }

        Assert.Equal(BFloat16StoredAsUInt16, mismatches);
        foreach (string file in BFloat16StoredAsUInt16)
        {
            Assert.Equal((int)DataType.Uint16, OnnxDataFile.LoadTensor(Path.Combine(NodeSuite, file)).DataType);
        }
    }

    // Expected values printed once with Python: numpy_helper.to_array(onnx.load_tensor(path)).flatten()[:4],
    // with the element type and dims from the same TensorProto.
    [Theory]
    [InlineData("test_abs/test_data_set_0/input_0.pb", DataType.Float, new long[] { 3, 4, 5 }, new[] { 1.764052391052246, 0.40015721321105957, 0.978738009929657, 2.2408931255340576 })]
    [InlineData("test_cast_FLOAT_to_DOUBLE/test_data_set_0/output_0.pb", DataType.Double, new long[] { 3, 4 }, new[] { 0.5680445432662964, 0.9255966544151306, 0.07103605568408966, 0.08712930232286453 })]
    [InlineData("test_cast_FLOAT_to_FLOAT16/test_data_set_0/output_0.pb", DataType.Float16, new long[] { 3, 4 }, new[] { 0.548828125, 0.71533203125, 0.6025390625, 0.544921875 })]
    [InlineData("test_and2d/test_data_set_0/input_0.pb", DataType.Bool, new long[] { 3, 4 }, new[] { 1.0, 1, 1, 1, 1, 0, 1, 0 })]
    [InlineData("test_argmax_default_axis_example/test_data_set_0/output_0.pb", DataType.Int64, new long[] { 1, 2 }, new[] { 1.0, 1 })]
    [InlineData("test_clip_default_int8_inbounds/test_data_set_0/input_0.pb", DataType.Int8, new long[] { 3 }, new[] { -1.0, 0, 1 })]
    [InlineData("test_dequantizelinear/test_data_set_0/input_0.pb", DataType.Uint8, new long[] { 4 }, new[] { 0.0, 3, 128, 255 })]
    [InlineData("test_max_int16/test_data_set_0/input_0.pb", DataType.Int16, new long[] { 3 }, new[] { 3.0, 2, 1 })]
    [InlineData("test_max_uint16/test_data_set_0/input_0.pb", DataType.Uint16, new long[] { 3 }, new[] { 3.0, 2, 1 })]
    [InlineData("test_max_int32/test_data_set_0/input_0.pb", DataType.Int32, new long[] { 3 }, new[] { 3.0, 2, 1 })]
    [InlineData("test_max_uint32/test_data_set_0/input_0.pb", DataType.Uint32, new long[] { 3 }, new[] { 3.0, 2, 1 })]
    [InlineData("test_max_uint64/test_data_set_0/input_0.pb", DataType.Uint64, new long[] { 3 }, new[] { 3.0, 2, 1 })]
    [InlineData("test_cast_FLOAT_to_BFLOAT16/test_data_set_0/output_0.pb", DataType.Uint16, new long[] { 3, 4 }, new[] { 16117.0, 16117, 16127, 16209 })]
    public void Known_node_test_tensors_read_as_python_reads_them(string file, DataType dataType, long[] dims, double[] expectedFirst)
    {
        var tensor = OnnxDataFile.LoadTensor(Path.Combine(NodeSuite, file));

        Assert.Equal((int)dataType, tensor.DataType);
        Assert.Equal(dims, tensor.Dims);
        var values = AsDoubles(tensor.ToArray());
        Assert.Equal(TensorShape.ElementCount(dims), values.Length);
        Assert.Equal(expectedFirst, values[..expectedFirst.Length]);
    }

    [Fact]
    public void Known_string_tensor_reads_as_python_reads_it()
    {
        // numpy_helper.to_array(onnx.load_tensor(path)).flatten()[:4] in Python.
        var tensor = OnnxDataFile.LoadTensor(Path.Combine(NodeSuite, "test_cast_FLOAT_to_STRING/test_data_set_0/output_0.pb"));

        string[] strings = tensor.ToStrings();

        Assert.Equal(12, strings.Length);
        Assert.Equal(["0.9767611", "0.6048455", "0.7392636", "0.039187793"], strings[..4]);
    }

    [Fact]
    public void Float_tensors_read_in_place_from_raw_data()
    {
        var tensor = OnnxDataFile.LoadTensor(Path.Combine(NodeSuite, "test_abs/test_data_set_0/input_0.pb"));

        var view = tensor.View<float>();

        Assert.True(view.IsZeroCopy);
        Assert.Equal(60, view.ElementCount);
        Assert.Equal([3L, 4, 5], view.Dims.ToArray());
        Assert.Equal(1.764052391052246f, view[0]);
        Assert.Equal(tensor.ToArray<float>(), view.ToArray());
    }

    [Fact]
    public void Bfloat16_bits_of_the_cast_test_widen_to_its_expected_floats_exactly()
    {
        string folder = Path.Combine(NodeSuite, "test_cast_BFLOAT16_to_FLOAT/test_data_set_0");
        ushort[] bits = OnnxDataFile.LoadTensor(Path.Combine(folder, "input_0.pb")).ToArray<ushort>();
        float[] expected = OnnxDataFile.LoadTensor(Path.Combine(folder, "output_0.pb")).ToArray<float>();

        Assert.Equal(expected.Length, bits.Length);
        for (int i = 0; i < bits.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected[i]), BitConverter.SingleToUInt32Bits(BFloat16.FromBits(bits[i])));
        }
    }

    [Fact]
    public void Bfloat16_rounds_the_cast_test_inputs_to_nearest_even_where_the_suite_truncated()
    {
        string folder = Path.Combine(NodeSuite, "test_cast_FLOAT_to_BFLOAT16/test_data_set_0");
        float[] inputs = OnnxDataFile.LoadTensor(Path.Combine(folder, "input_0.pb")).ToArray<float>();
        ushort[] suiteOutput = OnnxDataFile.LoadTensor(Path.Combine(folder, "output_0.pb")).ToArray<ushort>();

        // With numpy: b = inputs.view(uint32); ((b + 0x7FFF + ((b >> 16) & 1)) >> 16). The suite's own output is
        // b >> 16 (truncation; ONNX 1.12's reference Cast), which differs at indexes 1, 2, 3, 4 and 6.
        ushort[] nearestEven = [16117, 16118, 16128, 16210, 16113, 16209, 15960, 16185, 32704, 32640, 32640, 65408];
        var ours = new ushort[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            ours[i] = BFloat16.FromSingle(inputs[i]).Bits;
            Assert.Equal((ushort)(BitConverter.SingleToUInt32Bits(inputs[i]) >> 16), suiteOutput[i]);
        }

        Assert.Equal(nearestEven, ours);
    }

    [Fact]
    public void Half_conversion_of_the_cast_test_inputs_matches_its_expected_float16_outputs()
    {
        string folder = Path.Combine(NodeSuite, "test_cast_FLOAT_to_FLOAT16/test_data_set_0");
        float[] inputs = OnnxDataFile.LoadTensor(Path.Combine(folder, "input_0.pb")).ToArray<float>();
        Half[] expected = OnnxDataFile.LoadTensor(Path.Combine(folder, "output_0.pb")).ToArray<Half>();

        Assert.Equal(expected.Length, inputs.Length);
        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(expected[i], (Half)inputs[i]);
        }
    }

    private static int ReadTyped(TensorProto tensor, DataType dataType) => dataType switch
    {
        DataType.Float => CheckedLength(tensor.View<float>(), tensor.ToArray<float>()),
        DataType.Double => CheckedLength(tensor.View<double>(), tensor.ToArray<double>()),
        DataType.Float16 => CheckedLength(tensor.View<Half>(), tensor.ToArray<Half>()),
        DataType.Bfloat16 => CheckedLength(tensor.View<BFloat16>(), tensor.ToArray<BFloat16>()),
        DataType.Int8 => CheckedLength(tensor.View<sbyte>(), tensor.ToArray<sbyte>()),
        DataType.Uint8 => CheckedLength(tensor.View<byte>(), tensor.ToArray<byte>()),
        DataType.Int16 => CheckedLength(tensor.View<short>(), tensor.ToArray<short>()),
        DataType.Uint16 => CheckedLength(tensor.View<ushort>(), tensor.ToArray<ushort>()),
        DataType.Int32 => CheckedLength(tensor.View<int>(), tensor.ToArray<int>()),
        DataType.Uint32 => CheckedLength(tensor.View<uint>(), tensor.ToArray<uint>()),
        DataType.Int64 => CheckedLength(tensor.View<long>(), tensor.ToArray<long>()),
        DataType.Uint64 => CheckedLength(tensor.View<ulong>(), tensor.ToArray<ulong>()),
        DataType.Bool => CheckedLength(tensor.View<bool>(), tensor.ToArray<bool>()),
        _ => throw new InvalidOperationException($"unexpected {dataType}"),
    };

    /// <summary>The view and the array agree element by element; returns their length.</summary>
    private static int CheckedLength<T>(TensorView<T> view, T[] array)
        where T : unmanaged, IEquatable<T>
    {
        Assert.Equal(view.ElementCount, view.Span.Length);
        Assert.True(view.Span.SequenceEqual(array), $"{view.Name}: view and array differ");
        return array.Length;
    }

    private static double[] AsDoubles(Array values)
    {
        var doubles = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            doubles[i] = values.GetValue(i) switch
            {
                Half half => (double)half,
                BFloat16 bfloat => bfloat,
                bool flag => flag ? 1 : 0,
                var number => Convert.ToDouble(number, System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        return doubles;
    }
}
