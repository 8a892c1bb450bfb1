using Compression.Core.Evaluation;

namespace Compression.Core.Passes.Quantization;

/// <summary>
/// Entropy calibration (as TensorRT's): the clipping threshold of a value is the one whose quantized distribution is
/// closest, in Kullback-Leibler divergence, to the value's own distribution with its outliers clipped into the last bin.
/// Works on the histogram of the value's magnitude; a value that is never negative spends all 255 levels on its one side,
/// one that is spends half on each.
/// </summary>
internal static class EntropyCalibration
{
    /// <summary>Histogram bins over the magnitude's range.</summary>
    public const int Bins = 2048;

    /// <summary>The magnitude beyond which values are clipped.</summary>
    public static float Threshold(HistogramCollector histogram)
    {
        bool oneSided = histogram.Low >= 0;
        double[] magnitude = oneSided ? histogram.Counts.Select(c => (double)c).ToArray() : Fold(histogram.Counts);
        int levels = oneSided ? 255 : 128;
        double width = (histogram.High - Math.Max(0, histogram.Low)) / magnitude.Length;
        int best = magnitude.Length;
        double bestDivergence = double.PositiveInfinity;
        for (int end = levels; end <= magnitude.Length; end++)
        {
            double divergence = Divergence(magnitude, end, levels);
            if (divergence < bestDivergence)
            {
                (bestDivergence, best) = (divergence, end);
            }
        }

        return (float)(best * width);
    }

    /// <summary>The counts of |x| from a histogram symmetric around zero.</summary>
    private static double[] Fold(long[] counts)
    {
        int half = counts.Length / 2;
        var folded = new double[half];
        for (int i = 0; i < half; i++)
        {
            folded[i] = counts[half + i] + counts[half - 1 - i];
        }

        return folded;
    }

    /// <summary>
    /// KL(P || Q): P is the first <paramref name="end"/> bins with the clipped rest added to the last; Q is the same bins
    /// without the clipped rest, merged into <paramref name="levels"/> levels and spread back over P's nonzero bins. The
    /// clipped mass is what Q lacks, so clipping more is paid for, and quantizing coarser is too.
    /// </summary>
    private static double Divergence(double[] counts, int end, int levels)
    {
        var reference = new double[end];
        Array.Copy(counts, reference, end);
        for (int i = end; i < counts.Length; i++)
        {
            reference[end - 1] += counts[i];
        }

        var quantized = new double[end];
        for (int level = 0; level < levels; level++)
        {
            int start = (int)((long)level * end / levels);
            int stop = (int)((long)(level + 1) * end / levels);
            double sum = 0;
            int nonzero = 0;
            for (int i = start; i < stop; i++)
            {
                sum += counts[i];
                nonzero += reference[i] > 0 ? 1 : 0;
            }

            for (int i = start; i < stop; i++)
            {
                quantized[i] = reference[i] > 0 ? sum / nonzero : 0;
            }
        }

        double referenceTotal = reference.Sum();
        double quantizedTotal = quantized.Sum();
        if (referenceTotal <= 0 || quantizedTotal <= 0)
        {
            return double.PositiveInfinity;
        }

        double divergence = 0;
        for (int i = 0; i < end; i++)
        {
            if (reference[i] > 0)
            {
                double p = reference[i] / referenceTotal;
                double q = Math.Max(quantized[i] / quantizedTotal, 1e-12);
                divergence += p * Math.Log(p / q);
            }
        }

        return divergence;
    }
}
