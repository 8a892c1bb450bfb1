using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Compression.Core;
using Compression.Core.Evaluation;
using Compression.Core.Runtime;
using Compression.Core.Settings;

namespace Compression.Benchmarks;

/// <summary>
/// Measurements that need a process of their own, so that one variant's memory never counts toward another's: the peak
/// resident memory of an ONNX Runtime session (create, one run), and the time and peak memory of a compression.
/// </summary>
internal static partial class ChildMode
{
    public const string SessionMemory = "--child-session-memory";
    public const string Compress = "--child-compress";

    /// <summary>In the child: loads ONNX Runtime, then creates a session and runs it once; prints the growth of peak RSS.</summary>
    public static int MeasureSession(string[] args)
    {
        _ = OnnxRuntimeLibrary.Version;
        var options = new OnnxSessionOptions();
        foreach (string entry in args.Skip(1))
        {
            string[] pair = entry.Split('=', 2);
            options.ConfigEntries[pair[0]] = pair[1];
        }

        long before = PeakResidentBytes();
        using var session = new OnnxSession(args[0], options);
        OnnxTensor[] inputs = InputSynthesizer.Create(session.Inputs, InputSynthesizer.ResolveShapes(session.Inputs).Select(s => s.Select((d, i) => i == 0 ? 1 : d).ToArray()).ToList(), 0);
        session.Run(session.Inputs.Select(i => i.Name).ToArray(), inputs, []);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"session-bytes {PeakResidentBytes() - before}"));
        return 0;
    }

    /// <summary>
    /// In the child: compresses <c>args[0]</c> to <c>args[1]</c> with <c>Name=value</c> settings, validation off unless
    /// given; prints the time, the peaks and how many tensors the passes changed.
    /// </summary>
    public static int MeasureCompression(string[] args)
    {
        CompressionSettings settings = CompressionSettings.Default.Set(EvaluationSettings.Validate, false);
        foreach (string entry in args.Skip(2))
        {
            string[] pair = entry.Split('=', 2);
            settings = settings.Set(SettingsCatalog.Find(pair[0])!, pair[1], new SettingOrigin(SettingLevel.Model, "benchmark"));
        }

        long before = PeakResidentBytes();
        var clock = Stopwatch.StartNew();
        long managedPeak = 0;
        // The managed heap's size, live and dead objects alike, sampled every 10 ms: an upper bound of what the compressor holds.
        CompressionOutcome outcome;
        using (new Timer(_ => InterlockedMax(ref managedPeak, GC.GetTotalMemory(forceFullCollection: false)), null, 0, 10))
        {
            outcome = ModelCompressor.Compress(new CompressionRequest(args[0], args[1]) { Settings = settings });
        }

        InterlockedMax(ref managedPeak, GC.GetTotalMemory(forceFullCollection: false));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"compress-seconds {clock.Elapsed.TotalSeconds:F2} peak-bytes {PeakResidentBytes()} baseline-bytes {before} managed-peak-bytes {GC.GetGCMemoryInfo().HeapSizeBytes} sampled-managed-peak-bytes {Interlocked.Read(ref managedPeak)} worker-peak-bytes {ChildrenPeakResidentBytes()} changed-tensors {outcome.Report.Changed.Count}"));
        return 0;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen = Interlocked.Read(ref target);
        while (value > seen)
        {
            long previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>Runs the session measurement in a child process and returns the bytes it printed.</summary>
    public static double SessionMemoryOf(string path, IReadOnlyDictionary<string, string> config)
    {
        string output = RunChild([SessionMemory, path, .. config.Select(e => $"{e.Key}={e.Value}")]);
        string? line = output.Split('\n').FirstOrDefault(l => l.StartsWith("session-bytes ", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line["session-bytes ".Length..], CultureInfo.InvariantCulture);
    }

    public static string RunChild(IEnumerable<string> arguments)
    {
        (int exitCode, string output, string error) = RunChildCapturing(arguments);
        if (exitCode != 0)
        {
            Console.Error.WriteLine($"child {string.Join(' ', arguments)} failed ({exitCode}): {error}");
        }

        return output;
    }

    /// <summary>Runs this program again with <paramref name="arguments"/> and returns its exit code, standard output and standard error.</summary>
    public static (int ExitCode, string Output, string Error) RunChildCapturing(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }

    /// <summary>
    /// The peak resident memory of the largest child process that has ended (getrusage RUSAGE_CHILDREN): ONNX Runtime's
    /// worker, which validation runs in; 0 when none ran.
    /// </summary>
    public static long ChildrenPeakResidentBytes()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        // struct rusage on 64-bit Linux: two timevals (4 longs), then ru_maxrss in KiB, then 13 more longs.
        var usage = new long[18];
        return GetResourceUsage(-1, usage) == 0 ? usage[4] * 1024 : 0;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetResourceUsage(int who, [Out] long[] usage);

    /// <summary>VmHWM: the process's peak resident memory so far.</summary>
    public static long PeakResidentBytes() =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}

/// <summary>The time and peak memory of compressing the 1 GB MLP, each form in a child process, against a plain file copy.</summary>
internal static class CompressionCost
{
    public static void Print(string model, string work)
    {
        long bytes = new FileInfo(model).Length;
        var clock = Stopwatch.StartNew();
        File.Copy(model, Path.Combine(work, "copy.onnx"), overwrite: true);
        double copySeconds = clock.Elapsed.TotalSeconds;
        File.Delete(Path.Combine(work, "copy.onnx"));

        Console.WriteLine($"### Compressing the {bytes / 1e9:F2} GB MLP (one child process each; a file copy takes {copySeconds:F2} s)");
        Console.WriteLine();
        Console.WriteLine("| form | seconds | vs copy | peak RSS GB | vs model size | ONNX Runtime worker's peak RSS GB |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach ((string name, string[] settings) in new (string, string[])[]
        {
            ("int8 dynamic (default)", []),
            ("int8 weight-only", ["QuantizeMode=weight-only"]),
            ("int4", ["Quantize=int4"]),
            ("int8 dynamic, validated", ["Validate=true"]),
        })
        {
            Console.Error.WriteLine($"[large-mlp] compressing in a child process: {name} ...");
            string output = ChildMode.RunChild([ChildMode.Compress, model, Path.Combine(work, "large-cost.onnx"), .. settings]);
            string? line = output.Split('\n').FirstOrDefault(l => l.StartsWith("compress-seconds ", StringComparison.Ordinal));
            if (line is null)
            {
                Console.WriteLine($"| {name} | failed | | | | |");
                continue;
            }

            string[] fields = line.Split(' ');
            double seconds = double.Parse(fields[1], CultureInfo.InvariantCulture);
            double peak = double.Parse(fields[3], CultureInfo.InvariantCulture);
            double worker = double.Parse(fields[11], CultureInfo.InvariantCulture);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {seconds:F1} | {seconds / copySeconds:F1}x | {peak / 1e9:F2} | {peak / bytes:F2}x | {(worker > 0 ? (worker / 1e9).ToString("F2", CultureInfo.InvariantCulture) : "-")} |"));
        }

        Console.WriteLine();
    }
}

/// <summary>
/// The time and memory of compressing a model over 2 GiB kept in external data (<c>--huge</c>), each form in a child
/// process: the compressor streams it tensor by tensor, so its managed memory should stay near the largest tensor plus the
/// compressed weights, and validation lets ONNX Runtime read the files itself, so its peak should stay under the original
/// plus the compressed model plus 1 GB.
/// </summary>
internal static class HugeCompressionCost
{
    public static int Run(string work)
    {
        Directory.CreateDirectory(work);
        string model = Path.Combine(work, "huge_mlp.onnx");
        try
        {
            var clock = Stopwatch.StartNew();
            GeneratedModels.WriteHugeMlp(model);
            Console.Error.WriteLine($"[huge-mlp] generated in {clock.Elapsed.TotalSeconds:F1} s");
            long original = new FileInfo(model).Length + new FileInfo(model + ".data").Length;
            clock.Restart();
            File.Copy(model + ".data", Path.Combine(work, "copy.data"), overwrite: true);
            double copySeconds = clock.Elapsed.TotalSeconds;
            File.Delete(Path.Combine(work, "copy.data"));

            Console.WriteLine($"### Compressing a {original / 1e9:F2} GB MLP in external data (45 x 4096 x 4096; one child process each; a file copy takes {copySeconds:F2} s)");
            Console.WriteLine();
            Console.WriteLine("| form | seconds | output GB (.onnx + .data) | peak RSS GB | managed peak GB | ONNX Runtime worker's peak RSS GB | both peaks GB | budget GB |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach ((string name, string[] settings) in new (string, string[])[]
            {
                ("int8 dynamic (default)", []),
                ("int4", ["Quantize=int4"]),
                ("int8 dynamic, validated", ["Validate=true"]),
                ("int4, validated", ["Quantize=int4", "Validate=true"]),
            })
            {
                Console.Error.WriteLine($"[huge-mlp] compressing in a child process: {name} ...");
                string output = Path.Combine(work, "out", "huge_mlp.onnx");
                string result = ChildMode.RunChild([ChildMode.Compress, model, output, .. settings]);
                string? line = result.Split('\n').FirstOrDefault(l => l.StartsWith("compress-seconds ", StringComparison.Ordinal));
                if (line is null)
                {
                    Console.WriteLine($"| {name} | failed | | | | | | |");
                    continue;
                }

                string[] fields = line.Split(' ');
                double seconds = double.Parse(fields[1], CultureInfo.InvariantCulture);
                double peak = double.Parse(fields[3], CultureInfo.InvariantCulture);
                double managed = double.Parse(fields[9], CultureInfo.InvariantCulture);
                double worker = double.Parse(fields[11], CultureInfo.InvariantCulture);
                long compressed = new FileInfo(output).Length + (File.Exists(output + ".data") ? new FileInfo(output + ".data").Length : 0);
                // Validation may hold the original in ONNX Runtime, and later the compressed model, plus 1 GB; the sum of the
                // compressor's and the worker's peaks bounds what the two held at any one time.
                bool validated = settings.Contains("Validate=true");
                string budget = validated ? ((original + compressed + 1e9) / 1e9).ToString("F2", CultureInfo.InvariantCulture) : "";
                string workerPeak = validated ? (worker / 1e9).ToString("F2", CultureInfo.InvariantCulture) : "-";
                string both = validated ? ((peak + worker) / 1e9).ToString("F2", CultureInfo.InvariantCulture) : "";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {seconds:F1} | {compressed / 1e9:F3} | {peak / 1e9:F2} | {managed / 1e9:F2} | {workerPeak} | {both} | {budget} |"));
            }

            Console.WriteLine();
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
