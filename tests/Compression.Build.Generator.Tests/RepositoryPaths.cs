namespace Compression.Testing;

/// <summary>The generator tests' own files, beside the shared repository paths.</summary>
internal static partial class RepositoryPaths
{
    public static string TestModel(string fileName) =>
        Path.Combine(Root, "tests", "Compression.Build.Generator.Tests", "TestModels", fileName);

    public static string Snapshot(string fileName) =>
        Path.Combine(Root, "tests", "Compression.Build.Generator.Tests", "Snapshots", fileName);
}
