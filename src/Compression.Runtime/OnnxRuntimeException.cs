namespace Compression.Runtime;

/// <summary>The error codes of ONNX Runtime's C API (<c>OrtErrorCode</c>).</summary>
public enum OnnxRuntimeErrorCode
{
    /// <summary>No error.</summary>
    Ok = 0,
    /// <summary>A general failure.</summary>
    Fail = 1,
    /// <summary>An argument was invalid: a wrong input name, type or shape, for example.</summary>
    InvalidArgument = 2,
    /// <summary>A file was not found.</summary>
    NoSuchFile = 3,
    /// <summary>No model was loaded.</summary>
    NoModel = 4,
    /// <summary>The execution engine failed.</summary>
    EngineError = 5,
    /// <summary>An operator failed while running.</summary>
    RuntimeException = 6,
    /// <summary>The model is not a valid ONNX protobuf.</summary>
    InvalidProtobuf = 7,
    /// <summary>The model was already loaded.</summary>
    ModelLoaded = 8,
    /// <summary>An operator or type is not implemented by this ONNX Runtime build.</summary>
    NotImplemented = 9,
    /// <summary>The model's graph is invalid.</summary>
    InvalidGraph = 10,
    /// <summary>An execution provider failed.</summary>
    ExecutionProviderFail = 11,
}

/// <summary>An error reported by ONNX Runtime, with its code and ONNX Runtime's own message.</summary>
public class OnnxRuntimeException : Exception
{
    /// <summary>Creates the exception for an ONNX Runtime error.</summary>
    public OnnxRuntimeException(OnnxRuntimeErrorCode errorCode, string message)
        : base($"ONNX Runtime: {message}")
    {
        ErrorCode = errorCode;
        NativeMessage = message;
    }

    /// <summary>Creates the exception with a message of this library's own.</summary>
    public OnnxRuntimeException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorCode = OnnxRuntimeErrorCode.Fail;
        NativeMessage = message;
    }

    /// <summary>The code ONNX Runtime returned.</summary>
    public OnnxRuntimeErrorCode ErrorCode { get; }

    /// <summary>The message exactly as ONNX Runtime wrote it.</summary>
    public string NativeMessage { get; }
}

/// <summary>
/// ONNX Runtime's native library could not be found or loaded (code <see cref="Code"/>).
/// The message lists every place that was tried and how to provide the library.
/// </summary>
public sealed class OnnxRuntimeNotFoundException : OnnxRuntimeException
{
    /// <summary>The diagnostic code of this error.</summary>
    public const string Code = "OCB0100";

    /// <summary>Creates the exception with the places tried.</summary>
    public OnnxRuntimeNotFoundException(string message, IReadOnlyList<string> attempts)
        : base(message)
    {
        Attempts = attempts;
    }

    /// <summary>Each place that was tried, with why it did not serve.</summary>
    public IReadOnlyList<string> Attempts { get; }
}
