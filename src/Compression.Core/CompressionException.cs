namespace Compression.Core;

/// <summary>
/// A failure a user can cause and fix: it carries a diagnostic code (<see cref="DiagnosticCodes"/>), the model it
/// concerns, and a message that says what was expected and what to do.
/// </summary>
public sealed class CompressionException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CompressionException(string code, string? modelPath, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        ModelPath = modelPath;
    }

    /// <summary>The diagnostic code, such as <c>OCB0002</c>.</summary>
    public string Code { get; }

    /// <summary>The model file the error concerns, when there is one.</summary>
    public string? ModelPath { get; }
}

/// <summary>A warning raised while compressing a model; the model is still written.</summary>
/// <param name="Code">The diagnostic code, such as <c>OCB0201</c>.</param>
/// <param name="Message">What happened and what to do about it.</param>
public sealed record CompressionWarning(string Code, string Message);
