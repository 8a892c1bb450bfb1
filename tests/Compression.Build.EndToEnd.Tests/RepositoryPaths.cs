using System.Reflection;

namespace Compression.Build.EndToEnd.Tests;

internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string DigitsModel => Path.Combine(Root, "samples", "Digits", "Models", "digits.onnx");

    public static string DigitsTestData => Path.Combine(Root, "samples", "Digits", "Data", "digits-test.csv");

    /// <summary>The ONNX Runtime library the repository's build downloaded (assembly metadata).</summary>
    public static string OnnxRuntimeLibrary { get; } = typeof(RepositoryPaths).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "OnnxRuntimeLibraryPath").Value!;

    private static string FindRoot()
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
