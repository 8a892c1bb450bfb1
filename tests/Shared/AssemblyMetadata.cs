using System.Reflection;

namespace Compression.Testing;

/// <summary>
/// Values the build records on the test assembly as <see cref="AssemblyMetadataAttribute"/>s (see
/// tests/Directory.Build.targets, build/OnnxRuntime.targets and build/OnnxTestData.targets).
/// </summary>
internal static class AssemblyMetadata
{
    /// <summary>ONNX Runtime's native library for this machine inside the restored Microsoft.ML.OnnxRuntime package (projects with <c>UsesOnnxRuntime</c>).</summary>
    public static string OnnxRuntimeLibraryPath => Get("OnnxRuntimeLibraryPath");

    /// <summary>
    /// The ONNX backend test suite's data folder, …/data/ holding node/, pytorch-converted/, simple/, … (projects with
    /// <c>UsesOnnxTestData</c>).
    /// </summary>
    public static string OnnxTestDataDir => Get("OnnxTestDataDir");

    /// <summary>The value the build recorded under <paramref name="key"/>; throws when there is none or it is empty.</summary>
    public static string Get(string key) =>
        typeof(AssemblyMetadata).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == key)?.Value is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"The test assembly has no AssemblyMetadata '{key}'; the build sets it.");
}
