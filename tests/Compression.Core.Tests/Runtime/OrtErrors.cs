using Microsoft.ML.OnnxRuntime;

namespace Compression.Core.Tests.Runtime;

/// <summary>ONNX Runtime's managed exceptions carry their code only in the message: <c>[ErrorCode:InvalidArgument] ...</c>.</summary>
internal static class OrtErrors
{
    /// <summary>The code's name at the start of the message (<c>InvalidArgument</c>), or <c>Fail</c> when there is none.</summary>
    public static string Code(this OnnxRuntimeException e)
    {
        const string Prefix = "[ErrorCode:";
        int end = e.Message.IndexOf(']', StringComparison.Ordinal);
        return e.Message.StartsWith(Prefix, StringComparison.Ordinal) && end > Prefix.Length
            ? e.Message[Prefix.Length..end]
            : "Fail";
    }
}
