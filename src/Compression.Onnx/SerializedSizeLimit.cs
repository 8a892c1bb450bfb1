using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Onnx;

/// <summary>
/// Checks that a message fits protobuf's 2 GiB limit before it is written. Protobuf computes sizes as
/// 32-bit integers, which silently wrap past the limit, so the tensors (where nearly all of a model's bytes
/// are) are first summed as 64-bit integers.
/// </summary>
internal static class SerializedSizeLimit
{
    private const double BytesPerGiB = 1024.0 * 1024.0 * 1024.0;

    /// <summary>The serialized size of the model in bytes.</summary>
    /// <exception cref="OnnxFormatException">The model is 2 GiB or more.</exception>
    public static int Measure(ModelProto model, string? destinationPath)
    {
        long tensorBytes = 0;
        foreach (var tensor in ModelTensors.Enumerate(model))
        {
            int size = tensor.CalculateSize();
            tensorBytes += size < 0 ? OnnxProtobuf.MaxMessageBytes + 1 : size;
            if (tensorBytes > OnnxProtobuf.MaxMessageBytes)
            {
                throw TooLarge("The ONNX model", tensorBytes, destinationPath);
            }
        }

        int total = model.CalculateSize();
        if (total < 0)
        {
            throw TooLarge("The ONNX model", OnnxProtobuf.MaxMessageBytes + 1, destinationPath);
        }

        return total;
    }

    /// <summary>The serialized size of any message in bytes.</summary>
    /// <exception cref="OnnxFormatException">The message is 2 GiB or more.</exception>
    public static int Measure(IMessage message, string what, string? destinationPath)
    {
        if (message is ModelProto model)
        {
            return Measure(model, destinationPath);
        }

        int total = message.CalculateSize();
        if (total < 0)
        {
            throw TooLarge(what, OnnxProtobuf.MaxMessageBytes + 1, destinationPath);
        }

        return total;
    }

    private static OnnxFormatException TooLarge(string what, long atLeastBytes, string? destinationPath)
    {
        string destination = destinationPath is null ? string.Empty : $" for '{destinationPath}'";
        return new OnnxFormatException(
            $"{what}{destination} would be at least {atLeastBytes / BytesPerGiB:0.00} GiB when serialized, over protobuf's 2 GiB limit " +
            "for a single message, so it cannot be written as one file. Keep its large tensors in external data files " +
            "(data_location = EXTERNAL) or make the model smaller.",
            destinationPath);
    }
}
