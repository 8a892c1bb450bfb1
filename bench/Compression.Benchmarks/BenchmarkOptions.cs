using System.Globalization;

namespace Compression.Benchmarks;

/// <summary>The command line: <c>[--iterations N] [--warmup N] [--threads N] [--batch N] [--models a,b] [--large] | --sparsity [--large] | --search [--search-time-limit S] | --huge [DIR] | --cache-hit [N]</c>.</summary>
internal sealed record BenchmarkOptions
{
    public int Iterations { get; init; } = 30;

    public int Warmup { get; init; } = 5;

    /// <summary>Intra-op threads; 0 is ONNX Runtime's default (then, as for any count above 1, without spinning).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Rows per timed run for the models with a batch dimension (the digits models, the layers, the 1 GB MLP).</summary>
    public int Batch { get; init; } = 1;

    /// <summary>Only the compression cost of a 3 GB model in external data (<c>--huge</c>).</summary>
    public bool Huge { get; init; }

    /// <summary>The folder in which <c>--huge</c> makes a folder for its 3 GB model and outputs, removed afterwards (<c>--huge DIR</c>); by default the temp folder.</summary>
    public string? HugeWork { get; init; }

    /// <summary>Only the time of compression cache hits on a 100 MB model (<c>--cache-hit [N]</c>): this many hits; 0 when not asked for.</summary>
    public int CacheHits { get; init; }

    /// <summary>Only the cost of the package in a developer's builds (<c>--build</c>): no-op, warm-cache and design-time builds.</summary>
    public bool Build { get; init; }

    /// <summary>
    /// The benchmark of pruning, low-rank factorization, clustering and distillation (<c>--sparsity</c>) on the digits
    /// models and the ResNet, against torch's one-shot pruning; with <c>--large</c> each technique's time on the 1 GB MLP.
    /// </summary>
    public bool Sparsity { get; init; }

    /// <summary>
    /// The budget search (<c>--search</c>, Compress=auto) on the digits MLP and CNN and the transformer encoder, against the
    /// best uniform setting within the same budget.
    /// </summary>
    public bool Search { get; init; }

    /// <summary>SearchTimeLimit for every search of <c>--search</c> (<c>--search-time-limit S</c>); by default the transformer's is set from one timed trial and the digits' is the setting's default.</summary>
    public int? SearchTimeLimit { get; init; }

    /// <summary>True when <c>--models</c> chose the models.</summary>
    public bool ModelsGiven { get; init; }

    /// <summary>The models to bench.</summary>
    public IReadOnlySet<string> Models { get; init; } = new HashSet<string>(BenchModels.Names.Where(n => n is not BenchModels.LargeMlp and not BenchModels.Layers), StringComparer.Ordinal);

