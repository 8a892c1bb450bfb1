namespace Compression.Testing;

/// <summary>Paths in the repository, found by walking up from the test assembly to <c>Compression.Build.sln</c>.</summary>
internal static partial class RepositoryPaths
{
    /// <summary>The repository root (the folder holding Compression.Build.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>The digits sample model: MLP 64-256-256-10, input <c>pixels</c> [batch, 64], outputs <c>logits</c>, <c>probabilities</c>.</summary>
    public static string DigitsModel => Path.Combine(Root, "samples", "Digits", "Models", "digits.onnx");

    /// <summary>The benchmark's digits CNN (bench/models/make_digits_cnn.py): Conv x3 and Gemm x2, input <c>pixels</c> [batch, 64], output <c>logits</c>.</summary>
    public static string DigitsCnnModel => Path.Combine(Root, "bench", "models", "digits_cnn.onnx");

    /// <summary>The digits test split: a header line, then the label and 64 pixel values per line.</summary>
    public static string DigitsTestData => Path.Combine(Root, "samples", "Digits", "Data", "digits-test.csv");

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
