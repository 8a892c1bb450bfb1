using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Compression.Build.Generator;

/// <summary>
/// A place in a signature file, kept as plain values so that pipeline results compare by value
/// (a <see cref="Location"/> is made from it only when the diagnostic is reported).
/// </summary>
/// <param name="FilePath">The path of the signature file.</param>
/// <param name="Start">The offset of the first character.</param>
/// <param name="Length">The number of characters.</param>
/// <param name="Line">The zero-based line.</param>
/// <param name="Column">The zero-based column of the first character.</param>
/// <param name="EndColumn">The zero-based column after the last character, on the same line.</param>
internal sealed record SignatureLocation(string FilePath, int Start, int Length, int Line, int Column, int EndColumn)
{
    /// <summary>The start of the file.</summary>
    public static SignatureLocation StartOf(string filePath) => new(filePath, 0, 0, 0, 0, 0);

    /// <summary>Makes the Roslyn location.</summary>
    public Location ToLocation() => Location.Create(
        FilePath,
        new TextSpan(Start, Length),
        new LinePositionSpan(new LinePosition(Line, Column), new LinePosition(Line, EndColumn)));
}

/// <summary>A diagnostic to report, with value equality.</summary>
/// <param name="Descriptor">What kind of problem it is.</param>
/// <param name="Location">Where in which signature file.</param>
/// <param name="MessageArguments">The arguments of the descriptor's message format.</param>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, SignatureLocation Location, EquatableArray<string> MessageArguments)
{
    /// <summary>Creates a diagnostic at <paramref name="location"/>.</summary>
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, SignatureLocation location, params string[] messageArguments) =>
        new(descriptor, location, new EquatableArray<string>(messageArguments));

    /// <summary>Makes the Roslyn diagnostic.</summary>
    public Diagnostic ToDiagnostic()
    {
        object[] arguments = new object[MessageArguments.Count];
        for (int i = 0; i < arguments.Length; i++)
        {
            arguments[i] = MessageArguments[i];
        }

        return Diagnostic.Create(Descriptor, Location.ToLocation(), arguments);
    }
}
