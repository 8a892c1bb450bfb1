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
        using Compression.Runtime;
        using Sample.App;

        namespace Probe
        {
            internal static class DigitsProbe
            {
                public static float[][] Classify(string modelPath, float[] pixels)
                {
                    using Digits model = new Digits(modelPath);
                    Digits.Outputs fromArray = model.Run(pixels);
                    Digits.Outputs fromTensor = model.Run(OnnxTensor.FromArray(pixels, pixels.Length / 64, 64));
                    OnnxTensor<float> logits = fromArray.Logits;
                    float[] shape = Array.ConvertAll(logits.Shape.ToArray(), dimension => (float)dimension);
                    return new[] { logits.ToArray(), fromTensor.Logits.ToArray(), fromArray.Probabilities.ToArray(), shape };
                }

                public static float[] ClassifyFromAppFolder(float[] pixels)
                {
                    using Digits model = new Digits();
                    return model.Run(pixels).Logits.ToArray();
                }

                public static float[] ClassifyWithOptions(string modelPath, float[] pixels)
                {
                    OnnxSessionOptions options = Digits.CreateSessionOptions();
                    options.IntraOpThreads = 1;
                    using Digits model = new Digits(modelPath, options);
                    return model.Run(pixels).Logits.ToArray();
                }

                public static string[] DefaultSessionConfig()
                {
                    var entries = new List<string>();
                    foreach (KeyValuePair<string, string> entry in Digits.CreateSessionOptions().ConfigEntries)
                    {
                        entries.Add(entry.Key + "=" + entry.Value);
                    }

                    return entries.ToArray();
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

                    return model.Run(OnnxTensor.FromArray(new float[count], shape)).Logits.Shape.Length;
                }

                public static int RunArray(string modelPath, float[]? pixels)
                {
                    using Digits model = new Digits(modelPath);
                    return model.Run(pixels!).Logits.Shape.Length;
                }

                public static int RunNullTensor(string modelPath)
                {
                    using Digits model = new Digits(modelPath);
                    return model.Run((OnnxTensor<float>)null!).Logits.Shape.Length;
                }

                public static bool DisposeThenRun(string modelPath, float[] pixels)
                {
                    Digits model = new Digits(modelPath);
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
