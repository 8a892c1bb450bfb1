using System.Reflection;

namespace Compression.Runtime.Tests;

/// <summary>Paths the build records on the test assembly (see build/OnnxRuntime.targets and build/OnnxTestData.targets).</summary>
internal static class TestAssets
{
    /// <summary>The ONNX backend test suite's data folder (…/data/, holding node/, simple/, …).</summary>
    public static string OnnxTestDataDir => Metadata("OnnxTestDataDir");

    /// <summary>The backend suite's one-operator tests.</summary>
    public static string NodeTestsDir => Path.Combine(OnnxTestDataDir, "node");

    /// <summary>ONNX Runtime's native library in the build's cache (not the copy beside the tests).</summary>
    public static string OnnxRuntimeLibraryPath => Metadata("OnnxRuntimeLibraryPath");

    private static string Metadata(string key) =>
        typeof(TestAssets).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == key)?.Value is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"The test assembly has no AssemblyMetadata '{key}'; the build sets it.");
}
