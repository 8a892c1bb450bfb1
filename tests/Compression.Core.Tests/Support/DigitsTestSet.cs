using System.Globalization;
using Compression.Core.Runtime;

namespace Compression.Core.Tests.Support;

/// <summary>The digits sample's test split (samples/Digits/Data/digits-test.csv): label, then 64 raw pixel values per line.</summary>
internal sealed class DigitsTestSet
{
    public const int Pixels = 64;
    public const int Classes = 10;

    private DigitsTestSet(float[] pixels, int[] labels)
    {
        PixelValues = pixels;
        Labels = labels;
    }

    /// <summary>All images, row after row, as the model's <c>pixels</c> input takes them.</summary>
    public float[] PixelValues { get; }

    public int[] Labels { get; }

    public int Count => Labels.Length;

    public static DigitsTestSet Load()
    {
        string[] lines = File.ReadAllLines(RepositoryPaths.DigitsTestData);
        Assert.StartsWith("label,p0,", lines[0], StringComparison.Ordinal);
        var labels = new List<int>();
        var pixels = new List<float>();
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            string[] fields = line.Split(',');
            Assert.Equal(1 + Pixels, fields.Length);
            labels.Add(int.Parse(fields[0], CultureInfo.InvariantCulture));
            pixels.AddRange(fields.Skip(1).Select(f => float.Parse(f, CultureInfo.InvariantCulture)));
        }

        return new DigitsTestSet([.. pixels], [.. labels]);
    }

    /// <summary>
    /// Writes images <paramref name="first"/> to <paramref name="first"/> + <paramref name="rows"/> - 1 and their labels into
    /// <paramref name="folder"/> as NumPy samples (<c>pixels.npy</c>, <c>labels.npy</c>), as ValidationData and CalibrationData
    /// take them, and returns the folder.
    /// </summary>
    public string WriteSamples(string folder, int first, int rows) => Compression.Testing.LabelledDigits.Write(folder, first, rows);

    /// <summary>The first <paramref name="count"/> images as a [count, 64] tensor.</summary>
    public OnnxTensor<float> Images(int count) => new(PixelValues.AsSpan(0, count * Pixels).ToArray(), [count, Pixels]);

    /// <summary>The share of images whose largest logit is their label's, running the model in <paramref name="session"/>.</summary>
    public double Accuracy(OnnxSession session)
    {
        OnnxTensor[] outputs = session.Run(["pixels"], [Images(Count)], ["logits"]);
        ReadOnlySpan<float> logits = outputs[0].As<float>().Span;
        int correct = 0;
        for (int i = 0; i < Count; i++)
        {
            ReadOnlySpan<float> row = logits.Slice(i * Classes, Classes);
            int predicted = 0;
            for (int c = 1; c < Classes; c++)
            {
                predicted = row[c] > row[predicted] ? c : predicted;
            }

            correct += predicted == Labels[i] ? 1 : 0;
        }

        return (double)correct / Count;
    }
}
