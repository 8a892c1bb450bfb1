using System.Globalization;

namespace Compression.Testing;

/// <summary>Labelled samples of the digits models from the sample's test split, as a NumPy sample folder: <c>pixels.npy</c> and <c>labels.npy</c>.</summary>
internal static class LabelledDigits
{
    private const int Pixels = 64;

    /// <summary>Writes rows <paramref name="first"/> to <paramref name="first"/> + <paramref name="rows"/> of the test split into <paramref name="folder"/> and returns it.</summary>
    public static string Write(string folder, int first, int rows)
    {
        string[] lines = File.ReadAllLines(RepositoryPaths.DigitsTestData).Skip(1 + first).Where(l => l.Length > 0).Take(rows).ToArray();
        if (lines.Length != rows)
        {
            throw new InvalidOperationException($"The digits test split has fewer than {first + rows} rows.");
        }

        var pixels = new float[rows * Pixels];
        var labels = new long[rows];
        for (int i = 0; i < rows; i++)
        {
            string[] fields = lines[i].Split(',');
            labels[i] = long.Parse(fields[0], CultureInfo.InvariantCulture);
            for (int p = 0; p < Pixels; p++)
            {
                pixels[(i * Pixels) + p] = float.Parse(fields[1 + p], CultureInfo.InvariantCulture);
            }
        }

        Directory.CreateDirectory(folder);
        NumPyWriter.Write<float>(Path.Combine(folder, "pixels.npy"), pixels, rows, Pixels);
        NumPyWriter.Write<long>(Path.Combine(folder, "labels.npy"), labels, rows);
        return folder;
    }
}
