namespace Compression.Core.Search;

/// <summary>One choice for one layer: a candidate, what it costs (bytes or milliseconds, against the layer left alone) and the
/// damage the layer alone did to the outputs.</summary>
/// <param name="Candidate">The candidate's index in the search's list; -1 for the layer left alone.</param>
/// <param name="Cost">Its cost against the layer left alone (negative: a saving).</param>
/// <param name="Damage">The outputs' relative squared error with only this layer compressed (0 left alone).</param>
public readonly record struct LayerOption(int Candidate, double Cost, double Damage);

/// <summary>
/// Chooses per-layer options from the sensitivity table, as a multiple-choice knapsack solved along its Lagrangian path:
/// each layer's options are reduced to their lower convex hull of (cost, damage), every layer starts at its cheapest, and
/// each step moves the one layer whose next hull point buys the most damage back per unit of cost. The steps run from the
/// most compressed choice to the least, the damage the table predicts falling at each; the search verifies along them.
/// </summary>
public static class CandidateSelection
{
    /// <summary>The options of one layer on its lower convex hull, cheapest first (cost rising, damage falling).</summary>
    public static IReadOnlyList<LayerOption> Hull(IEnumerable<LayerOption> options)
    {
        var frontier = new List<LayerOption>();
        foreach (LayerOption option in options.OrderBy(o => o.Cost).ThenBy(o => o.Damage).ThenBy(o => o.Candidate))
        {
            if (double.IsNaN(option.Cost) || double.IsNaN(option.Damage))
            {
                continue;
            }

            if (frontier.Count == 0 || option.Damage < frontier[^1].Damage)
            {
                frontier.Add(option);
            }
        }

        var hull = new List<LayerOption>();
        foreach (LayerOption c in frontier)
        {
            while (hull.Count >= 2)
            {
                LayerOption a = hull[^2], b = hull[^1];
                // b goes when it lies on or above the segment from a to c.
                double cross = (c.Cost - a.Cost) * (b.Damage - a.Damage) - (c.Damage - a.Damage) * (b.Cost - a.Cost);
                if (cross < 0)
                {
                    break;
                }

                hull.RemoveAt(hull.Count - 1);
            }

            hull.Add(c);
        }

        return hull;
    }

    /// <summary>
    /// The path of choices: the first is every layer at its cheapest option, each next one moves one layer to its next hull
    /// point, the last is every layer at its least damaging option. Each choice is one index per layer into its hull.
    /// </summary>
    /// <param name="hulls">Each layer's hull (<see cref="Hull"/>).</param>
    public static IReadOnlyList<int[]> Path(IReadOnlyList<IReadOnlyList<LayerOption>> hulls)
    {
        int[] position = new int[hulls.Count];
        var path = new List<int[]> { (int[])position.Clone() };
        while (true)
        {
            int best = -1;
            double bestRatio = double.NegativeInfinity;
            for (int layer = 0; layer < hulls.Count; layer++)
            {
                if (position[layer] + 1 >= hulls[layer].Count)
                {
                    continue;
                }

                LayerOption current = hulls[layer][position[layer]], next = hulls[layer][position[layer] + 1];
                double ratio = (current.Damage - next.Damage) / Math.Max(next.Cost - current.Cost, double.Epsilon);
                if (ratio > bestRatio)
                {
                    (best, bestRatio) = (layer, ratio);
                }
            }

            if (best < 0)
            {
                return path;
            }

            position[best]++;
            path.Add((int[])position.Clone());
        }
    }

    /// <summary>The damage the table predicts for a choice: the layers' damages added up.</summary>
    public static double PredictedDamage(IReadOnlyList<IReadOnlyList<LayerOption>> hulls, int[] choice) =>
        hulls.Select((hull, layer) => hull[choice[layer]].Damage).Sum();

    /// <summary>The cost the table predicts for a choice: the layers' costs added up.</summary>
    public static double PredictedCost(IReadOnlyList<IReadOnlyList<LayerOption>> hulls, int[] choice) =>
        hulls.Select((hull, layer) => hull[choice[layer]].Cost).Sum();
}
