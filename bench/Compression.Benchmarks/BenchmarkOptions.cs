using System.Globalization;

namespace Compression.Benchmarks;

/// <summary>The command line: <c>[--iterations N] [--warmup N] [--compress-runs N] [--model PATH] [--no-digits]</c>.</summary>
internal sealed record BenchmarkOptions
{
    public int Iterations { get; init; } = 30;

    public int Warmup { get; init; } = 5;

    public int CompressRuns { get; init; } = 3;

    /// <summary>A transformer model file to bench (e.g. written by bench/models/make_transformer.py); by default the
    /// benchmark builds the same architecture in C#.</summary>
    public string? ModelPath { get; init; }

    public bool Digits { get; init; } = true;

    public const string Usage =
        "Usage: dotnet run -c Release --project bench/Compression.Benchmarks -- [--iterations N] [--warmup N] [--compress-runs N] [--model PATH] [--no-digits]\n" +
        "  --iterations N     timed runs per model, variant and thread setting (default 30; 100x for the digits MLP); the table gives their median and 90th percentile\n" +
        "  --warmup N         untimed runs first (default 5)\n" +
        "  --compress-runs N  times the compressor runs on each model (default 3; the median is reported)\n" +
        "  --model PATH       bench this transformer model instead of the one built in C# (bench/models/make_transformer.py writes one)\n" +
        "  --no-digits        skip the digits MLP";

    public static BenchmarkOptions? Parse(string[] args, TextWriter error)
    {
        var options = new BenchmarkOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (arg)
            {
                case "--iterations":
                    options = options with { Iterations = Positive(arg, Next(), error) ?? -1 };
                    break;
                case "--warmup":
                    options = options with { Warmup = Positive(arg, Next(), error, allowZero: true) ?? -1 };
                    break;
                case "--compress-runs":
                    options = options with { CompressRuns = Positive(arg, Next(), error) ?? -1 };
                    break;
                case "--model":
                    options = options with { ModelPath = Next() };
                    break;
                case "--no-digits":
                    options = options with { Digits = false };
                    break;
                case "-h" or "--help":
                    error.WriteLine(Usage);
                    return null;
                default:
                    error.WriteLine($"Unknown argument '{arg}'.\n{Usage}");
                    return null;
            }
        }

        return options.Iterations < 1 || options.Warmup < 0 || options.CompressRuns < 1 || (options.ModelPath is null && args.Contains("--model"))
            ? null
            : options;
    }

    private static int? Positive(string name, string? value, TextWriter error, bool allowZero = false)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && (n > 0 || (allowZero && n == 0)))
        {
            return n;
        }

        error.WriteLine($"{name} takes a {(allowZero ? "non-negative" : "positive")} integer, not '{value}'.\n{Usage}");
        return null;
    }
}
