namespace Compression.Cli;

/// <summary>How the compressor writes errors and warnings.</summary>
public enum DiagnosticFormat
{
    /// <summary><c>onnx-compress: error OCB0002: message</c>, for people at a terminal.</summary>
    Text,

    /// <summary><c>path : error OCB0002: message</c>, the canonical form MSBuild turns into build errors.</summary>
    MSBuild,
}
