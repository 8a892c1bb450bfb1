using System.Reflection;

namespace Compression.Cli.Tests.Support;

/// <summary>Files the tests use: the digits sample, the tool beside the tests, ONNX Runtime in the build's cache.</summary>
internal static class TestAssets
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The digits sample model (input <c>pixels</c> [batch, 64]; outputs <c>logits</c>, <c>probabilities</c>).</summary>
    public static string DigitsModel => Path.Combine(RepositoryRoot, "samples", "Digits", "Models", "digits.onnx");

    /// <summary>The tool as the CLI project builds it; the project reference copies it beside the tests.</summary>
    public static string ToolAssembly => Path.Combine(AppContext.BaseDirectory, "onnx-compress.dll");

    /// <summary>ONNX Runtime's native library in the build's cache (not the copy beside the tests).</summary>
    public static string OnnxRuntimeLibraryPath =>
        typeof(TestAssets).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "OnnxRuntimeLibraryPath")?.Value is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException("The test assembly has no AssemblyMetadata 'OnnxRuntimeLibraryPath'; the build sets it.");

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Compression.Build.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Compression.Build.sln) was not found above " + AppContext.BaseDirectory);
    }
}
