using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Microsoft.ML.OnnxRuntime;

namespace Compression.GeneratedApi.Benchmarks;

/// <summary>
/// One run of the compressed digits MLP, made through the generated class and directly on the
/// <see cref="InferenceSession"/> it wraps, with the same session options, the same input memory and, for the bound
/// runs, the same caller-allocated outputs, one intra-op thread each. Each category pairs a generated call with its
/// direct baseline.
/// </summary>
[MemoryDiagnoser]
[InProcess]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GeneratedApiBenchmarks
{
    private static readonly string[] InputNames = ["pixels"];
    private static readonly string[] OutputNames = ["logits", "probabilities"];

    private Digits digits = null!;
    private InferenceSession session = null!;
    private RunOptions runOptions = null!;
    private float[] pixels = null!;
    private OrtValue input = null!;
    private OrtValue[] inputs = null!;
    private OrtValue logits = null!;
    private OrtValue probabilities = null!;
    private Digits.Binding binding = null!;
    private OrtIoBinding ioBinding = null!;

    /// <summary>Rows per run: one image, or a batch.</summary>
    [Params(1, 64)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // One intra-op thread on both sides: on a 2-core machine ONNX Runtime's spinning thread pool makes batched
        // timings multimodal, which would hide a difference of a few percent.
        string model = Path.Combine(AppContext.BaseDirectory, Digits.ModelPath);
        using (SessionOptions options = Digits.CreateSessionOptions())
        {
            options.IntraOpNumThreads = 1;
            digits = new Digits(model, options);
            session = new InferenceSession(model, options);
        }

        runOptions = new RunOptions();
        var random = new Random(7);
        pixels = new float[Batch * 64];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = random.Next(17);
        }

        input = OrtValue.CreateTensorValueFromMemory(pixels, [Batch, 64]);
        inputs = [input];
        logits = OrtValue.CreateTensorValueFromMemory(new float[Batch * 10], [Batch, 10]);
        probabilities = OrtValue.CreateTensorValueFromMemory(new float[Batch * 10], [Batch, 10]);
        binding = digits.Bind(input, logits, probabilities);
        ioBinding = session.CreateIoBinding();
        ioBinding.BindInput("pixels", input);
        ioBinding.BindOutput("logits", logits);
        ioBinding.BindOutput("probabilities", probabilities);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        binding.Dispose();
        ioBinding.Dispose();
        input.Dispose();
        logits.Dispose();
        probabilities.Dispose();
        runOptions.Dispose();
        session.Dispose();
        digits.Dispose();
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Run(OrtValue)")]
    public float Direct_InferenceSession_Run()
    {
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, InputNames, inputs, OutputNames);
        return results.First().GetTensorDataAsSpan<float>()[0];
    }

    [Benchmark, BenchmarkCategory("Run(OrtValue)")]
    public float Generated_Run()
    {
        using Digits.Outputs outputs = digits.Run(input);
        return outputs.Logits.GetTensorDataAsSpan<float>()[0];
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Run(float[])")]
    public float Direct_InferenceSession_Run_over_an_array()
    {
        using OrtValue value = OrtValue.CreateTensorValueFromMemory(pixels, [Batch, 64]);
        using IDisposableReadOnlyCollection<OrtValue> results = session.Run(runOptions, InputNames, [value], OutputNames);
        return results.First().GetTensorDataAsSpan<float>()[0];
    }

    [Benchmark, BenchmarkCategory("Run(float[])")]
    public float Generated_Run_over_an_array()
    {
        using Digits.Outputs outputs = digits.Run(pixels);
        return outputs.Logits.GetTensorDataAsSpan<float>()[0];
    }

    [Benchmark(Baseline = true), BenchmarkCategory("Bound")]
    public void Direct_InferenceSession_RunWithBinding() => session.RunWithBinding(runOptions, ioBinding);

    [Benchmark, BenchmarkCategory("Bound")]
    public void Generated_Binding_Run() => binding.Run();
}
