using System.Diagnostics;
using Compression.Cli.Tests.Support;
using Compression.Core;

namespace Compression.Cli.Tests;

/// <summary>
/// The tool killed (SIGKILL, no chance to clean up) at each step of writing its outputs: the model, the signature, the
/// report and the dependency list are afterwards the whole earlier set, the whole new set, or a set without its
/// signature (which the build takes for absent and compresses again), never a new model beside an old signature; and
/// the next run removes every file the killed one left.
/// </summary>
public sealed class KillTests : IDisposable
{
    /// <summary>The variable that makes the writer stop at a named step; the test then kills it there.</summary>
    private const string PauseVariable = "ONNX_COMPRESS_TEST_PAUSE_AT";

    private static readonly string[] OutputNames = ["digits.onnx", "digits.onnx.signature", "digits.report.json", "digits.deps"];

    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>Where the kill leaves the outputs: the earlier set, no signature (absent), or the new set.</summary>
    public enum Left
    {
        EarlierSet,
        NoSignature,
        NewSet,
    }

    [Theory]
    [InlineData("locked", Left.EarlierSet)]
    [InlineData("cleaned", Left.EarlierSet)]
    [InlineData("staged", Left.EarlierSet)]
    [InlineData("record-removed", Left.NoSignature)]
    [InlineData("replaced:digits.onnx", Left.NoSignature)]
    [InlineData("replaced:digits.report.json", Left.NoSignature)]
    [InlineData("replaced:digits.deps", Left.NoSignature)]
    [InlineData("record-written", Left.NewSet)]
    [InlineData("done", Left.NewSet)]
    public void A_run_killed_at_any_step_leaves_the_earlier_set_the_new_set_or_no_signature_and_the_next_run_cleans_up(string step, Left expected)
    {
        // The reference sets, from uninterrupted runs: 4-bit (new) and 8-bit (earlier) weights, into the same paths.
        IReadOnlyDictionary<string, byte[]> newSet = Run(NewSettings);
        IReadOnlyDictionary<string, byte[]> earlierSet = Run(EarlierSettings);
        Assert.NotEqual(newSet["digits.onnx"], earlierSet["digits.onnx"]);
        Assert.NotEqual(newSet["digits.onnx.signature"], earlierSet["digits.onnx.signature"]);

        KillAt(step, NewSettings);

        IReadOnlyDictionary<string, byte[]> left = Outputs();
        switch (expected)
        {
            case Left.EarlierSet:
                AssertSet(earlierSet, left, step);
                break;
            case Left.NewSet:
                AssertSet(newSet, left, step);
                break;
            default:
                Assert.False(left.ContainsKey("digits.onnx.signature"), $"{step}: a signature is present while the set is being replaced");
                Assert.All(left, file => Assert.True(
                    SameFile(file.Key, file.Value, earlierSet[file.Key]) || SameFile(file.Key, file.Value, newSet[file.Key]),
                    $"{step}: {file.Key} is neither the earlier nor the new file"));
                break;
        }

        if (step is not ("locked" or "cleaned" or "done"))
        {
            // The killed run left its temporary files or backups behind.
            Assert.Contains(folder.ListFiles(), f => f.EndsWith(".tmp", StringComparison.Ordinal) || f.EndsWith(".bak", StringComparison.Ordinal));
        }

        // The next run, with the earlier settings, puts the earlier set back whole and leaves nothing else.
        Assert.Equal(earlierSet.Keys.Order(StringComparer.Ordinal), Run(EarlierSettings).Keys.Order(StringComparer.Ordinal));
        AssertSet(earlierSet, Outputs(), $"the run after a kill at {step}");
        Assert.Equal(OutputNames.Select(n => "out/" + n).Order(StringComparer.Ordinal), folder.ListFiles());
    }

