using System.Reflection;

namespace Compression.Core.Tests.Support;

/// <summary>Files the tests read: the repository's samples and the paths the build records on the test assembly.</summary>
internal static class TestAssets
{
    /// <summary>The repository root (the folder holding Compression.Build.sln).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The digits sample model: MLP 64-256-256-10, input <c>pixels</c> [batch, 64], outputs <c>logits</c>, <c>probabilities</c>.</summary>
    public static string DigitsModel => Path.Combine(RepositoryRoot, "samples", "Digits", "Models", "digits.onnx");

    /// <summary>The digits test split: a header line, then the label and 64 pixel values per line.</summary>
    public static string DigitsTestCsv => Path.Combine(RepositoryRoot, "samples", "Digits", "Data", "digits-test.csv");

    /// <summary>The ONNX backend test suite's data folder (…/data/, holding node/, pytorch-converted/, …).</summary>
    public static string OnnxTestDataDir => Metadata("OnnxTestDataDir");

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

    private static string Metadata(string key) =>
        typeof(TestAssets).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == key)?.Value is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"The test assembly has no AssemblyMetadata '{key}'; the build sets it.");
}
