namespace Compression.Onnx;

/// <summary>
/// Thrown when an ONNX model, tensor or data file cannot be read or written as the ONNX format requires:
/// the bytes are not an ONNX protobuf message, external data cannot be found, a tensor's data does not
/// match its declared type and shape, or the model is too large to serialize.
/// </summary>
/// <remarks>
/// The message says what was expected and what to do about it. <see cref="FilePath"/> names the file
/// involved when there is one.
/// </remarks>
public class OnnxFormatException : Exception
{
    /// <summary>Creates the exception with a generic message.</summary>
    public OnnxFormatException()
        : base("The data is not valid ONNX.")
    {
    }

    /// <summary>Creates the exception with a message that says what is wrong and what to do.</summary>
    /// <param name="message">What was expected, what was found, and what to do.</param>
    public OnnxFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">What was expected, what was found, and what to do.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public OnnxFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for a file.</summary>
    /// <param name="message">What was expected, what was found, and what to do; it should name the file.</param>
    /// <param name="filePath">The file involved, or <see langword="null"/> when the data came from memory.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public OnnxFormatException(string message, string? filePath, Exception? innerException = null)
        : base(message, innerException)
    {
        FilePath = filePath;
    }

    /// <summary>
    /// The file involved (the model, or the external data file it refers to), or <see langword="null"/>
    /// when the data did not come from a file.
    /// </summary>
    public string? FilePath { get; }
}