    public static string Usage =>
        "Usage: dotnet run -c Release --project bench/Compression.Benchmarks -- [--iterations N] [--warmup N] [--threads N] [--batch N] [--models a,b] [--large]\n" +
        "       dotnet run -c Release --project bench/Compression.Benchmarks -- --sparsity [--large] [--models a,b] [--iterations N] [--warmup N]\n" +
        "       dotnet run -c Release --project bench/Compression.Benchmarks -- --search [--models a,b] [--search-time-limit S]\n" +
        "       dotnet run -c Release --project bench/Compression.Benchmarks -- --huge [DIR]\n" +
        "       dotnet run -c Release --project bench/Compression.Benchmarks -- --cache-hit [N]\n" +
        "       dotnet run -c Release --project bench/Compression.Benchmarks -- --build [--iterations N]\n" +
        "       dotnet run -c Release --project bench/Compression.Benchmarks -- --lowrank [--latency-only | --svd-only | --mlp]\n" +
        "  --iterations N  timed rounds per model (default 30; models under 1 ms run 20 times a round); the table gives the median\n" +
        "  --warmup N      untimed rounds first (default 5)\n" +
        "  --threads N     intra-op threads (default 1; 0: ONNX Runtime's default; above 1 with session.intra_op.allow_spinning=0)\n" +
        "  --batch N       rows per timed run for the digits models, the layers and the 1 GB MLP (default 1; the ResNet and the\n" +
        "                  transformer's 128 tokens keep their fixed shapes)\n" +
        $"  --models a,b    which models (default all but {BenchModels.LargeMlp} and {BenchModels.Layers}): {string.Join(", ", BenchModels.Names)}\n" +
        $"                  ({BenchModels.Layers}: single MatMul layers from 64 x 256 to 2048 x 2048, fp32 against the MatMul forms)\n" +
        $"  --large         add {BenchModels.LargeMlp} (16 x 4096 x 4096, 1.07 GB; its compression time and memory too)\n" +
        "  --sparsity      only pruning, low-rank, clustering and distillation: the digits MLP and CNN (accuracy against torch's\n" +
        "                  one-shot pruning, bench/sparsity/torch_baseline.json; sizes; channel pruning's latency) and the ResNet\n" +
        $"                  (channel pruning's latency); --models picks among {BenchModels.DigitsMlp}, {BenchModels.DigitsCnn}, {BenchModels.ResNet};\n" +
        "                  with --large, each technique's time on the 16 x 4096 x 4096 MLP\n" +
        "  --search        only the budget search (Compress=auto, Goal=size): the digits MLP and CNN (MaxAccuracyDrop 0.5 and 1 on\n" +
        "                  test rows 0..179, accuracy on rows 180..359) and the transformer encoder (MinTop1Agreement 99.5 and 99\n" +
        "                  on 8 seeded inputs, agreement on 8 others), each against the best uniform setting within the same\n" +
        $"                  budget; --models picks among {BenchModels.DigitsMlp}, {BenchModels.DigitsCnn}, {BenchModels.Transformer}; --search-time-limit S sets\n" +
        "                  SearchTimeLimit (default: the transformer's from one timed trial, the digits' 300 s)\n" +
        "  --huge [DIR]    only the time and memory of compressing a 3 GB MLP kept in external data (45 x 4096 x 4096), written\n" +
        "                  to a new folder in DIR (default: the temp folder; 7 GB free needed), removed afterwards\n" +
        "  --cache-hit [N] only the time of onnx-compress restoring a 100 MB MLP from its compression cache: one run fills the\n" +
        "                  cache, then N hits (default 5), each a process of its own\n" +
        "  --lowrank       only low-rank factorization: one MatMul against the two thinner ones that replace it in ONNX Runtime\n" +
        "                  (shapes, ranks, batch 1 and 32), and the truncated SVD's time on 1024 x 1024 and 4096 x 4096 weights;\n" +
        "                  --mlp: the low-rank pass's time on the 16 x 4096 x 4096 MLP at LowRank=0.5\n" +
        "  --build         only what the package costs a build: an app with three OnnxModel items against the same app without\n" +
        "                  it, interleaved: a no-op build, a first build with a warm shared cache, a design-time build";

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
                    options = options with { Iterations = Number(arg, Next(), error, 1) ?? -1 };
                    break;
                case "--warmup":
                    options = options with { Warmup = Number(arg, Next(), error, 0) ?? -1 };
                    break;
                case "--threads":
                    options = options with { Threads = Number(arg, Next(), error, 0) ?? -1 };
                    break;
                case "--batch":
                    options = options with { Batch = Number(arg, Next(), error, 1) ?? -1 };
                    break;
                case "--models":
                    string[] names = (Next() ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    string? unknown = names.FirstOrDefault(n => !BenchModels.Names.Contains(n));
                    if (unknown is not null || names.Length == 0)
                    {
                        error.WriteLine($"--models takes names from: {string.Join(", ", BenchModels.Names)}; not '{unknown}'.\n{Usage}");
                        return null;
                    }

                    options = options with { Models = new HashSet<string>(names, StringComparer.Ordinal), ModelsGiven = true };
                    break;
                case "--large":
                    options = options with { Models = new HashSet<string>(options.Models.Append(BenchModels.LargeMlp), StringComparer.Ordinal) };
                    break;
                case "--huge":
                    options = options with { Huge = true, HugeWork = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? Path.GetFullPath(args[++i]) : null };
                    break;
                case "--cache-hit":
                    options = options with
                    {
                        CacheHits = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? Number(arg, Next(), error, 1) ?? -1 : 5,
                    };
                    break;
                case "--build":
                    options = options with { Build = true };
                    break;
                case "--search":
                    options = options with { Search = true };
                    break;
                case "--search-time-limit":
                    options = options with { SearchTimeLimit = Number(arg, Next(), error, 1) ?? -1 };
                    break;
                case "--sparsity":
                    options = options with { Sparsity = true };
                    break;
                case "-h" or "--help":
                    error.WriteLine(Usage);
                    return null;
                default:
                    error.WriteLine($"Unknown argument '{arg}'.\n{Usage}");
                    return null;
            }
        }

        return options.Iterations < 1 || options.Warmup < 0 || options.Threads < 0 || options.Batch < 1 || options.CacheHits < 0 || options.SearchTimeLimit < 0 ? null : options;
    }

    private static int? Number(string name, string? value, TextWriter error, int minimum)
    {
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= minimum)
        {
            return n;
        }

        error.WriteLine($"{name} takes a whole number of at least {minimum}, not '{value}'.\n{Usage}");
        return null;
    }
}
