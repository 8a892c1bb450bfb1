using System.Globalization;
using System.Reflection;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// An app with the Digits sample's signature and user code that calls the generated <c>Sample.App.Digits</c> class
/// the way an app would, compiled and loaded once for the tests that run it in ONNX Runtime.
/// </summary>
public sealed class DigitsApp
{
    /// <summary>Where the app expects the model, relative to its folder, as the build's OnnxModelPath says.</summary>
    public const string ModelPath = "Models/digits.onnx";

    private const string ProbeSource = """
        using System;
        using System.Collections.Generic;
        using System.Threading;
        using Microsoft.ML.OnnxRuntime;
        using Sample.App;

        namespace Probe
        {
            internal static class DigitsProbe
            {
                public static float[][] Classify(string modelPath, float[] pixels)
                {
                    using Digits model = new Digits(modelPath);
                    using Digits.Outputs fromArray = model.Run(pixels);
                    using OrtValue input = OrtValue.CreateTensorValueFromMemory(pixels, new long[] { pixels.Length / 64, 64 });
                    using Digits.Outputs fromValue = model.Run(input);
                    float[] shape = Array.ConvertAll(fromArray.Logits.GetTensorTypeAndShape().Shape, dimension => (float)dimension);
                    return new[]
                    {
                        fromArray.Logits.GetTensorDataAsSpan<float>().ToArray(),
                        fromValue.Logits.GetTensorDataAsSpan<float>().ToArray(),
                        fromArray.Probabilities.GetTensorDataAsSpan<float>().ToArray(),
                        shape,
                    };
                }

                public static float[] ClassifyFromAppFolder(float[] pixels)
                {
                    using Digits model = new Digits();
                    using Digits.Outputs outputs = model.Run(pixels);
                    return outputs.Logits.GetTensorDataAsSpan<float>().ToArray();
                }

                public static float[] ClassifyWithOptions(string modelPath, float[] pixels)
                {
                    using SessionOptions options = Digits.CreateSessionOptions();
                    options.IntraOpNumThreads = 1;
                    options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
                    using Digits model = new Digits(modelPath, options);
                    using Digits.Outputs outputs = model.Run(pixels);
                    return outputs.Logits.GetTensorDataAsSpan<float>().ToArray();
                }

                public static float[] ClassifyAsync(string modelPath, float[] pixels)
                {
                    using Digits model = new Digits(modelPath);
                    using Digits.Outputs outputs = model.RunAsync(pixels).GetAwaiter().GetResult();
                    return outputs.Logits.GetTensorDataAsSpan<float>().ToArray();
                }

                public static bool RunAsyncCancelledBeforeStart(string modelPath, float[] pixels)
                {
                    using Digits model = new Digits(modelPath);
                    using var cancel = new CancellationTokenSource();
                    cancel.Cancel();
                    try
                    {
                        model.RunAsync(pixels, cancel.Token).GetAwaiter().GetResult().Dispose();
                        return false;
                    }
                    catch (OperationCanceledException)
                    {
                        return true;
                    }
                }

                /// <summary>Binds caller buffers, runs twice with new pixels, and returns the logits of both runs and the bytes a window of 100 runs allocates in steady state.</summary>
                public static object[] ClassifyBound(string modelPath, float[] pixels)
                {
                    int rows = pixels.Length / 64;
                    float[] input = new float[pixels.Length];
                    float[] logits = new float[rows * 10];
                    float[] probabilities = new float[rows * 10];
                    using Digits model = new Digits(modelPath);
                    using OrtValue inputValue = OrtValue.CreateTensorValueFromMemory(input, new long[] { rows, 64 });
                    using OrtValue logitsValue = OrtValue.CreateTensorValueFromMemory(logits, new long[] { rows, 10 });
                    using OrtValue probabilitiesValue = OrtValue.CreateTensorValueFromMemory(probabilities, new long[] { rows, 10 });
                    using Digits.Binding binding = model.Bind(inputValue, logitsValue, probabilitiesValue);

                    binding.Run();
                    float[] zeros = (float[])logits.Clone();
                    pixels.CopyTo(input, 0);
                    for (int i = 0; i < 10; i++)
                    {
                        binding.Run();
                    }

                    // Steady state: the fewest bytes any of five windows of 100 runs allocated. A window can catch a
                    // one-off allocation of the runtime's own (tiered compilation), which no run repeats.
                    long allocated = long.MaxValue;
                    for (int window = 0; window < 5; window++)
                    {
                        long before = GC.GetAllocatedBytesForCurrentThread();
                        for (int i = 0; i < 100; i++)
                        {
                            binding.Run();
                        }

                        allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
                    }
                    return new object[] { zeros, (float[])logits.Clone(), allocated };
                }

                public static string BindWrongOutput(string modelPath)
                {
                    using Digits model = new Digits(modelPath);
                    using OrtValue input = OrtValue.CreateTensorValueFromMemory(new float[64], new long[] { 1, 64 });
                    using OrtValue good = OrtValue.CreateTensorValueFromMemory(new float[10], new long[] { 1, 10 });
                    using OrtValue wrong = OrtValue.CreateTensorValueFromMemory(new float[9], new long[] { 1, 9 });
                    try
                    {
                        model.Bind(input, good, wrong).Dispose();
                        return "accepted";
                    }
                    catch (ArgumentException e)
                    {
                        return e.ParamName + ": " + e.Message;
                    }
                }

                public static string ModelPathConstant() => Digits.ModelPath;

                public static int RunTensor(string modelPath, long[] shape)
                {
                    using Digits model = new Digits(modelPath);
                    long count = 1;
                    foreach (long dimension in shape)
                    {
                        count *= dimension;
                    }

                    using OrtValue input = OrtValue.CreateTensorValueFromMemory(new float[count], shape);
                    using Digits.Outputs outputs = model.Run(input);
                    return outputs.Logits.GetTensorTypeAndShape().Shape.Length;
                }

                public static string RunWrongElementType(string modelPath)
                {
                    using Digits model = new Digits(modelPath);
                    using OrtValue input = OrtValue.CreateTensorValueFromMemory(new double[64], new long[] { 1, 64 });
                    try
                    {
                        model.Run(input).Dispose();
                        return "accepted";
                    }
                    catch (ArgumentException e)
                    {
                        return e.ParamName + ": " + e.Message;
                    }
                }

                public static int RunArray(string modelPath, float[]? pixels)
                {
                    using Digits model = new Digits(modelPath);
                    using Digits.Outputs outputs = model.Run(pixels!);
                    return outputs.Logits.GetTensorTypeAndShape().Shape.Length;
                }

                public static int RunNullTensor(string modelPath)
                {
                    using Digits model = new Digits(modelPath);
                    using Digits.Outputs outputs = model.Run((OrtValue)null!);
                    return outputs.Logits.GetTensorTypeAndShape().Shape.Length;
                }

                public static bool DisposeThenRun(string modelPath, float[] pixels)
                {
                    Digits model = new Digits(modelPath);
                    model.Dispose();
                    model.Dispose();
                    try
                    {
                        model.Run(pixels);
                        return false;
                    }
                    catch (ObjectDisposedException)
                    {
                        return true;
                    }
                }

                public static string MissingModel(string modelPath)
                {
                    try
                    {
                        new Digits(modelPath).Dispose();
                        return "loaded";
                    }
                    catch (System.IO.FileNotFoundException e)
                    {
                        return e.FileName ?? "";
                    }
                }
            }
        }
        """;

