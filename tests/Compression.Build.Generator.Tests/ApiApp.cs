using System.Globalization;
using System.Reflection;
using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// An app with the classes generated for models the tests make (<see cref="ApiModels"/>) and for the Digits sample
/// embedded in the assembly, and user code that calls every form of the generated API, compiled and loaded once.
/// </summary>
public sealed class ApiApp : IDisposable
{
    private const string ProbeSource = """
        using System;
        using System.Collections.Generic;
        using System.Threading;
        using System.Threading.Tasks;
        using Microsoft.ML.OnnxRuntime;
        using Sample.App;

        namespace Probe
        {
            internal static class ApiProbe
            {
                /// <summary>The shaped overload: sizes of the two open dimensions as parameters; the optional offset keeps its default.</summary>
                public static object[] RunShaped(string modelPath, long[] tokens, long[] mask, int batch, int sequence)
                {
                    using Tokens model = new Tokens(modelPath);
                    using Tokens.Outputs outputs = model.Run(tokens, mask, batch, sequence);
                    Tokens.TensorView<long> sum = outputs.SumView;
                    return new object[] { outputs.SumShape.ToArray(), sum.Span.ToArray(), sum[1, 2], sum.Slice(1).Span.ToArray(), sum.Rank };
                }

                public static long[] RunAsyncShaped(string modelPath, long[] tokens, long[] mask, int batch, int sequence)
                {
                    using Tokens model = new Tokens(modelPath);
                    using Tokens.Outputs outputs = model.RunAsync(tokens, mask, batch, sequence).GetAwaiter().GetResult();
                    return outputs.SumView.Span.ToArray();
                }

                /// <summary>The OrtValue overload with the optional input given, or left out (null).</summary>
                public static long[] RunWithOffset(string modelPath, long[]? offset)
                {
                    using Tokens model = new Tokens(modelPath);
                    using OrtValue tokens = OrtValue.CreateTensorValueFromMemory(new long[] { 1, 2, 3, 4 }, new long[] { 2, 2 });
                    using OrtValue mask = OrtValue.CreateTensorValueFromMemory(new long[] { 10, 20, 30, 40 }, new long[] { 2, 2 });
                    using OrtValue? offsetValue = offset is null ? null : OrtValue.CreateTensorValueFromMemory(offset, new long[] { offset.Length });
                    using Tokens.Outputs outputs = offsetValue is null ? model.Run(tokens, mask) : model.Run(tokens, mask, offsetValue);
                    return outputs.SumView.Span.ToArray();
                }

                public static string RunWithWrongOffset(string modelPath)
                {
                    using Tokens model = new Tokens(modelPath);
                    using OrtValue tokens = OrtValue.CreateTensorValueFromMemory(new long[4], new long[] { 2, 2 });
                    using OrtValue mask = OrtValue.CreateTensorValueFromMemory(new long[4], new long[] { 2, 2 });
                    using OrtValue offset = OrtValue.CreateTensorValueFromMemory(new long[2], new long[] { 2 });
                    try
                    {
                        model.Run(tokens, mask, offset).Dispose();
                        return "accepted";
                    }
                    catch (ArgumentException e)
                    {
                        return e.ParamName + ": " + e.Message;
                    }
                }

                /// <summary>A binding with and without the optional input, and the bytes 100 steady-state runs allocate.</summary>
                public static object[] BindTokens(string modelPath)
                {
                    long[] tokens = { 1, 2, 3, 4, 5, 6 };
                    long[] mask = new long[6];
                    long[] offset = { -1 };
                    long[] sum = new long[6];
                    long[] sumWithOffset = new long[6];
                    using Tokens model = new Tokens(modelPath);
                    using OrtValue tokensValue = OrtValue.CreateTensorValueFromMemory(tokens, new long[] { 2, 3 });
                    using OrtValue maskValue = OrtValue.CreateTensorValueFromMemory(mask, new long[] { 2, 3 });
                    using OrtValue offsetValue = OrtValue.CreateTensorValueFromMemory(offset, new long[] { 1 });
                    using OrtValue sumValue = OrtValue.CreateTensorValueFromMemory(sum, new long[] { 2, 3 });
                    using OrtValue sumWithOffsetValue = OrtValue.CreateTensorValueFromMemory(sumWithOffset, new long[] { 2, 3 });
                    using Tokens.Binding withDefault = model.Bind(tokensValue, maskValue, sumValue);
                    using Tokens.Binding withOffset = model.Bind(tokensValue, maskValue, sumWithOffsetValue, offsetValue);
                    withDefault.Run();
                    withOffset.Run();
                    for (int i = 0; i < 10; i++)
                    {
                        withDefault.Run();
                    }

                    long allocated = long.MaxValue;
                    for (int window = 0; window < 5; window++)
                    {
                        long before = GC.GetAllocatedBytesForCurrentThread();
                        for (int i = 0; i < 100; i++)
                        {
                            withDefault.Run();
                        }

                        allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
                    }

                    return new object[] { sum, sumWithOffset, allocated };
                }

                public static object[] RunWidths(string modelPath)
                {
                    using Widths model = new Widths(modelPath);
                    using Widths.Outputs outputs = model.Run(
                        new sbyte[] { sbyte.MinValue, -1, 0, sbyte.MaxValue },
                        new byte[] { 0, 1, 254, byte.MaxValue },
                        new short[] { short.MinValue, -1, 1, short.MaxValue },
                        new ushort[] { 0, 1, 2, ushort.MaxValue },
                        new int[] { int.MinValue, -1, 1, int.MaxValue },
                        new uint[] { 0, 1, 2, uint.MaxValue },
                        new long[] { long.MinValue, -1, 1, long.MaxValue },
                        new ulong[] { 0, 1, 2, ulong.MaxValue },
                        new float[] { float.MinValue, -0.5f, float.Epsilon, float.MaxValue },
                        new double[] { double.MinValue, -0.5, double.Epsilon, double.MaxValue },
                        new bool[] { true, false, false, true },
                        new Float16[] { (Float16)(-2f), (Float16)0.5f, (Float16)1f, (Float16)65504f });
                    return new object[]
                    {
                        outputs.OutInt8View.Span.ToArray(), outputs.OutUint8View.Span.ToArray(), outputs.OutInt16View.Span.ToArray(),
                        outputs.OutUint16View.Span.ToArray(), outputs.OutInt32View.Span.ToArray(), outputs.OutUint32View.Span.ToArray(),
                        outputs.OutInt64View.Span.ToArray(), outputs.OutUint64View.Span.ToArray(), outputs.OutFloatView.Span.ToArray(),
                        outputs.OutDoubleView.Span.ToArray(), outputs.OutBoolView.Span.ToArray(),
                        Array.ConvertAll(outputs.OutFloat16View.Span.ToArray(), value => (float)value),
                        outputs.OutUint64Shape.ToArray(), outputs.OutUint64View[1, 1],
                    };
                }

                /// <summary>Three samples joined into one batch; returns the batch's shape and sample 2 of two outputs.</summary>
                public static object[] RunWidthsBatch(string modelPath, int secondSampleLength)
                {
                    using Widths model = new Widths(modelPath);
                    List<T[]> Samples<T>(Func<int, T> value) => new List<T[]>
                    {
                        new T[] { value(0), value(1) }, new T[secondSampleLength], new T[] { value(4), value(5) },
                    };

                    using Widths.Outputs outputs = model.RunBatch(
                        Samples(i => (sbyte)i), Samples(i => (byte)i), Samples(i => (short)i), Samples(i => (ushort)i),
                        Samples(i => i), Samples(i => (uint)i), Samples(i => (long)i), Samples(i => (ulong)i),
                        Samples(i => (float)i), Samples(i => (double)i), Samples(i => i % 2 == 1), Samples(i => (Float16)i));
                    return new object[] { outputs.OutInt32Shape.ToArray(), outputs.OutInt32View.Slice(2).Span.ToArray(), outputs.OutDoubleView.Slice(0).Span.ToArray() };
                }

                public static string ViewWithTooFewIndices(string modelPath)
                {
                    using Tokens model = new Tokens(modelPath);
                    using Tokens.Outputs outputs = model.Run(new long[4], new long[4], 2, 2);
                    try
                    {
                        return outputs.SumView[0].ToString();
                    }
                    catch (InvalidOperationException e)
                    {
                        return e.Message;
                    }
                }

                public static float[] ClassifyEmbedded(float[] pixels)
                {
                    using EmbeddedDigits model = new EmbeddedDigits();
                    using EmbeddedDigits.Outputs outputs = model.Run(pixels);
                    return outputs.LogitsView.Span.ToArray();
                }

                public static float[] ClassifyEmbeddedWithOptions(float[] pixels)
                {
                    using SessionOptions options = EmbeddedDigits.CreateSessionOptions();
                    options.IntraOpNumThreads = 1;
                    using EmbeddedDigits model = new EmbeddedDigits(options);
                    using EmbeddedDigits.Outputs outputs = model.Run(pixels);
                    return outputs.LogitsView.Span.ToArray();
                }

                public static float[] ClassifyFromFile(string modelPath, float[] pixels)
                {
                    using EmbeddedDigits model = new EmbeddedDigits(modelPath);
                    using EmbeddedDigits.Outputs outputs = model.Run(pixels);
                    return outputs.LogitsView.Span.ToArray();
                }

                public static string ResourceName() => EmbeddedDigits.ModelResourceName;

                /// <summary>
                /// Runs every row on its own, one after another, then the same rows from <paramref name="threads"/> threads at once
                /// on one instance, each thread going through all rows from another start, several times; returns whether every
                /// concurrent result equals the sequential one for its row, and how many concurrent runs there were.
                /// </summary>
                public static int[] RunConcurrently(float[] pixels, int threads, int rounds)
                {
                    int rows = pixels.Length / 64;
                    using EmbeddedDigits model = new EmbeddedDigits();
                    float[][] expected = new float[rows][];
                    for (int row = 0; row < rows; row++)
                    {
                        using EmbeddedDigits.Outputs outputs = model.Run(pixels.AsSpan(row * 64, 64).ToArray());
                        expected[row] = outputs.LogitsView.Span.ToArray();
                    }

                    int runs = 0;
                    int mismatches = 0;
                    using Barrier start = new Barrier(threads);
                    Thread[] workers = new Thread[threads];
                    for (int t = 0; t < threads; t++)
                    {
                        int offset = t;
                        workers[t] = new Thread(() =>
                        {
                            start.SignalAndWait();
                            for (int round = 0; round < rounds; round++)
                            {
                                for (int i = 0; i < rows; i++)
                                {
                                    int row = (i + offset * 7) % rows;
                                    using EmbeddedDigits.Outputs outputs = model.Run(pixels.AsSpan(row * 64, 64).ToArray());
                                    if (!outputs.LogitsView.Span.SequenceEqual(expected[row]))
                                    {
                                        Interlocked.Increment(ref mismatches);
                                    }

                                    Interlocked.Increment(ref runs);
                                }
                            }
                        });
                        workers[t].Start();
                    }

                    foreach (Thread worker in workers)
                    {
                        worker.Join();
                    }

                    return new[] { runs, mismatches };
                }

                /// <summary>
                /// Threads run the model in a loop until it is disposed; the model is disposed once they have run a while.
                /// Returns the runs that completed, those whose outputs were wrong, the threads that ended on ObjectDisposedException,
                /// the threads that ended on anything else, and whether a run after Dispose throws ObjectDisposedException (1).
                /// </summary>
                public static int[] DisposeWhileRunning(float[] pixels, int threads)
                {
                    EmbeddedDigits model = new EmbeddedDigits();
                    float[] sample = pixels.AsSpan(0, 64).ToArray();
                    float[] expected;
                    using (EmbeddedDigits.Outputs outputs = model.Run(sample))
                    {
                        expected = outputs.LogitsView.Span.ToArray();
                    }

                    int completed = 0;
                    int wrong = 0;
                    int disposedSeen = 0;
                    int otherFailures = 0;
                    Thread[] workers = new Thread[threads];
                    for (int t = 0; t < threads; t++)
                    {
                        bool async = t % 2 == 1;
                        workers[t] = new Thread(() =>
                        {
                            try
                            {
                                while (true)
                                {
                                    using EmbeddedDigits.Outputs outputs = async ? model.RunAsync(sample).GetAwaiter().GetResult() : model.Run(sample);
                                    if (!outputs.LogitsView.Span.SequenceEqual(expected))
                                    {
                                        Interlocked.Increment(ref wrong);
                                    }

                                    Interlocked.Increment(ref completed);
                                }
                            }
                            catch (ObjectDisposedException)
                            {
                                Interlocked.Increment(ref disposedSeen);
                            }
                            catch (Exception)
                            {
                                Interlocked.Increment(ref otherFailures);
                            }
                        });
                        workers[t].Start();
                    }

                    SpinWait.SpinUntil(() => Volatile.Read(ref completed) >= threads * 20);
                    model.Dispose();
                    foreach (Thread worker in workers)
                    {
                        worker.Join();
                    }

                    int refused = 0;
                    try
                    {
                        model.Run(sample).Dispose();
                    }
                    catch (ObjectDisposedException)
                    {
                        refused = 1;
                    }

                    model.Dispose();
                    return new[] { completed, wrong, disposedSeen, otherFailures, refused };
                }
            }
        }
        """;

