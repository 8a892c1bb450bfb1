using System.Diagnostics;
using System.Globalization;
using Compression.Core.Passes.LowRank;
using Compression.Core.Runtime;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Benchmarks;

/// <summary>
/// What low-rank factorization costs and gains (<c>--lowrank</c>): the latency in ONNX Runtime of one MatMul against the two
/// thinner MatMuls that replace it, for several shapes and ranks, at batch 1 and 32 (one thread, the median of interleaved
/// runs); and the time of the truncated SVD of a 1024 x 1024 and a 4096 x 4096 weight at a quarter of the rank (half the
/// parameters).
/// </summary>
internal static class LowRankBenchmark
{
    public static int Run(string[] args)
    {
        if (args.Contains("--mlp"))
        {
            return FactorizeLargeMlp();
        }

        bool latency = !args.Contains("--svd-only");
        bool svd = !args.Contains("--latency-only");
        if (latency)
        {
            Console.WriteLine("| K x N | kept | rank | batch | MatMul (ms) | factorized (ms) | ratio |");
            Console.WriteLine("|---|---|---|---|---|---|---|");
            foreach ((int k, int n) in new[] { (64, 256), (256, 256), (1024, 1024), (1024, 4096), (4096, 4096) })
            {
                foreach (double kept in new[] { 0.25, 0.5, 0.75, 0.9 })
                {
                    int rank = Math.Max(1, (int)(kept * k * n / (k + n)));
                    foreach (int batch in new[] { 1, 32 })
                    {
                        (double full, double factorized) = Latency(k, n, rank, batch);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"| {k} x {n} | {kept:P0} | {rank} | {batch} | {full:F4} | {factorized:F4} | {factorized / full:F2} |"));
                    }
                }
            }
        }

        if (svd)
        {
            foreach (int size in new[] { 1024, 4096 })
            {
                float[] w = new GraphWriter(3).NormalValues((long)size * size, 1.0 / Math.Sqrt(size));
                TruncatedSvd.Compute(w, size, size, 8);
                var clock = Stopwatch.StartNew();
                SvdFactors factors = TruncatedSvd.Compute(w, size, size, size / 4);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Truncated SVD of a {size} x {size} weight to rank {size / 4}: {clock.Elapsed.TotalSeconds:F2} s (largest value {factors.Values[0]:F3})"));
            }
        }

        return 0;
    }

    /// <summary>The low-rank pass alone on the 16 x 4096 x 4096 MLP at LowRank=0.5, without calibration data.</summary>
    private static int FactorizeLargeMlp()
    {
        ModelProto proto = GeneratedModels.LargeMlp();
        Compression.Core.Ir.Model model = Compression.Core.Ir.Model.FromProto(proto);
        var settings = Compression.Core.CompressionSettings.Default.Set(LowRankSettings.LowRank, 0.5);
        var context = new Compression.Core.Passes.PassContext(model, Compression.Core.Settings.SettingsResolver.Resolve(settings, "large_mlp.onnx"), "large_mlp.onnx");
        var clock = Stopwatch.StartNew();
        Compression.Core.Passes.PassResult result = new LowRankPass().Run(context);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Low-rank pass on 16 x 4096 x 4096 at LowRank=0.5: {clock.Elapsed.TotalSeconds:F1} s, {result.Changed.Count} weights factorized"));
        foreach (Compression.Core.Passes.TensorChange change in result.Changed.Take(3))
        {
            Console.WriteLine($"  {change.Name}: {change.Technique}");
        }

        return 0;
    }

    private static (double Full, double Factorized) Latency(int k, int n, int rank, int batch)
    {
        var full = new GraphWriter(1);
        full.Normal("w", [k, n], 0.05);
        full.Node("MatMul", ["x", "w"], "y");
        var two = new GraphWriter(2);
        two.Normal("a", [k, rank], 0.05);
        two.Normal("b", [rank, n], 0.05);
        two.Node("MatMul", [two.Node("MatMul", ["x", "a"], "h"), "b"], "y");
        ValueInfoProto input = GraphWriter.Tensor("x", DataType.Float, "batch", k), output = GraphWriter.Tensor("y", DataType.Float, "batch", n);
        var options = new OnnxSessionOptions { IntraOpThreads = 1 };
        using var fullSession = new OnnxSession(OnnxModelFile.ToBytes(full.Model("full", "one MatMul", input, output)), options);
        using var twoSession = new OnnxSession(OnnxModelFile.ToBytes(two.Model("two", "two MatMuls", input, output)), options);
        var x = OnnxTensor.FromArray(new GraphWriter(4).NormalValues((long)batch * k, 1), [batch, k]);
        long work = (long)batch * k * n;
        int runs = (int)Math.Clamp(2e9 / Math.Max(work, 1) / 10, 20, 2000);
        var a = new Timing();
        var b = new Timing();
        for (int i = 0; i < runs + 5; i++)
        {
            foreach (bool first in i % 2 == 0 ? new[] { true, false } : new[] { false, true })
            {
                OnnxSession session = first ? fullSession : twoSession;
                var clock = Stopwatch.StartNew();
                session.Run(["x"], [x], ["y"]);
                if (i >= 5)
                {
                    (first ? a : b).Add(clock.Elapsed);
                }
            }
        }

        return (a.Median, b.Median);
    }
}