    public DigitsApp()
    {
        Run = GeneratorRun.Start(
            [Sidecar.For("digits.onnx", Signatures.Digits) with { ModelPath = ModelPath }],
            userSources: ProbeSource);
        Assembly = Run.LoadAssembly();
        (Labels, Pixels) = ReadTestData(rows: 120);

        // The build copies the compressed model to OnnxModelPath in the app's folder; do the same for this app.
        string appModel = Path.Combine(AppContext.BaseDirectory, ModelPath);
        Directory.CreateDirectory(Path.GetDirectoryName(appModel)!);
        File.Copy(RepositoryPaths.DigitsModel, appModel, overwrite: true);
    }

    internal GeneratorRun Run { get; }

    public Assembly Assembly { get; }

    /// <summary>The labels of the first rows of the sample's test split.</summary>
    public int[] Labels { get; }

    /// <summary>The pixels of those rows, 64 per row, row after row.</summary>
    public float[] Pixels { get; }

    public T Call<T>(string method, params object?[] arguments) => GeneratorRun.Call<T>(Assembly, "Probe.DigitsProbe", method, arguments);

    private static (int[] Labels, float[] Pixels) ReadTestData(int rows)
    {
        string[][] lines = File.ReadLines(RepositoryPaths.DigitsTestData).Skip(1).Take(rows).Select(line => line.Split(',')).ToArray();
        Assert.All(lines, fields => Assert.Equal(65, fields.Length));
        int[] labels = lines.Select(fields => int.Parse(fields[0], CultureInfo.InvariantCulture)).ToArray();
        float[] pixels = lines.SelectMany(fields => fields.Skip(1)).Select(value => float.Parse(value, CultureInfo.InvariantCulture)).ToArray();
        return (labels, pixels);
    }
}