    [Fact]
    public async Task A_run_waits_for_one_writing_the_same_outputs_and_removes_its_temporary_files_when_it_is_killed()
    {
        IReadOnlyDictionary<string, byte[]> newSet = Run(NewSettings);
        IReadOnlyDictionary<string, byte[]> earlierSet = Run(EarlierSettings);

        // The first run stops holding its turn, with its temporary files written; the second waits for it.
        using Process first = StartPaused("staged", NewSettings);
        Assert.Contains(folder.ListFiles(), f => f.EndsWith(".tmp", StringComparison.Ordinal));
        using Process second = CommandResult.Start(Arguments(NewSettings));
        Task<string> secondErrors = second.StandardError.ReadToEndAsync();
        Assert.False(second.WaitForExit(TimeSpan.FromSeconds(3)), "the second run did not wait for the first");
        AssertSet(earlierSet, Outputs(), "while the first run holds its turn");

        first.Kill();
        first.WaitForExit();
        Assert.True(second.WaitForExit(TimeSpan.FromSeconds(60)), "the second run did not finish after the first was killed");

        Assert.True(second.ExitCode == CompressCommand.Success, await secondErrors);
        AssertSet(newSet, Outputs(), "after the second run");
        Assert.Equal(OutputNames.Select(n => "out/" + n).Order(StringComparer.Ordinal), folder.ListFiles());
    }

    private static string[] NewSettings => ["--quantize", "int4"];

    private static string[] EarlierSettings => ["--quantize", "int8"];

    private string[] Arguments(string[] settings) =>
    [
        RepositoryPaths.DigitsModel,
        "-o", folder.File("out", "digits.onnx"),
        "-r", folder.File("out", "digits.report.json"),
        "--dependency-file", folder.File("out", "digits.deps"),
        "--no-validate",
        .. settings,
    ];

    private IReadOnlyDictionary<string, byte[]> Run(string[] settings)
    {
        CommandResult result = CommandResult.ChildProcess(Arguments(settings));
        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        return Outputs();
    }

    /// <summary>Runs the tool until it says it paused at <paramref name="step"/>, then kills it with SIGKILL.</summary>
    private void KillAt(string step, string[] settings)
    {
        using Process process = StartPaused(step, settings);
        process.Kill();
        process.WaitForExit();
    }

    private Process StartPaused(string step, string[] settings)
    {
        Process process = CommandResult.Start(Arguments(settings), environment: new Dictionary<string, string?> { [PauseVariable] = step });
        _ = process.StandardOutput.ReadToEndAsync();
        string expectedLine = $"onnx-compress: paused at {step}";
        Task<string?> line = ReadUntilAsync(process.StandardError, expectedLine);
        if (!line.Wait(TimeSpan.FromSeconds(60)) || line.Result != expectedLine)
        {
            process.Kill();
            process.Dispose();
            Assert.Fail($"The tool did not pause at {step}: {(line.IsCompleted ? line.Result : "no answer in 60 s")}");
        }

        return process;
    }

    private static async Task<string?> ReadUntilAsync(StreamReader reader, string expected)
    {
        string? last = null;
        while (await reader.ReadLineAsync() is string next)
        {
            last = next;
            if (next == expected)
            {
                return next;
            }
        }

        return last;
    }

    private Dictionary<string, byte[]> Outputs() =>
        OutputNames.Where(n => File.Exists(folder.File("out", n))).ToDictionary(n => n, n => File.ReadAllBytes(folder.File("out", n)), StringComparer.Ordinal);

    private static void AssertSet(IReadOnlyDictionary<string, byte[]> expected, IReadOnlyDictionary<string, byte[]> actual, string when)
    {
        Assert.True(expected.Keys.Order(StringComparer.Ordinal).SequenceEqual(actual.Keys.Order(StringComparer.Ordinal)),
            $"{when}: files {string.Join(", ", actual.Keys)}, expected {string.Join(", ", expected.Keys)}");
        Assert.All(expected, file => Assert.True(SameFile(file.Key, file.Value, actual[file.Key]), $"{when}: {file.Key} differs"));
    }

    /// <summary>Byte for byte, but for the report's measured times, which differ from run to run.</summary>
    private static bool SameFile(string name, byte[] expected, byte[] actual) =>
        name.EndsWith(".report.json", StringComparison.Ordinal)
            ? ReportJson.WithoutTiming(expected) == ReportJson.WithoutTiming(actual)
            : expected.AsSpan().SequenceEqual(actual);
}
