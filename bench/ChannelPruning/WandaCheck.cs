using Compression.Core.Runtime;
using Compression.Onnx;
using Compression.Onnx.Protos;

static class WandaCheck
{
    static double Agree(float[] logits, int count, OnnxSession original, float[] pixels)
    {
        var o = original.Run(["pixels"], [new OnnxTensor<float>(pixels, [count, 64])], ["logits"])[0].As<float>().Span.ToArray();
        int same = 0;
        for (int r = 0; r < count; r++)
        {
            int a = 0, b = 0;
            for (int c = 1; c < 10; c++) { a = logits[r * 10 + c] > logits[r * 10 + a] ? c : a; b = o[r * 10 + c] > o[r * 10 + b] ? c : b; }
            same += a == b ? 1 : 0;
        }
        return (double)same / count;
    }

    public static void Run(string root, float[] pixels, int count)
    {
        var model = OnnxModelFile.Load(Path.Combine(root, "samples/Digits/Models/digits.onnx"));
        model.Graph.Output.Add(new ValueInfoProto { Name = "relu1" });
        using var s = new OnnxSession(OnnxModelFile.ToBytes(model), new OnnxSessionOptions { IntraOpThreads = 1 });
        var a = s.Run(["pixels"], [new OnnxTensor<float>(pixels, [count, 64])], ["relu1"])[0].As<float>().Span.ToArray();
        float[] w1 = model.Graph.Initializer.Single(t => t.Name == "fc1.weight").ToArray<float>();
        float[] w2 = model.Graph.Initializer.Single(t => t.Name == "fc2.weight").ToArray<float>();
        var mag = new double[256]; var wan = new double[256]; var energy = new double[256]; var w2n = new double[256];
        for (int c = 0; c < 256; c++)
        {
            for (int k = 0; k < 64; k++) mag[c] += w1[k * 256 + c] * w1[k * 256 + c];
            for (int r = 0; r < count; r++) energy[c] += a[r * 256 + c] * a[r * 256 + c];
            for (int o = 0; o < 256; o++) w2n[c] += w2[c * 256 + o] * w2[c * 256 + o];
            wan[c] = Math.Sqrt(energy[c] * w2n[c]);
        }
        foreach (var (name, score) in new[] { ("magnitude", mag), ("wanda", wan) })
        {
            var removed = Enumerable.Range(0, 256).OrderBy(c => score[c]).Take(128).ToArray();
            double err = 0, total = 0;
            for (int r = 0; r < count; r++)
                for (int o = 0; o < 256; o++)
                {
                    double e = 0, t = 0;
                    foreach (int c in removed) e += a[r * 256 + c] * w2[c * 256 + o];
                    for (int c = 0; c < 256; c++) t += a[r * 256 + c] * w2[c * 256 + o];
                    err += e * e; total += t * t;
                }
            var zeroed = OnnxModelFile.Load(Path.Combine(root, "samples/Digits/Models/digits.onnx"));
            int wi = zeroed.Graph.Initializer.ToList().FindIndex(t => t.Name == "fc1.weight");
            int bi = zeroed.Graph.Initializer.ToList().FindIndex(t => t.Name == "fc1.bias");
            float[] zw = (float[])w1.Clone(); float[] zb = zeroed.Graph.Initializer[bi].ToArray<float>();
            foreach (int c in removed) { zb[c] = 0; for (int k = 0; k < 64; k++) zw[k * 256 + c] = 0; }
            zeroed.Graph.Initializer[wi] = TensorValues.Create<float>("fc1.weight", [64, 256], zw);
            zeroed.Graph.Initializer[bi] = TensorValues.Create<float>("fc1.bias", [256], zb);
            using var zs = new OnnxSession(OnnxModelFile.ToBytes(zeroed), new OnnxSessionOptions { IntraOpThreads = 1 });
            var logits = zs.Run(["pixels"], [new OnnxTensor<float>(pixels, [count, 64])], ["logits"])[0].As<float>().Span.ToArray();
            Console.WriteLine($"{name}: first-layer-only accuracy vs original argmax agreement {Agree(logits, count, s, pixels):P2}");
            Console.WriteLine($"{name}: relative fc2 error {err / total:F4}; dead removed {removed.Count(c => energy[c] == 0)}; dead total {energy.Count(e => e == 0)}");
        }
    }
}
