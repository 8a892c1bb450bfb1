using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Onnx;

/// <summary>
/// Reads and writes files that hold one ONNX value: a <see cref="TensorProto"/>, or a <see cref="SequenceProto"/>,
/// <see cref="MapProto"/> or <see cref="OptionalProto"/>, as the ONNX test suites store inputs and expected outputs
/// (<c>test_data_set_N/input_K.pb</c>).
/// </summary>
public static class OnnxDataFile
{
    /// <summary>Reads a file that holds one serialized tensor.</summary>
    /// <param name="path">The <c>.pb</c> file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxFormatException">The file is not a serialized tensor.</exception>
    public static TensorProto LoadTensor(string path) => Load<TensorProto>(path);

    /// <summary>Reads a file that holds one serialized ONNX message of type <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The message type, e.g. <see cref="TensorProto"/> or <see cref="SequenceProto"/>.</typeparam>
    /// <param name="path">The file.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxFormatException">The file is not a serialized message.</exception>
    public static T Load<T>(string path)
        where T : IMessage<T>, new()
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return OnnxProtobuf.ParseFile<T>(Path.GetFullPath(path), Describe<T>());
    }

    /// <summary>Reads one serialized ONNX message of type <typeparamref name="T"/> from bytes.</summary>
    /// <typeparam name="T">The message type, e.g. <see cref="TensorProto"/>.</typeparam>
    /// <param name="bytes">The serialized message.</param>
    /// <exception cref="OnnxFormatException">The bytes are not a serialized message.</exception>
    public static T Parse<T>(byte[] bytes)
        where T : IMessage<T>, new()
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return OnnxProtobuf.Parse<T>(bytes, Describe<T>(), filePath: null);
    }

    /// <summary>The serialized bytes of a message.</summary>
    /// <param name="value">The message, e.g. a <see cref="TensorProto"/>.</param>
    /// <exception cref="OnnxFormatException">The message would be 2 GiB or more, protobuf's limit.</exception>
    public static byte[] ToBytes(IMessage value)
    {
        ArgumentNullException.ThrowIfNull(value);
        SerializedSizeLimit.Measure(value, $"The ONNX {value.Descriptor.Name}", destinationPath: null);
        return value.ToByteArray();
    }

    /// <summary>
    /// Writes a message to a file atomically: the bytes go to a temporary file in the same folder, which then replaces
    /// <paramref name="path"/>. On failure the destination is unchanged and the temporary file is removed.
    /// </summary>
    /// <param name="value">The message, e.g. a <see cref="TensorProto"/>.</param>
    /// <param name="path">The destination file; an existing file is replaced.</param>
    /// <exception cref="OnnxFormatException">The message would be 2 GiB or more, protobuf's limit.</exception>
    /// <exception cref="DirectoryNotFoundException">The destination's folder does not exist.</exception>
    public static void Save(IMessage value, string path)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        string what = Describe(value.Descriptor.Name);
        SerializedSizeLimit.Measure(value, $"The ONNX {value.Descriptor.Name}", fullPath);
        AtomicFile.Write(fullPath, what, value.WriteTo);
    }

    private static string Describe<T>()
        where T : IMessage<T>, new() => Describe(new T().Descriptor.Name);

    private static string Describe(string messageName) => $"a serialized ONNX {messageName}";
}
