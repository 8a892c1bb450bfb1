using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx;

/// <summary>The exceptions for a tensor whose data cannot be read as asked, with messages that name the tensor.</summary>
internal static class TensorDataError
{
    public static string Describe(TensorProto tensor)
    {
        string name = tensor.HasName && tensor.Name.Length > 0 ? $"Tensor '{tensor.Name}'" : "An unnamed tensor";
        return $"{name} ({TensorDataTypes.Describe((DataType)tensor.DataType)}, shape {TensorShape.Format(tensor.Dims)})";
    }

    public static OnnxFormatException WrongElementType(TensorProto tensor, DataType requested, string requestedClrType)
    {
        var actual = (DataType)tensor.DataType;
        Type? actualClrType = TensorDataTypes.ToClrType(actual);
        string advice = actualClrType is null
            ? "This library has no .NET element type for it."
            : actualClrType == typeof(string)
                ? "Read it with ToStrings."
                : $"Read it as {actualClrType.Name}.";
        return new OnnxFormatException(
            $"{Describe(tensor)} holds {TensorDataTypes.Describe(actual)} elements, so it cannot be read as {requestedClrType} " +
            $"({TensorDataTypes.Describe(requested)}). {advice}");
    }

    public static OnnxFormatException StillExternal(TensorProto tensor)
    {
        string location = "an external file";
        foreach (var entry in tensor.ExternalData)
        {
            if (entry.Key == ExternalDataReference.LocationKey)
            {
                location = $"the external file '{entry.Value}'";
            }
        }

        return new OnnxFormatException(
            $"{Describe(tensor)} keeps its data in {location}, which has not been loaded. Load the model with " +
            "OnnxModelFile.Load(path, loadExternalData: true), or call OnnxModelFile.LoadExternalData, before reading its values.");
    }

    public static OnnxFormatException Segmented(TensorProto tensor) => new(
        $"{Describe(tensor)} holds only the segment [{tensor.Segment.Begin}, {tensor.Segment.End}) of its data. " +
        "Segmented tensors are not supported; join the segments into one tensor first.");

    public static OnnxFormatException BadShape(TensorProto tensor, ArgumentException problem) => new(
        $"{Describe(tensor)} has an invalid shape: {problem.Message}", problem);

    public static OnnxFormatException WrongRawLength(TensorProto tensor, long elementCount, int elementSize) => new(
        $"{Describe(tensor)} should hold {elementCount} elements of {elementSize} bytes ({elementCount * (decimal)elementSize} bytes) in raw_data, " +
        $"but raw_data has {tensor.RawData.Length} bytes. The tensor is corrupt or its dims do not match its data; export the model again.");

    public static OnnxFormatException WrongFieldCount(TensorProto tensor, string field, int found, long elementCount) => new(
        $"{Describe(tensor)} should hold {elementCount} elements in {field} (it has no raw_data), but {DescribeStorage(tensor, field, found)}. " +
        "The tensor is corrupt or its dims do not match its data; export the model again.");

    public static OnnxFormatException ValueOutOfRange(TensorProto tensor, string field, int index, object value) => new(
        $"{Describe(tensor)} stores {value} as element {index} in {field}, which does not fit its element type. The tensor is corrupt; export the model again.");

    private static string DescribeStorage(TensorProto tensor, string expectedField, int found)
    {
        var others = new List<string>();
        AddIfAny(others, "float_data", tensor.FloatData.Count, expectedField);
        AddIfAny(others, "int32_data", tensor.Int32Data.Count, expectedField);
        AddIfAny(others, "int64_data", tensor.Int64Data.Count, expectedField);
        AddIfAny(others, "double_data", tensor.DoubleData.Count, expectedField);
        AddIfAny(others, "uint64_data", tensor.Uint64Data.Count, expectedField);
        AddIfAny(others, "string_data", tensor.StringData.Count, expectedField);
        string text = $"{expectedField} has {found}";
        return others.Count == 0 ? text : $"{text} (and {string.Join(", ", others)}, the wrong field for this element type)";
    }

    private static void AddIfAny(List<string> list, string field, int count, string expectedField)
    {
        if (count > 0 && field != expectedField)
        {
            list.Add($"{field} has {count}");
        }
    }
}
