using Xunit.Abstractions;

namespace Compression.Core.Tests.Fuzz;

/// <summary>
/// A seeded mutation fuzz of the compressor (validation off): every broken model must end as a success or as one coded
/// <see cref="CompressionException"/>, never as another exception. The longer run is <c>bench/Compression.Fuzz</c>.
/// </summary>
public sealed class MutationFuzzTests : IDisposable
{
    /// <summary>Several cases per seed and mutation kind, and more combining several mutations (about 40 s).</summary>
    private const int Cases = 3000;

    private readonly TemporaryFolder folder = new();
    private readonly ITestOutputHelper log;

    public MutationFuzzTests(ITestOutputHelper log)
    {
        this.log = log;
    }

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Every_mutated_model_compresses_or_fails_with_a_coded_error()
    {
        var seeds = FuzzSeeds.Paths(RepositoryPaths.Root, AssemblyMetadata.OnnxTestDataDir)
            .Select(path => (Path.GetFileName(Path.GetDirectoryName(path))! + "/" + Path.GetFileName(path), File.ReadAllBytes(path)))
            .ToList();
        var fuzzer = new ModelFuzzer(seeds, folder.Path);

        fuzzer.Run(0, Cases);

        string counts = string.Join(", ", fuzzer.Counts.Select(c => $"{c.Key} {c.Value}"));
        log.WriteLine($"{Cases} cases from {seeds.Count} seeds: {counts}");
        Assert.True(fuzzer.Uncoded.Count == 0, $"{fuzzer.Uncoded.Count} of {Cases} cases threw an uncoded exception ({counts}):\n{string.Join("\n\n", fuzzer.Uncoded)}");
        // The fuzz reaches both ends: valid mutants compress, and broken ones are refused at load.
        Assert.True(fuzzer.Counts.GetValueOrDefault("success") > Cases / 10, counts);
        Assert.True(fuzzer.Counts.GetValueOrDefault(DiagnosticCodes.InvalidModel) > Cases / 4, counts);
    }
}
