namespace Compression.Core.Passes.Clustering;

/// <summary>
/// k-means in one dimension: the codebook of at most k values that a set of weights is rounded to, and each weight's
/// code. Optimal (dynamic programming over sorted points, as Ckmeans.1d.dp, with the divide-and-conquer split search)
/// on the sorted distinct values where that fits a budget of work per value; otherwise optimal among the clusterings
/// whose clusters are unions of the bins of a fine uniform histogram (up to 65,536 bins; each centroid is the exact mean
/// of its values). When the histogram is too coarse for the dynamic programme to pay (many clusters, few values),
/// Lloyd iterations from quantile seeds on the histogram. Values are then coded to their nearest entry. Everything is
/// deterministic: no random seeds, sums in a fixed order whatever the threads.
/// </summary>
internal static class ScalarKMeans
{
    /// <summary>Split-cost evaluations the dynamic programme may spend per value clustered.</summary>
    private const long WorkPerValue = 16;

    /// <summary>The work any weight may take, however small (a few milliseconds).</summary>
    private const long MinimumBudget = 1L << 24;

    /// <summary>The most work one weight may take (about a second).</summary>
    private const long MaximumBudget = 1L << 28;

    /// <summary>The dynamic programme's work for a weight of <paramref name="count"/> values: 16 split costs per value, within bounds.</summary>
    public static long BudgetFor(long count) => Math.Clamp(WorkPerValue * count, MinimumBudget, MaximumBudget);

    /// <summary>
    /// The work of one channel's codebook when a weight of <paramref name="count"/> values has one per channel: its share of
    /// a quarter of the weight's budget, or of the minimum (a 4096 x 4096 weight: histograms of 128 bins for 16 entries), so
    /// that thousands of small codebooks cost about what one large one does.
    /// </summary>
    public static long ChannelBudget(long count, int channels) => Math.Max(1, Math.Max(MinimumBudget, BudgetFor(count) / 4) / channels);

    /// <summary>The most points (histogram bins) the dynamic programme runs on.</summary>
    private const int MaxBins = 1 << 16;

    /// <summary>Lloyd iterations when there is no dynamic programme (quantile seeds).</summary>
    private const int LloydIterations = 20;

    /// <summary>
    /// The codebook for <paramref name="values"/>: at most <paramref name="clusters"/> values. With
    /// <paramref name="keepZero"/> and at least one exact zero among the values, entry 0 is exactly 0 (the zeros' code) and
    /// the nonzero values share the other <c>clusters - 1</c> entries, ascending; otherwise the entries ascend.
    /// <paramref name="budget"/> is the work the dynamic programme may do (split-cost evaluations); 0 chooses
    /// <see cref="BudgetFor"/> of the values' count.
    /// </summary>
    public static Codebook Fit(ReadOnlySpan<float> values, int clusters, bool keepZero, long budget = 0)
    {
        if (budget <= 0)
        {
            budget = BudgetFor(values.Length);
        }

        if (clusters < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(clusters), clusters, "At least one cluster.");
        }

        int zeros = keepZero ? CountZeros(values) : 0;
        if (zeros > 0)
        {
            float[] nonzero = new float[values.Length - zeros];
            int next = 0;
            foreach (float v in values)
            {
                if (v != 0f)
                {
                    nonzero[next++] = v;
                }
            }

            float[] rest = nonzero.Length == 0 || clusters == 1 ? [] : Centroids(nonzero, clusters - 1, budget);
            return new Codebook([0f, .. rest], ZeroCode: true);
        }

