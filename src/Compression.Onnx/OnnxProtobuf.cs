using Google.Protobuf;

namespace Compression.Onnx;

/// <summary>
/// Parses ONNX protobuf messages with limits suited to ONNX: deep nesting for subgraphs inside
/// subgraphs, and no size limit below protobuf's own 2 GiB.
/// </summary>
internal static class OnnxProtobuf
{
    /// <summary>
    /// Nesting depth allowed while parsing. A subgraph costs three levels (graph, node, attribute), so
    /// protobuf's default of 100 would reject models with a few dozen nested control-flow operators.
    /// </summary>
    public const int RecursionLimit = 1000;

    /// <summary>The largest message protobuf can represent: lengths are 32-bit signed integers.</summary>
    public const long MaxMessageBytes = int.MaxValue;

    /// <summary>Reads one whole message from a stream, to its end.</summary>
    /// <param name="stream">The bytes of the message; read to the end and left open.</param>
    /// <param name="what">What the bytes should be, for messages, e.g. "an ONNX model".</param>
    /// <param name="filePath">The file the bytes came from, or null.</param>
    public static T Parse<T>(Stream stream, string what, string? filePath)
        where T : IMessage<T>, new() => Parse(stream, new MessageParser<T>(() => new T()), what, filePath);

    /// <summary>Reads one whole message from a stream with the given parser (one that discards unknown fields skips them).</summary>
    /// <param name="stream">The bytes of the message; read to the end and left open.</param>
    /// <param name="parser">The message's parser.</param>
    /// <param name="what">What the bytes should be, for messages, e.g. "an ONNX model".</param>
    /// <param name="filePath">The file the bytes came from, or null.</param>
    public static T Parse<T>(Stream stream, MessageParser<T> parser, string what, string? filePath)
        where T : IMessage<T>
    {
        T message;
        try
        {
            // Not disposed: disposing it would close the caller's stream.
            var input = CodedInputStream.CreateWithLimits(stream, int.MaxValue, RecursionLimit);
            message = parser.ParseFrom(input);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new OnnxFormatException(NotParsableMessage(what, filePath, ex.Message), filePath, ex);
        }
        catch (Exception ex) when (ex is ArgumentException or OverflowException or IndexOutOfRangeException or OutOfMemoryException or InvalidOperationException)
        {
            // A corrupt length field (up to 2^31 - 1) can make protobuf's reader fail other than with its own exception:
            // on a count that overflows, or on an allocation of the size the field claims.
            throw new OnnxFormatException(NotParsableMessage(what, filePath, $"{ex.GetType().Name}: {ex.Message}"), filePath, ex);
        }

        return message;
    }

    /// <summary>Reads one whole message from bytes.</summary>
    public static T Parse<T>(byte[] bytes, string what, string? filePath)
        where T : IMessage<T>, new()
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return Parse<T>(stream, what, filePath);
    }

    /// <summary>Reads one whole message from a file.</summary>
    public static T ParseFile<T>(string fullPath, string what)
        where T : IMessage<T>, new()
    {
        using var stream = OpenForReading(fullPath, what);
        return Parse<T>(stream, what, fullPath);
    }

    /// <summary>Opens a file for one sequential read, with a message that names the file when it is missing.</summary>
    public static FileStream OpenForReading(string fullPath, string what)
    {
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException(
                $"Cannot read {what} from '{fullPath}': the file does not exist. Check the path.", fullPath);
        }

        return new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
    }

    private static string NotParsableMessage(string what, string? filePath, string detail)
    {
        string source = filePath is null ? "The data" : $"The file '{filePath}'";
        return $"{source} is not {what}: its protobuf encoding is truncated or corrupt ({detail}). " +
               "Check that it is a complete, uncorrupted ONNX file (copy or download it again, or export it again).";
    }
}
