using System.Diagnostics;
using Compression.Cli.Tests.Support;
using Compression.Core;
using Compression.Testing;

namespace Compression.Cli.Tests;

/// <summary>
/// The compression cache (<c>--cache-dir</c>): a second run of the same model, settings and compressor restores the
/// outputs, byte for byte, without compressing or validating; any change to what makes the outputs misses; an entry that
/// is not whole is found, removed and made again; concurrent runs storing the same key leave one whole entry.
/// </summary>
public sealed class CacheTests : IDisposable
{
    private const string FromCache = " (from cache)";

    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_hit_restores_the_same_bytes_without_ONNX_Runtime_and_says_from_cache()
    {
        string cache = folder.File("cache");
        CommandResult miss = Compress("miss", cache);
        // A library that is not one: validation would fail with OCB0100, so a hit that succeeds ran no validation.
        string bogus = folder.File("bogus", "libonnxruntime.so");
        Directory.CreateDirectory(Path.GetDirectoryName(bogus)!);
        File.WriteAllText(bogus, "not a shared library");

        CommandResult hit = CommandResult.ChildProcess(Arguments("hit", cache, "--onnxruntime", bogus));
        CommandResult uncached = CommandResult.ChildProcess(Arguments("uncached", folder.File("other-cache"), "--onnxruntime", bogus));

        Assert.True(miss.ExitCode == CompressCommand.Success, miss.Stderr);
        Assert.True(hit.ExitCode == CompressCommand.Success, hit.Stderr);
        Assert.Equal(string.Empty, hit.Stderr);
        Assert.DoesNotContain(FromCache, miss.Stdout, StringComparison.Ordinal);
        Assert.EndsWith(FromCache, Summary(hit), StringComparison.Ordinal);
        // The summary is the one the compression printed, the validation figures included, with "from cache" added.
        Assert.Equal(Summary(miss) + FromCache, Summary(hit));
        Assert.Equal(miss.StdoutLines[1], hit.StdoutLines[1]);
        Assert.StartsWith("  validated in ONNX Runtime ", hit.StdoutLines[1], StringComparison.Ordinal);
        AssertSameOutputs("miss", "hit", restored: true);
        Assert.Single(Entries(cache));
        Assert.Equal(CompressCommand.Failed, uncached.ExitCode);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.OnnxRuntimeNotFound}: ", Assert.Single(uncached.StderrLines), StringComparison.Ordinal);
    }

    [Fact]
    public void A_changed_setting_overrides_file_or_model_byte_misses_and_the_unchanged_run_hits()
    {
        string cache = folder.File("cache");
        string overrides = folder.File("overrides.json");
        File.WriteAllText(overrides, """{ "opTypes": { "MatMul": { "WeightThreshold": 100 } } }""");
        string model = folder.File("input", "digits.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(model)!);
        File.Copy(RepositoryPaths.DigitsModel, model);

        CommandResult first = CompressFile(model, "first", cache, "--overrides", overrides);
        CommandResult same = CompressFile(model, "same", cache, "--overrides", overrides);
        CommandResult setting = CompressFile(model, "setting", cache, "--overrides", overrides, "--validation-samples", "3");
        File.WriteAllText(overrides, """{ "opTypes": { "MatMul": { "WeightThreshold": 101 } } }""");
        CommandResult overridesChanged = CompressFile(model, "overrides", cache, "--overrides", overrides);
        // One bit of a weight in the middle of the file (the digits model is nearly all weights).
        byte[] bytes = File.ReadAllBytes(model);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(model, bytes);
        CommandResult modelChanged = CompressFile(model, "model", cache, "--overrides", overrides);
        CommandResult modelAgain = CompressFile(model, "model-again", cache, "--overrides", overrides);

        Assert.All(new[] { first, same, setting, overridesChanged, modelChanged, modelAgain }, r => Assert.True(r.ExitCode == CompressCommand.Success, r.Stderr));
        Assert.EndsWith(FromCache, Summary(same), StringComparison.Ordinal);
        Assert.DoesNotContain(FromCache, first.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(FromCache, setting.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(FromCache, overridesChanged.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(FromCache, modelChanged.Stdout, StringComparison.Ordinal);
        Assert.EndsWith(FromCache, Summary(modelAgain), StringComparison.Ordinal);
        Assert.Contains("on 3 synthesized input sets", setting.Stdout, StringComparison.Ordinal);
        AssertSameOutputs("first", "same");
        AssertSameOutputs("model", "model-again");
        Assert.Equal(4, Entries(cache).Count);
    }

    [Theory]
    [InlineData("flip")]
    [InlineData("truncate")]
    [InlineData("delete")]
    [InlineData("link")]
    [InlineData("manifest-name")]
    public void An_entry_that_is_not_whole_is_found_removed_and_compressed_again_with_OCB0203(string damage)
    {
        string cache = folder.File("cache");
        CommandResult first = Compress("first", cache);
        string entry = Assert.Single(Entries(cache));
        Damage(entry, damage);

        CommandResult again = Compress("again", cache);
        CommandResult hit = Compress("hit", cache);

        Assert.True(first.ExitCode == CompressCommand.Success, first.Stderr);
        Assert.True(again.ExitCode == CompressCommand.Success, again.Stderr);
        string warning = Assert.Single(again.StdoutLines, l => l.StartsWith("onnx-compress: warning ", StringComparison.Ordinal));
        Assert.StartsWith($"onnx-compress: warning {DiagnosticCodes.CacheEntryCorrupt}: The compression cache entry '{entry}' is not whole", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(FromCache, again.Stdout, StringComparison.Ordinal);
        Assert.EndsWith(FromCache, Summary(hit), StringComparison.Ordinal);
        Assert.DoesNotContain(hit.StdoutLines, l => l.StartsWith("onnx-compress: warning", StringComparison.Ordinal));
        AssertSameOutputs("first", "again");
        AssertSameOutputs("first", "hit");
        // The outputs were never read from outside the cache: the file a link pointed at is as it was.
        Assert.Equal("outside", File.ReadAllText(folder.File("outside.txt")));
        Assert.Equal([Path.GetFileName(entry)], Directory.GetFileSystemEntries(cache).Select(Path.GetFileName));
    }

    [Fact]
    public void Two_processes_storing_the_same_key_at_once_both_succeed_and_leave_one_whole_entry()
    {
        string cache = folder.File("cache");
        string barrier = folder.File("barrier");
        Directory.CreateDirectory(barrier);
        // Both runs wait, their entries written, until both are about to put them in place: they race for the same rename.
        // Each has a temporary folder of its own, as two machines sharing the cache do, so neither waits for the other's turn.
        Dictionary<string, string?> Environment(string name)
        {
            Directory.CreateDirectory(folder.File("tmp-" + name));
            return new() { ["ONNX_COMPRESS_TEST_CACHE_BARRIER"] = barrier + "|2", ["TMPDIR"] = folder.File("tmp-" + name) };
        }

        using Process a = CommandResult.Start(Arguments("a", cache), environment: Environment("a"));
        using Process b = CommandResult.Start(Arguments("b", cache), environment: Environment("b"));
        (int exitA, string outA, string errA) = Finish(a);
        (int exitB, string outB, string errB) = Finish(b);
        CommandResult third = Compress("third", cache);

        Assert.True(exitA == CompressCommand.Success, errA);
        Assert.True(exitB == CompressCommand.Success, errB);
        Assert.Equal(2, Directory.GetFiles(barrier).Length);
        Assert.DoesNotContain(FromCache, outA, StringComparison.Ordinal);
        Assert.DoesNotContain(FromCache, outB, StringComparison.Ordinal);
        Assert.DoesNotContain("warning", outA + outB, StringComparison.Ordinal);
        // One entry and nothing else: the loser's temporary folder is gone.
        Assert.Single(Directory.GetFileSystemEntries(cache));
        Assert.EndsWith(FromCache, Summary(third), StringComparison.Ordinal);
        AssertSameOutputs("a", "b");
        AssertSameOutputs("a", "third");
    }

    [Fact]
    public void Of_two_processes_on_one_machine_compressing_the_same_key_one_compresses_and_the_other_waits_and_restores()
    {
        // The target frameworks of a project build in parallel: the model is still compressed once.
        string cache = folder.File("cache");

        using Process a = CommandResult.Start(Arguments("a", cache));
        using Process b = CommandResult.Start(Arguments("b", cache));
        (int exitA, string outA, string errA) = Finish(a);
        (int exitB, string outB, string errB) = Finish(b);

        Assert.True(exitA == CompressCommand.Success, errA);
        Assert.True(exitB == CompressCommand.Success, errB);
        Assert.Single(new[] { outA, outB }, o => o.Contains(FromCache, StringComparison.Ordinal));
        Assert.Single(Directory.GetFileSystemEntries(cache));
        AssertSameOutputs("a", "b");
    }

    [Fact]
    public void A_cache_folder_that_cannot_be_written_is_warning_OCB0204_and_the_model_is_still_written()
    {
        // A file where the folder should be: no user, root included, can create the cache there.
        string cache = folder.File("cache");
        File.WriteAllText(cache, "a file, not a folder");

        CommandResult result = Compress("out", cache);

        Assert.True(result.ExitCode == CompressCommand.Success, result.Stderr);
        Assert.Contains(result.StdoutLines, l => l.StartsWith($"onnx-compress: warning {DiagnosticCodes.CacheNotUsable}: The compression cache '{cache}' could not be written", StringComparison.Ordinal));
        Assert.True(File.Exists(folder.File("out", "digits.onnx.signature")));
        Assert.Equal("a file, not a folder", File.ReadAllText(cache));
    }

    private CommandResult Compress(string name, string cache, params string[] more) => CommandResult.InProcess(Arguments(name, cache, more));

    private CommandResult CompressFile(string model, string name, string cache, params string[] more) =>
        CommandResult.InProcess([model, .. Options(name, cache, more)]);

    private string[] Arguments(string name, string cache, params string[] more) => [RepositoryPaths.DigitsModel, .. Options(name, cache, more)];

    private string[] Options(string name, string cache, string[] more) =>
    [
        "-o", folder.File(name, "digits.onnx"), "-r", folder.File(name, "digits.report.json"), "--dependency-file", folder.File(name, "digits.deps"),
        "--source-name", "Models/digits.onnx", "--cache-dir", cache, .. more,
    ];

    /// <summary>
    /// The outputs of two runs are the same files with the same bytes; the reports of two compressions differ only in their
    /// measured times, while a hit restores the stored report byte for byte (<paramref name="restored"/>).
    /// </summary>
    private void AssertSameOutputs(string first, string second, bool restored = false)
    {
        string[] names = Directory.GetFiles(folder.File(first)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        Assert.Equal(["digits.deps", "digits.onnx", "digits.onnx.signature", "digits.report.json"], names);
        Assert.Equal(names, Directory.GetFiles(folder.File(second)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray());
        foreach (string name in names)
        {
            byte[] a = File.ReadAllBytes(folder.File(first, name));
            byte[] b = File.ReadAllBytes(folder.File(second, name));
            bool same = name.EndsWith(".report.json", StringComparison.Ordinal) && !restored
                ? ReportJson.WithoutTiming(a) == ReportJson.WithoutTiming(b)
                : a.AsSpan().SequenceEqual(b);
            Assert.True(same, $"{name} differs");
        }
    }

    /// <summary>The summary line: <c>source: A -> B bytes (R x); techniques</c>, after any warnings.</summary>
    private static string Summary(CommandResult result) => result.StdoutLines.First(l => l.StartsWith("Models/digits.onnx: ", StringComparison.Ordinal));

    private static List<string> Entries(string cache) => Directory.GetDirectories(cache).Where(d => !Path.GetFileName(d).StartsWith('.')).ToList();

    private void Damage(string entry, string damage)
    {
        string model = Path.Combine(entry, "model.onnx");
        string outside = folder.File("outside.txt");
        File.WriteAllText(outside, "outside");
        switch (damage)
        {
            case "flip":
                byte[] bytes = File.ReadAllBytes(model);
                bytes[bytes.Length / 2] ^= 0x01;
                File.WriteAllBytes(model, bytes);
                break;
            case "truncate":
                using (var stream = new FileStream(Path.Combine(entry, "signature"), FileMode.Open))
                {
                    stream.SetLength(stream.Length - 1);
                }

                break;
            case "delete":
                File.Delete(Path.Combine(entry, "report.json"));
                break;
            case "link":
                // The same bytes outside the cache, behind a link: the hashes match, and the link is still refused.
                string copy = folder.File("outside-model.onnx");
                File.Copy(model, copy);
                File.Delete(model);
                File.CreateSymbolicLink(model, copy);
                break;
            case "manifest-name":
                // A manifest naming a file outside the entry: names come from the compressor, never from the manifest.
                File.AppendAllText(Path.Combine(entry, "manifest"), "file\t../../outside.txt\t7\t" + new string('0', 64) + "\n");
                break;
        }
    }

    private static (int ExitCode, string Stdout, string Stderr) Finish(Process process)
    {
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("onnx-compress did not finish within 90 s.");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
