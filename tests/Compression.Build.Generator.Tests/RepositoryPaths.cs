namespace Compression.Build.Generator.Tests;

/// <summary>Paths in the repository, found by walking up from the test assembly to <c>Compression.Build.sln</c>.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string DigitsModel => Path.Combine(Root, "samples", "Digits", "Models", "digits.onnx");

    public static string DigitsTestData => Path.Combine(Root, "samples", "Digits", "Data", "digits-test.csv");

    public static string TestModel(string fileName) =>
        Path.Combine(Root, "tests", "Compression.Build.Generator.Tests", "TestModels", fileName);

    public static string Snapshot(string fileName) =>
        Path.Combine(Root, "tests", "Compression.Build.Generator.Tests", "Snapshots", fileName);

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
