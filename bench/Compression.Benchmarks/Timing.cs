namespace Compression.Benchmarks;

/// <summary>Durations of repeated runs, in milliseconds.</summary>
internal sealed class Timing
{
    private readonly List<double> milliseconds = [];

    public void Add(TimeSpan elapsed) => milliseconds.Add(elapsed.TotalMilliseconds);

    /// <summary>The middle duration (the mean of the two middle ones for an even count).</summary>
    public double Median
    {
        get
        {
            double[] sorted = [.. milliseconds.Order()];
            int middle = sorted.Length / 2;
            return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        }
    }

    public double P90 => Percentile(90);

    /// <summary>The nearest-rank percentile.</summary>
    public double Percentile(double percent)
    {
        if (milliseconds.Count == 0)
        {
            return double.NaN;
        }

        double[] sorted = [.. milliseconds.Order()];
        int rank = (int)Math.Ceiling(percent / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