    private readonly TemporaryFolder folder = new();

    public ApiApp()
    {
        TokensModel = ApiModels.WriteTokens(folder.Path);
        WidthsModel = ApiModels.WriteWidths(folder.Path);
        TokensSignature = ApiModels.SignatureOf(TokensModel, "Models/tokens.onnx");
        Run = GeneratorRun.Start(
            [
                Sidecar.For("tokens.onnx", TokensSignature),
                Sidecar.For("widths.onnx", ApiModels.SignatureOf(WidthsModel, "Models/widths.onnx")),
                Sidecar.For("digits.onnx", Signatures.Digits) with { ClassName = "EmbeddedDigits", ModelPath = "Models/digits.onnx", Embed = "true" },
            ],
            userSources: ProbeSource);
        Assembly = Run.LoadAssembly(
            [new ResourceDescription("Compression.Build/Models/digits.onnx", () => File.OpenRead(RepositoryPaths.DigitsModel), isPublic: true)]);
        WithoutResource = Run.LoadAssembly();
        Pixels = File.ReadLines(RepositoryPaths.DigitsTestData).Skip(1).Take(40)
            .SelectMany(line => line.Split(',').Skip(1)).Select(value => float.Parse(value, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>The pixels of the first rows of the Digits sample's test split, 64 per row.</summary>
    public float[] Pixels { get; }

    public string TokensModel { get; }

    public string WidthsModel { get; }

    public string TokensSignature { get; }

    internal GeneratorRun Run { get; }

    public Assembly Assembly { get; }

    /// <summary>The same app built without the embedded model.</summary>
    public Assembly WithoutResource { get; }

    public T Call<T>(string method, params object?[] arguments) => GeneratorRun.Call<T>(Assembly, "Probe.ApiProbe", method, arguments);

    public void Dispose() => folder.Dispose();
}
