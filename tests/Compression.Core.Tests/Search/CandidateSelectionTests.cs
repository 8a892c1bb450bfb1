using Compression.Core.Search;

namespace Compression.Core.Tests.Search;

/// <summary>The knapsack over the sensitivity table: each layer's lower convex hull, and the path from the cheapest choice to the safest.</summary>
public sealed class CandidateSelectionTests
{
    [Fact]
    public void The_hull_keeps_the_cheapest_then_only_options_that_buy_damage_back_at_a_falling_rate()
    {
        LayerOption none = new(-1, 0, 0);
        LayerOption[] options =
        [
            none,
            new(0, -50, 0.01),   // fp16-like: half the saving, almost no damage
            new(1, -75, 0.02),   // int8-like
            new(2, -80, 0.5),    // above the segment from int8 to prune: not on the hull
            new(3, -90, 0.3),    // cheapest
            new(4, -60, 0.05),   // dominated by int8: costs more and damages more
            new(5, double.NaN, 0.1), // failed: never chosen
        ];

        IReadOnlyList<LayerOption> hull = CandidateSelection.Hull(options);

        Assert.Equal([3, 1, 0, -1], hull.Select(o => o.Candidate));
        // Cost rises and damage falls along it, and each step buys less damage back per unit of cost than the one before.
        for (int i = 1; i < hull.Count; i++)
        {
            Assert.True(hull[i].Cost > hull[i - 1].Cost);
            Assert.True(hull[i].Damage < hull[i - 1].Damage);
        }

        double Rate(int i) => (hull[i - 1].Damage - hull[i].Damage) / (hull[i].Cost - hull[i - 1].Cost);
        for (int i = 2; i < hull.Count; i++)
        {
            Assert.True(Rate(i) <= Rate(i - 1), $"step {i} buys damage back at {Rate(i)}, more than step {i - 1} at {Rate(i - 1)}");
        }
    }

    [Fact]
    public void The_path_runs_from_every_layer_at_its_cheapest_to_every_layer_at_its_safest_moving_the_best_buy_first()
    {
        IReadOnlyList<LayerOption>[] hulls =
        [
            CandidateSelection.Hull([new(-1, 0, 0), new(0, -10, 0.001), new(1, -20, 0.1)]),
            CandidateSelection.Hull([new(-1, 0, 0), new(0, -100, 0.002), new(1, -120, 0.004)]),
        ];

        IReadOnlyList<int[]> path = CandidateSelection.Path(hulls);

        Assert.Equal(1 + (hulls[0].Count - 1) + (hulls[1].Count - 1), path.Count);
        Assert.Equal([0, 0], path[0]);
        Assert.Equal([hulls[0].Count - 1, hulls[1].Count - 1], path[^1]);
        // Layer 0 leaving its cheapest option buys 0.099 of damage back for 10 bytes: the best buy, so the first step.
        Assert.Equal([1, 0], path[1]);
        for (int i = 1; i < path.Count; i++)
        {
            Assert.Equal(1, path[i].Zip(path[i - 1], (a, b) => a - b).Sum());
            Assert.True(CandidateSelection.PredictedDamage(hulls, path[i]) < CandidateSelection.PredictedDamage(hulls, path[i - 1]));
            Assert.True(CandidateSelection.PredictedCost(hulls, path[i]) > CandidateSelection.PredictedCost(hulls, path[i - 1]));
        }
    }

    [Fact]
    public void A_layer_with_only_the_option_to_be_left_alone_stays_so()
    {
        IReadOnlyList<LayerOption>[] hulls = [CandidateSelection.Hull([new(-1, 0, 0)]), CandidateSelection.Hull([new(-1, 0, 0), new(0, -5, 0.5)])];

        IReadOnlyList<int[]> path = CandidateSelection.Path(hulls);

        Assert.Equal([[0, 0], [0, 1]], path);
        Assert.Equal(-1, hulls[0][path[^1][0]].Candidate);
    }
}
