using System.Diagnostics;
using System.Globalization;
using Compression.Onnx;

namespace Compression.Benchmarks;

/// <summary>
/// The cost of a compression cache hit as a build pays it (<c>--cache-hit</c>): a 100 MB MLP is compressed once by the
/// tool (<c>dotnet onnx-compress.dll ... --cache-dir</c>, validated) to fill the cache, then restored from it several
/// times, each run a process of its own timed from start to exit, its outputs checked against the first run's bytes.
/// </summary>
internal static class CacheHitBenchmark
{
    /// <summary>6 layers of 2048 x 2048 float weights: 100.7 MB.</summary>
    private const int Layers = 6;
    private const int Width = 2048;

    public static int Run(string work, int hits)
    {
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        try
        {
            string model = Path.Combine(work, "mlp_100mb.onnx");
            OnnxModelFile.Save(GeneratedModels.LargeMlp(Layers, Width), model);
            string cache = Path.Combine(work, "cache");
            Console.WriteLine($".NET {Environment.Version}, {Environment.ProcessorCount} logical processors, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Model: {Layers} x (MatMul {Width} x {Width}, ReLU), {new FileInfo(model).Length / 1e6:F1} MB; int8 (the default), validated; {hits} hits, each a process of its own."));
            Console.WriteLine();

            (double fillSeconds, string fillSummary) = RunTool(model, Path.Combine(work, "fill"), cache);
            if (fillSummary.Contains("(from cache)", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("The first run found an entry in a fresh cache.");
            }

            var timing = new Timing();
            var rows = new List<(string Run, double Seconds)> { ("miss: compress, validate, store", fillSeconds) };
            for (int i = 1; i <= hits; i++)
            {
                string output = Path.Combine(work, $"hit{i}");
                (double seconds, string summary) = RunTool(model, output, cache);
                if (!summary.EndsWith("(from cache)", StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"Hit {i} was not restored from the cache: {summary}");
                }

                foreach (string name in new[] { "model.onnx", "model.onnx.signature", "model.onnx.report.json" })
                {
                    if (!File.ReadAllBytes(Path.Combine(work, "fill", name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(output, name))))
                    {
                        throw new InvalidOperationException($"Hit {i} restored a {name} that differs from the first run's.");
                    }
                }

                timing.Add(TimeSpan.FromSeconds(seconds));
                rows.Add(($"hit {i}", seconds));
                Directory.Delete(output, recursive: true);
            }

            Console.WriteLine("| run | seconds (process start to exit) |");
            Console.WriteLine("|---|---:|");
            foreach ((string run, double seconds) in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {run} | {seconds:F2} |"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| hits: median | {timing.Median / 1000:F2} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| hits: slowest | {timing.Percentile(100) / 1000:F2} |"));
            Console.WriteLine();
            Console.WriteLine($"compressed model: {new FileInfo(Path.Combine(work, "fill", "model.onnx")).Length:N0} bytes; {fillSummary}");
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Runs the tool as a build does and returns its wall time and summary line.</summary>
    private static (double Seconds, string Summary) RunTool(string model, string outputFolder, string cache)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string output = Path.Combine(outputFolder, "model.onnx");
        foreach (string argument in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "onnx-compress.dll"), model, "-o", output, "-r", output + ".report.json",
            "--dependency-file", output + ".deps", "--source-name", "Models/mlp_100mb.onnx", "--cache-dir", cache,
        })
        {
            start.ArgumentList.Add(argument);
        }

        var clock = Stopwatch.StartNew();
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        double seconds = clock.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"onnx-compress failed with exit code {process.ExitCode}: {stderr.Result}{stdout.Result}");
        }

        string summary = stdout.Result.Split('\n').First(l => l.StartsWith("Models/mlp_100mb.onnx: ", StringComparison.Ordinal)).TrimEnd('\r');
        return (seconds, summary);
    }
}
