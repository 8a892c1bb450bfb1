using System.Globalization;

namespace Samples.Digits;

/// <summary>The held-out UCI digits: 8x8 images with pixel values 0..16, one row per image, and their labels.</summary>
internal sealed class DigitsTestSet
{
    public const int PixelsPerImage = 64;

    private DigitsTestSet(float[] pixels, int[] labels)
    {
        Pixels = pixels;
        Labels = labels;
    }

    /// <summary>All images, row after row: <c>Count * 64</c> values.</summary>
    public float[] Pixels { get; }

    public int[] Labels { get; }

    public int Count => Labels.Length;

    /// <summary>Reads <c>label,p0,...,p63</c> lines after a header line.</summary>
    public static DigitsTestSet Load(string path)
    {
        string[] lines = File.ReadAllLines(path);
        var labels = new int[lines.Length - 1];
        var pixels = new float[labels.Length * PixelsPerImage];
        for (int row = 0; row < labels.Length; row++)
        {
            string[] fields = lines[row + 1].Split(',');
            labels[row] = int.Parse(fields[0], CultureInfo.InvariantCulture);
            for (int p = 0; p < PixelsPerImage; p++)
            {
                pixels[(row * PixelsPerImage) + p] = float.Parse(fields[p + 1], CultureInfo.InvariantCulture);
            }
        }

        return new DigitsTestSet(pixels, labels);
    }
}
