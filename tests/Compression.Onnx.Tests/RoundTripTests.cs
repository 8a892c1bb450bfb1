using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Onnx.Tests;

/// <summary>
/// Every file of the ONNX backend test suite, read and written again, gives back the same bytes: nothing the
/// schema does not know is lost, and fields come out in the order ONNX writes them.
/// </summary>
public sealed class RoundTripTests
{
    public static TheoryData<string> Suites => new(OnnxTestData.Suites);

    [Theory]
    [MemberData(nameof(Suites))]
    public void Every_model_is_written_back_byte_for_byte(string suite)
    {
        var models = OnnxTestData.ModelFiles(suite);
        Assert.True(models.Length >= 20, $"{suite} has only {models.Length} models; is libonnx-testdata installed completely?");
        var failures = new List<string>();
        foreach (string path in models)
        {
            byte[] original = File.ReadAllBytes(path);
            byte[] written = OnnxModelFile.ToBytes(OnnxModelFile.Load(path));
            if (!original.AsSpan().SequenceEqual(written))
            {
                failures.Add($"{path}: {Difference(original, written)}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {models.Length} models changed on a round trip:\n{string.Join('\n', failures)}");
    }

    [Theory]
    [MemberData(nameof(Suites))]
    public void Every_input_and_output_is_written_back_byte_for_byte(string suite)
    {
        var dataFiles = OnnxTestData.DataFiles(suite);
        Assert.True(dataFiles.Count >= 40, $"{suite} has only {dataFiles.Count} data files; is libonnx-testdata installed completely?");
        var failures = new List<string>();
        foreach (var dataFile in dataFiles)
        {
            byte[] original = File.ReadAllBytes(dataFile.Path);
            IMessage value = dataFile.Type.ValueCase switch
            {
                TypeProto.ValueOneofCase.TensorType => OnnxDataFile.Parse<TensorProto>(original),
                TypeProto.ValueOneofCase.SequenceType => OnnxDataFile.Parse<SequenceProto>(original),
                TypeProto.ValueOneofCase.OptionalType => OnnxDataFile.Parse<OptionalProto>(original),
                TypeProto.ValueOneofCase.MapType => OnnxDataFile.Parse<MapProto>(original),
                var other => throw new InvalidOperationException($"{dataFile.Path}: no message type for {other}"),
            };
            byte[] written = OnnxDataFile.ToBytes(value);
            if (!original.AsSpan().SequenceEqual(written))
            {
                failures.Add($"{dataFile.Path} ({value.Descriptor.Name}): {Difference(original, written)}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {dataFiles.Count} files changed on a round trip:\n{string.Join('\n', failures)}");
    }

    private static string Difference(byte[] original, byte[] written)
    {
        int first = original.AsSpan().CommonPrefixLength(written);
        return $"{original.Length} bytes read, {written.Length} written, first difference at byte {first}";
    }
}
