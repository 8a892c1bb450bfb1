namespace Compression.Core.Passes.LowRank;

/// <summary>
/// Chooses each layer's rank within a parameter budget from the singular values' energy. Every layer starts at rank 1;
/// then, greedily, the singular value with the largest gain per parameter is kept next, over all layers: its share of
/// its layer's energy (<c>σ_i² / |W|²</c>, or of the layer's output energy when whitened) over what one more rank costs
/// (<c>K + N</c> parameters). A layer's rank stops at the largest rank that pays (<see cref="Layer.MaxRank"/>); a
/// singular value that no longer fits the budget is passed over while smaller layers' values still fit. Budget left at
/// the end keeps whole the layers that stopped at their largest paying rank with the most energy still lost, where it
/// covers their full size. A value below <see cref="NegligibleEnergy"/> of its layer's energy is never kept. Ties go to the earlier layer, so the choice is the same from run to run.
/// </summary>
public static class RankAllocation
{
    /// <summary>A singular value whose square is below this share of its layer's energy is not worth a rank.</summary>
    public const double NegligibleEnergy = 1e-6;

    /// <summary>A layer to give a rank.</summary>
    /// <param name="K">Inputs.</param>
    /// <param name="N">Outputs.</param>
    /// <param name="Values">Its singular values, largest first (at least <paramref name="MaxRank"/> of them, or all it has).</param>
    /// <param name="Energy">Its total energy (the sum of all squared singular values).</param>
    /// <param name="MaxRank">The largest rank at which it pays to factorize it.</param>
    public sealed record Layer(int K, int N, IReadOnlyList<double> Values, double Energy, int MaxRank);

    /// <summary>The rank of each layer (0: kept whole) within <paramref name="budget"/> parameters.</summary>
    public static int[] Choose(IReadOnlyList<Layer> layers, double budget)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var ranks = new int[layers.Count];
        double used = 0;
        for (int i = 0; i < layers.Count; i++)
        {
            ranks[i] = 1;
            used += layers[i].K + layers[i].N;
        }

        // The next value of each layer, by gain per parameter (largest first; ties: earlier layer).
        var queue = new PriorityQueue<int, (double Gain, int Layer)>(Comparer<(double Gain, int Layer)>.Create((a, b) =>
            b.Gain.CompareTo(a.Gain) is var c and not 0 ? c : a.Layer.CompareTo(b.Layer)));
        for (int i = 0; i < layers.Count; i++)
        {
            Enqueue(queue, layers, ranks, i);
        }

        while (queue.TryDequeue(out int layer, out _))
        {
            int cost = layers[layer].K + layers[layer].N;
            if (used + cost > budget)
            {
                // This layer's next value does not fit; a thinner layer's may.
                continue;
            }

            used += cost;
            ranks[layer]++;
            Enqueue(queue, layers, ranks, layer);
        }

        // Budget left over: keep whole the capped layers that lose the most energy, where the budget covers them.
        var capped = Enumerable.Range(0, layers.Count)
            .Where(i => ranks[i] >= Math.Min(layers[i].MaxRank, layers[i].Values.Count) && Lost(layers[i], ranks[i]) > 0)
            .OrderByDescending(i => Lost(layers[i], ranks[i]))
            .ThenBy(i => i)
            .ToList();
        foreach (int i in capped)
        {
            double extra = ((double)layers[i].K * layers[i].N) - ((double)ranks[i] * (layers[i].K + layers[i].N));
            if (used + extra <= budget)
            {
                used += extra;
                ranks[i] = 0;
            }
        }

        return ranks;
    }

    /// <summary>The share of a layer's energy lost at <paramref name="rank"/>.</summary>
    public static double Lost(Layer layer, int rank)
    {
        ArgumentNullException.ThrowIfNull(layer);
        if (layer.Energy <= 0)
        {
            return 0;
        }

        double kept = 0;
        for (int i = 0; i < Math.Min(rank, layer.Values.Count); i++)
        {
            kept += layer.Values[i] * layer.Values[i];
        }

        return Math.Max(0, 1 - (kept / layer.Energy));
    }

    private static void Enqueue(PriorityQueue<int, (double, int)> queue, IReadOnlyList<Layer> layers, int[] ranks, int i)
    {
        Layer layer = layers[i];
        int next = ranks[i];
        // A value without energy (a layer of lower rank than its shape) gains nothing: the layer's rank stops there.
        if (next >= layer.MaxRank || next >= layer.Values.Count || layer.Energy <= 0 || layer.Values[next] * layer.Values[next] <= layer.Energy * NegligibleEnergy)
        {
            return;
        }

        double gain = layer.Values[next] * layer.Values[next] / layer.Energy / (layer.K + layer.N);
        queue.Enqueue(i, (gain, i));
    }
}
