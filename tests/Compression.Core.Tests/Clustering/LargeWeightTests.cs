using System.Diagnostics;
using Compression.Core.Passes;
using Compression.Core.Passes.Clustering;
using Compression.Core.Runtime;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Xunit.Abstractions;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Clustering;

/// <summary>A 4096 x 4096 weight (16.7 M values): clustered whole, the time it took written out (a figure, not a gate).</summary>
public sealed class LargeWeightTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(4, ClusteringSettings.PerTensor)]
    [InlineData(4, ClusteringSettings.PerChannel)]
    [InlineData(3, ClusteringSettings.PerTensor)]
    public void A_4096_square_weight_is_clustered_to_at_most_2B_values_per_codebook(int bits, string granularity)
    {
        const int n = 4096;
        var random = new Random(17);
        var values = new float[n * n];
        for (int i = 0; i < values.Length; i++)
        {
            // Roughly normal, as trained weights are: the sum of three uniforms.
            values[i] = (float)((random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 0.02);
        }

        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 1, n).Output("y", DataType.Float, 1, n)
            .Initializer("w", [n, n], values)
            .Node("MatMul", ["x", "w"], ["y"]).Build();
        var clock = Stopwatch.StartNew();
        (ModelProto clustered, PassResult pass) = ClusteringPassTests.Cluster(model, ClusteringPassTests.Settings(bits, granularity));
        clock.Stop();
        TensorChange change = Assert.Single(pass.Changed);
        output.WriteLine($"4096 x 4096, Cluster={bits} {granularity}: {clock.Elapsed.TotalSeconds:0.00} s; {change.BytesBefore:N0} -> {change.BytesAfter:N0} bytes, max abs error {change.MaxAbsError:G3}");

        // Codes at B bits, plus the codebooks.
        long codebooks = granularity == ClusteringSettings.PerChannel ? n : 1;
        Assert.InRange(change.BytesAfter, ((long)n * n * bits / 8) + (codebooks * (4L << bits)), ((long)n * n * bits / 8) + (codebooks * ((4L << bits) + 4)) + 200);
        // Each value is within half the widest gap of its codebook, which the range over 2^B - 1 steps bounds from below.
        Assert.True(change.MaxAbsError < 0.03 * 2 / ((1 << bits) - 1) * 2, $"max abs error {change.MaxAbsError}");

        // The codes as stored: B bits each (packed nibbles or bit planes).
        TensorProto codes = clustered.Graph.Initializer.Single(t => t.Name == "w_codes");
        Assert.Equal((long)n * n * bits / 8, codes.RawData.Length);

        // The deployed size of the 67 MB original: what deflate costs at each level.
        byte[] file = OnnxModelFile.ToBytes(model);
        foreach (System.IO.Compression.CompressionLevel level in new[] { System.IO.Compression.CompressionLevel.Optimal, System.IO.Compression.CompressionLevel.Fastest })
        {
            clock.Restart();
            using var sink = new MemoryStream();
            using (var deflate = new System.IO.Compression.DeflateStream(sink, level, leaveOpen: true))
            {
                deflate.Write(file);
            }

            output.WriteLine($"deflate {level} of the {file.Length:N0}-byte original: {clock.Elapsed.TotalSeconds:0.00} s, {sink.Length:N0} bytes");
        }

        // ONNX Runtime expands the codes as it loads the model; then it runs as the float original does.
        var inputs = new Dictionary<string, OnnxTensor> { ["x"] = Ort.RandomFloats(5, 1, n) };
        clock.Restart();
        using var originalSession = new OnnxSession(OnnxModelFile.ToBytes(model), Ort.Options());
        TimeSpan originalLoad = clock.Elapsed;
        clock.Restart();
        using var clusteredSession = new OnnxSession(OnnxModelFile.ToBytes(clustered), Ort.Options());
        TimeSpan clusteredLoad = clock.Elapsed;
        output.WriteLine($"session created in {originalLoad.TotalSeconds:0.00} s (original), {clusteredLoad.TotalSeconds:0.00} s (clustered, folding the codes)");
        double cosine = Ort.Cosine(originalSession.Run(inputs)["y"].As<float>().Span, clusteredSession.Run(inputs)["y"].As<float>().Span);
        Assert.True(cosine > (bits >= 4 ? 0.99 : 0.97), $"cosine {cosine}");
    }
}