        return new Codebook(values.Length == 0 ? [0f] : Centroids(values, clusters, budget), ZeroCode: false);
    }

    /// <summary>Writes the code of each value: the nearest entry of <paramref name="codebook"/> (a zero to the zero code).</summary>
    public static void Assign(ReadOnlySpan<float> values, Codebook codebook, Span<byte> codes)
    {
        float[] entries = codebook.Values;
        int first = codebook.ZeroCode ? 1 : 0;
        int count = entries.Length - first;
        if (count <= 1)
        {
            for (int i = 0; i < values.Length; i++)
            {
                codes[i] = codebook.ZeroCode && (values[i] == 0f || count == 0) ? (byte)0 : (byte)first;
            }

            return;
        }

        // The boundaries between neighbouring entries: a value above boundary j belongs to entry j + 1 or later.
        var boundaries = new float[count - 1];
        for (int j = 0; j < boundaries.Length; j++)
        {
            boundaries[j] = (float)(((double)entries[first + j] + entries[first + j + 1]) / 2);
        }

        if (values.Length < ChunkSize)
        {
            // Few values (a channel): a binary search each costs less than the table would.
            for (int i = 0; i < values.Length; i++)
            {
                float v = values[i];
                codes[i] = codebook.ZeroCode && v == 0f ? (byte)0 : (byte)(first + Slot(boundaries, v));
            }

            return;
        }

        var coder = new Coder(boundaries, first, codebook.ZeroCode);

        // Chunks in parallel, each into its own codes: the result does not depend on the order.
        unsafe
        {
            fixed (float* source = values)
            fixed (byte* target = codes)
            {
                nint from = (nint)source;
                nint to = (nint)target;
                int length = values.Length;
                Parallel.For(0, (length + ChunkSize - 1) / ChunkSize, chunk =>
                {
                    int start = chunk * ChunkSize;
                    int size = Math.Min(ChunkSize, length - start);
                    coder.Code(new ReadOnlySpan<float>((float*)from + start, size), new Span<byte>((byte*)to + start, size));
                });
            }
        }
    }

    /// <summary>Values per chunk of the parallel loops.</summary>
    private const int ChunkSize = 1 << 18;

    /// <summary>
    /// Codes values by a table over a fine grid between the first and last boundary: a grid cell that no boundary
    /// crosses gives the code at once, the others are looked up by binary search.
    /// </summary>
    private sealed class Coder
    {
        private const int Cells = 1 << 14;
        private readonly float[] boundaries;
        private readonly int first;
        private readonly bool zeroCode;
        private readonly byte[] table = new byte[Cells];
        private readonly bool[] crossed = new bool[Cells];
        private readonly double low;
        private readonly double scale;

        public Coder(float[] boundaries, int first, bool zeroCode)
        {
            this.boundaries = boundaries;
            this.first = first;
            this.zeroCode = zeroCode;
            low = boundaries[0];
            double span = (double)boundaries[^1] - low;
            scale = span > 0 ? Cells / span : 0;
            for (int cell = 0; cell < Cells; cell++)
            {
                // The cell [low + cell / scale, low + (cell + 1) / scale): one code when both ends fall in the same slot.
                // Widened by a float step each way, so that rounding in the cell's index cannot put a value in the wrong slot.
                float a = MathF.BitDecrement(scale > 0 ? (float)(low + (cell / scale)) : boundaries[0]);
                float b = MathF.BitIncrement(scale > 0 ? (float)(low + ((cell + 1) / scale)) : boundaries[0]);
                int slotA = Slot(boundaries, a);
                int slotB = Slot(boundaries, b);
                table[cell] = (byte)(first + slotA);
                crossed[cell] = slotA != slotB || scale == 0;
            }
        }

        public void Code(ReadOnlySpan<float> values, Span<byte> codes)
        {
            int lastSlot = boundaries.Length;
            for (int i = 0; i < values.Length; i++)
            {
                float v = values[i];
                if (zeroCode && v == 0f)
                {
                    codes[i] = 0;
                    continue;
                }

                if (v <= boundaries[0])
                {
                    codes[i] = (byte)first;
                    continue;
                }

                if (v > boundaries[^1])
                {
                    codes[i] = (byte)(first + lastSlot);
                    continue;
                }

                int cell = Math.Min(Cells - 1, (int)((v - low) * scale));
                codes[i] = crossed[cell] ? (byte)(first + Slot(boundaries, v)) : table[cell];
            }
        }
    }

    /// <summary>The sum of squared differences between the values and their entries.</summary>
    public static double SquaredError(ReadOnlySpan<float> values, Codebook codebook, ReadOnlySpan<byte> codes)
    {
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            double d = (double)values[i] - codebook.Values[codes[i]];
            sum += d * d;
        }

        return sum;
    }

    /// <summary>The number of the <paramref name="boundaries"/> (ascending) that <paramref name="v"/> is above.</summary>
    private static int Slot(float[] boundaries, float v)
    {
        int lo = 0;
        int hi = boundaries.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (v > boundaries[mid])
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private static int CountZeros(ReadOnlySpan<float> values)
    {
        int zeros = 0;
        foreach (float v in values)
        {
            zeros += v == 0f ? 1 : 0;
        }

        return zeros;
    }

    /// <summary>At most <paramref name="k"/> ascending centroids of <paramref name="values"/> (none of them NaN).</summary>
    private static float[] Centroids(ReadOnlySpan<float> values, int k, long budget)
    {
        long n = values.Length;

        // Few values: the exact optimum on the sorted distinct values.
        if (k * n * Log2(n) <= budget)
        {
            float[] sorted = values.ToArray();
            Array.Sort(sorted);
            var points = new List<(double X, double W, double S1, double S2)>();
            for (int i = 0; i < sorted.Length;)
            {
                int j = i;
                while (j < sorted.Length && sorted[j] == sorted[i])
                {
                    j++;
                }

                double x = sorted[i];
                points.Add((x, j - i, x * (j - i), x * x * (j - i)));
                i = j;
            }

            return ToFloats(Optimal(points.ToArray(), k));
        }

        float min = System.Numerics.Tensors.TensorPrimitives.Min(values);
        float max = System.Numerics.Tensors.TensorPrimitives.Max(values);
        if (min == max)
        {
            return [min];
        }

        // The finest histogram the budget allows: the dynamic programme costs about k * bins * log2(bins).
        int bins = MaxBins;
        while (bins > 64 && (long)k * bins * Log2(bins) > budget)
        {
            bins /= 2;
        }

        (double X, double W, double S1, double S2)[] histogram = Histogram(values, min, max, bins);
        // The clusters are unions of bins, so their means are the exact means of their values.
        double[] centroids = bins >= 4 * k ? Optimal(histogram, k) : Lloyd(histogram, Quantiles(histogram, k), LloydIterations);
        return ToFloats(centroids);
    }

    private static long Log2(long n) => Math.Max(1, 64 - long.LeadingZeroCount(Math.Max(1, n)));

    private static float[] ToFloats(double[] centroids)
    {
        // Distinct ascending floats: two centroids that round to the same float become one entry.
        var result = new List<float>(centroids.Length);
        foreach (double c in centroids)
        {
            float f = (float)c;
            if (result.Count == 0 || f > result[^1])
            {
                result.Add(f);
            }
        }

        return [.. result];
    }

    /// <summary>
    /// The non-empty bins of a uniform histogram: each bin's mean, count, sum and sum of squares. Chunks of the values
    /// are counted in parallel, each into its own bins, and added in chunk order: the sums do not depend on the threads.
    /// </summary>
    private static (double X, double W, double S1, double S2)[] Histogram(ReadOnlySpan<float> values, float min, float max, int bins)
    {
        double scale = bins / ((double)max - min);
        int chunks = (values.Length + ChunkSize - 1) / ChunkSize;
        var counts = new long[chunks][];
        var sums = new double[chunks][];
        var squares = new double[chunks][];
        void Count(int chunk, ReadOnlySpan<float> part)
        {
            var count = new long[bins];
            var sum = new double[bins];
            var square = new double[bins];
            foreach (float v in part)
            {
                int b = Math.Min(bins - 1, (int)((v - (double)min) * scale));
                count[b]++;
                sum[b] += v;
                square[b] += (double)v * v;
            }

            counts[chunk] = count;
            sums[chunk] = sum;
            squares[chunk] = square;
        }

        if (chunks == 1)
        {
            // One chunk (a channel, called from a parallel loop over channels): no nested parallel loop.
            Count(0, values);
        }
        else
        {
            unsafe
            {
                fixed (float* source = values)
                {
                    nint from = (nint)source;
                    int length = values.Length;
                    Parallel.For(0, chunks, chunk =>
                    {
                        int start = chunk * ChunkSize;
                        Count(chunk, new ReadOnlySpan<float>((float*)from + start, Math.Min(ChunkSize, length - start)));
                    });
                }
            }
        }

        var points = new List<(double, double, double, double)>();
        for (int b = 0; b < bins; b++)
        {
            long count = 0;
            double sum = 0;
            double square = 0;
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                count += counts[chunk][b];
                sum += sums[chunk][b];
                square += squares[chunk][b];
            }

            if (count > 0)
            {
                points.Add((sum / count, count, sum, square));
            }
        }

        return [.. points];
    }

    /// <summary>
    /// The optimal k-means of weighted sorted points: D[q][j], the least sum of squares of points 0..j in q + 1
    /// clusters, from D[q - 1], where the best start of the last cluster does not decrease with j (divide and conquer).
    /// Returns the weighted mean of each cluster, ascending.
    /// </summary>
    private static double[] Optimal((double X, double W, double S1, double S2)[] points, int k)
    {
        int m = points.Length;
        if (m <= k)
        {
            return points.Select(p => p.S1 / p.W).ToArray();
        }

        // Prefix sums, centred on the mean for precision.
        double total = 0;
        double weight = 0;
        foreach ((double _, double w, double s1, double _) in points)
        {
            total += s1;
            weight += w;
        }

        double centre = total / weight;
        var w0 = new double[m + 1];
        var s1c = new double[m + 1];
        var s2c = new double[m + 1];
        for (int i = 0; i < m; i++)
        {
            (double _, double w, double s1, double s2) = points[i];
            w0[i + 1] = w0[i] + w;
            // Sum of (x - c) and (x - c)^2 over the values of point i.
            s1c[i + 1] = s1c[i] + (s1 - (w * centre));
            s2c[i + 1] = s2c[i] + (s2 - (2 * centre * s1) + (w * centre * centre));
        }

        double Cost(int i, int j)
        {
            double w = w0[j + 1] - w0[i];
            double s = s1c[j + 1] - s1c[i];
            return Math.Max(0, s2c[j + 1] - s2c[i] - (s * s / w));
        }

        var previous = new double[m];
        var current = new double[m];
        var starts = new int[k][];
        for (int j = 0; j < m; j++)
        {
            previous[j] = Cost(0, j);
        }

        starts[0] = new int[m];
        for (int q = 1; q < k; q++)
        {
            int[] start = starts[q] = new int[m];
            Solve(q, m - 1, q, m - 1);

            void Solve(int jLo, int jHi, int iLo, int iHi)
            {
                while (jLo <= jHi)
                {
                    int j = (jLo + jHi) >> 1;
                    double best = double.PositiveInfinity;
                    int bestI = Math.Max(iLo, q);
                    for (int i = Math.Max(iLo, q); i <= Math.Min(iHi, j); i++)
                    {
                        double cost = previous[i - 1] + Cost(i, j);
                        if (cost < best)
                        {
                            best = cost;
                            bestI = i;
                        }
                    }

                    current[j] = best;
                    start[j] = bestI;
                    // Left half recursively, right half in the loop.
                    if (jLo <= j - 1)
                    {
                        Solve(jLo, j - 1, iLo, bestI);
                    }

                    jLo = j + 1;
                    iLo = bestI;
                }
            }

            (previous, current) = (current, previous);
        }

        var centroids = new double[k];
        int end = m - 1;
        for (int q = k - 1; q >= 0; q--)
        {
            int begin = q == 0 ? 0 : starts[q][end];
            double w = w0[end + 1] - w0[begin];
            centroids[q] = centre + ((s1c[end + 1] - s1c[begin]) / w);
            end = begin - 1;
        }

        return centroids;
    }

    /// <summary>k seeds at the quantiles (q + 0.5) / k of the weighted points.</summary>
    private static double[] Quantiles((double X, double W, double S1, double S2)[] points, int k)
    {
        double total = points.Sum(p => p.W);
        var seeds = new double[Math.Min(k, points.Length)];
        int q = 0;
        double seen = 0;
        foreach ((double x, double w, double _, double _) in points)
        {
            seen += w;
            while (q < seeds.Length && seen >= (q + 0.5) * total / seeds.Length)
            {
                seeds[q++] = x;
            }
        }

        for (; q < seeds.Length; q++)
        {
            seeds[q] = points[^1].X;
        }

        return seeds.Distinct().Order().ToArray();
    }

    /// <summary>Lloyd iterations on weighted sorted points: each point to its nearest centroid, each centroid to its points' mean.</summary>
    private static double[] Lloyd((double X, double W, double S1, double S2)[] points, double[] centroids, int iterations)
    {
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            var w = new double[centroids.Length];
            var s = new double[centroids.Length];
            int c = 0;
            foreach ((double x, double pw, double s1, double _) in points)
            {
                while (c + 1 < centroids.Length && x > (centroids[c] + centroids[c + 1]) / 2)
                {
                    c++;
                }

                w[c] += pw;
                s[c] += s1;
            }

            bool moved = false;
            for (int j = 0; j < centroids.Length; j++)
            {
                double next = w[j] > 0 ? s[j] / w[j] : centroids[j];
                moved |= next != centroids[j];
                centroids[j] = next;
            }

            Array.Sort(centroids);
            if (!moved)
            {
                break;
            }
        }

        return centroids;
    }
}

/// <summary>The shared values of a clustered weight (or of one of its channels).</summary>
/// <param name="Values">The entries: ascending, or 0 first and then the nonzero entries ascending when <paramref name="ZeroCode"/>.</param>
/// <param name="ZeroCode">True when entry 0 is exactly 0 and is the code of the weight's zeros only.</param>
internal sealed record Codebook(float[] Values, bool ZeroCode);
