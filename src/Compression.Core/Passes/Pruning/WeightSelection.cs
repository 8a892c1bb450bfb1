namespace Compression.Core.Passes.Pruning;

/// <summary>
/// Chooses which weights go from their scores: the smallest scores of a group (unstructured), or the N smallest of every
/// M consecutive scores (N:M). Ties are broken by position (the earlier goes first), so a choice depends only on the
/// scores, never on thread timing or sort stability.
/// </summary>
public static class WeightSelection
{
    /// <summary>How many of <paramref name="count"/> weights a fraction removes: <c>round(fraction · count)</c>, halves away from zero.</summary>
    public static long Removed(double fraction, long count) => (long)Math.Round(fraction * count, MidpointRounding.AwayFromZero);

    /// <summary>
    /// Marks in <paramref name="pruned"/> the <paramref name="remove"/> positions of <paramref name="scores"/> with the smallest
    /// scores (ties: the earlier position). Positions already marked stay marked and count towards <paramref name="remove"/>.
    /// </summary>
    public static void Smallest(ReadOnlySpan<double> scores, Span<bool> pruned, long remove)
    {
        if (scores.Length != pruned.Length)
        {
            throw new ArgumentException("The scores and the mask differ in length.");
        }

        long already = 0;
        foreach (bool p in pruned)
        {
            already += p ? 1 : 0;
        }

        remove = Math.Min(remove, scores.Length) - already;
        if (remove <= 0)
        {
            return;
        }

        // The remove-th smallest score among the positions still kept, found by selection (linear time), then every score
        // below it and, in position order, as many equal to it as are needed.
        double[] rented = System.Buffers.ArrayPool<double>.Shared.Rent((int)(scores.Length - already));
        Span<double> candidates = rented.AsSpan(0, (int)(scores.Length - already));
        int c = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (!pruned[i])
            {
                candidates[c++] = scores[i];
            }
        }

        double threshold = Select(candidates, (int)(remove - 1));
        System.Buffers.ArrayPool<double>.Shared.Return(rented);
        long below = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (!pruned[i] && scores[i] < threshold)
            {
                pruned[i] = true;
                below++;
            }
        }

        long equal = remove - below;
        for (int i = 0; i < scores.Length && equal > 0; i++)
        {
            if (!pruned[i] && scores[i] == threshold)
            {
                pruned[i] = true;
                equal--;
            }
        }
    }

    /// <summary>
    /// In every row of <paramref name="rowLength"/> scores, each group of <paramref name="m"/> consecutive positions loses its
    /// <paramref name="n"/> smallest (ties: the earlier position). <paramref name="rowLength"/> must be a multiple of <paramref name="m"/>.
    /// </summary>
    public static void NOfM(ReadOnlySpan<double> scores, Span<bool> pruned, int rowLength, int n, int m)
    {
        if (rowLength % m != 0 || scores.Length % rowLength != 0 || scores.Length != pruned.Length)
        {
            throw new ArgumentException($"Rows of {rowLength} do not split into groups of {m}.");
        }

        Span<int> order = stackalloc int[m];
        for (int start = 0; start < scores.Length; start += m)
        {
            Group(scores.Slice(start, m), pruned.Slice(start, m), n, order);
        }
    }

    /// <summary>Marks the <paramref name="n"/> smallest of one group of scores (ties: the earlier position).</summary>
    internal static void Group(ReadOnlySpan<double> scores, Span<bool> pruned, int n, Span<int> order)
    {
        int m = scores.Length;
        for (int i = 0; i < m; i++)
        {
            order[i] = i;
        }

        // Insertion sort by (score, position): M is at most 32.
        for (int i = 1; i < m; i++)
        {
            int current = order[i];
            int j = i - 1;
            while (j >= 0 && scores[order[j]] > scores[current])
            {
                order[j + 1] = order[j];
                j--;
            }

            order[j + 1] = current;
        }

        for (int i = 0; i < n; i++)
        {
            pruned[order[i]] = true;
        }
    }

    /// <summary>The <paramref name="k"/>-th smallest value (from 0) of <paramref name="values"/>, which it reorders.</summary>
    internal static double Select(Span<double> values, int k)
    {
        int low = 0, high = values.Length - 1;
        while (low < high)
        {
            // Median of three as the pivot, then a three-way partition: deterministic, and linear on many equal values.
            int middle = low + ((high - low) / 2);
            double a = values[low], b = values[middle], z = values[high];
            double pivot = Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), z));
            int lt = low, i = low, gt = high;
            while (i <= gt)
            {
                if (values[i] < pivot)
                {
                    (values[lt], values[i]) = (values[i], values[lt]);
                    lt++;
                    i++;
                }
                else if (values[i] > pivot)
                {
                    (values[i], values[gt]) = (values[gt], values[i]);
                    gt--;
                }
                else
                {
                    i++;
                }
            }

            if (k < lt)
            {
                high = lt - 1;
            }
            else if (k > gt)
            {
                low = gt + 1;
            }
            else
            {
                return pivot;
            }
        }

        return values[k];
    }

    /// <summary>
    /// Seeded scores in [0, 1) for <c>PruneCriterion=random</c>: SplitMix64 from a seed taken from the tensor's name (FNV-1a),
    /// so that a weight's choice depends on its name and size only, not on the order of the layers or the machine.
    /// </summary>
    public static double[] RandomScores(string tensorName, int count)
    {
        ulong state = 14695981039346656037UL;
        foreach (char ch in tensorName)
        {
            state = (state ^ ch) * 1099511628211UL;
        }

        var scores = new double[count];
        for (int i = 0; i < count; i++)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            scores[i] = (z >> 11) * (1.0 / (1UL << 53));
        }

        return scores;
    }
}
