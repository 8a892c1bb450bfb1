using Compression.Core.Passes.Clustering;
using Compression.Core.Tests.Support;

namespace Compression.Core.Tests.Clustering;

/// <summary>The one-dimensional k-means: optimal where it says so, codes to the nearest entry, zeros kept.</summary>
public sealed class ScalarKMeansTests
{
    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    [InlineData(3, 4)]
    [InlineData(4, 5)]
    public void On_few_values_the_codebook_is_the_optimum_of_every_split_into_runs_of_sorted_values(int seed, int clusters)
    {
        // 14 values with repeats: the best k-means in 1-D splits the sorted values into runs; try every split.
        float[] values = SeededValues.Uniform(seed, 14).Select(v => MathF.Round(v * 8) / 8).ToArray();
        Codebook book = ScalarKMeans.Fit(values, clusters, keepZero: false);
        var codes = new byte[values.Length];
        ScalarKMeans.Assign(values, book, codes);
        double error = ScalarKMeans.SquaredError(values, book, codes);
        Assert.Equal(BruteForce(values.Order().Select(v => (double)v).ToArray(), clusters), error, 9);
        Assert.True(book.Values.Length <= clusters);
        Assert.Equal(book.Values.Order().ToArray(), book.Values);
    }

    [Theory]
    [InlineData(200_000, 16)]
    [InlineData(3_000, 8)]
    [InlineData(5_000, 256)]
    public void Every_value_gets_its_nearest_entry_and_the_histogram_path_is_close_to_Lloyd_from_the_same_optimum(int count, int clusters)
    {
        float[] values = SeededValues.Uniform(7, count).Select(v => v * v * v).ToArray();
        Codebook book = ScalarKMeans.Fit(values, clusters, keepZero: false);
        var codes = new byte[values.Length];
        ScalarKMeans.Assign(values, book, codes);
        for (int i = 0; i < values.Length; i++)
        {
            double mine = Math.Abs((double)values[i] - book.Values[codes[i]]);
            double best = book.Values.Min(e => Math.Abs((double)values[i] - e));
            Assert.True(mine <= best, $"value {values[i]}: entry {book.Values[codes[i]]} at {mine}, nearest at {best}");
        }

        // A codebook of uniform levels over the same range is worse: k-means places entries where the values are dense.
        float min = values.Min(), max = values.Max();
        var uniform = new Codebook(Enumerable.Range(0, clusters).Select(j => min + ((max - min) * (j + 0.5f) / clusters)).ToArray(), ZeroCode: false);
        var uniformCodes = new byte[values.Length];
        ScalarKMeans.Assign(values, uniform, uniformCodes);
        Assert.True(ScalarKMeans.SquaredError(values, book, codes) < 0.7 * ScalarKMeans.SquaredError(values, uniform, uniformCodes));
    }

    [Fact]
    public void Zeros_get_code_0_whose_value_is_exactly_0_and_the_nonzeros_share_the_other_entries()
    {
        float[] values = SeededValues.Uniform(9, 10_000).Select((v, i) => i % 4 == 0 ? v : 0f).ToArray();
        Codebook book = ScalarKMeans.Fit(values, 4, keepZero: true);
        Assert.True(book.ZeroCode);
        Assert.Equal(0f, book.Values[0]);
        Assert.Equal(4, book.Values.Length);
        Assert.DoesNotContain(0f, book.Values.Skip(1));
        var codes = new byte[values.Length];
        ScalarKMeans.Assign(values, book, codes);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(values[i] == 0f, codes[i] == 0);
        }

        // Without zeros there is no zero code.
        Assert.False(ScalarKMeans.Fit(SeededValues.Uniform(10, 100).Select(v => v + 2f).ToArray(), 4, keepZero: true).ZeroCode);
    }

    [Fact]
    public void Fewer_distinct_values_than_clusters_are_kept_exactly()
    {
        float[] values = Enumerable.Range(0, 5000).Select(i => (float)(i % 3) - 0.25f).ToArray();
        Codebook book = ScalarKMeans.Fit(values, 16, keepZero: true);
        Assert.Equal([-0.25f, 0.75f, 1.75f], book.Values);
        var codes = new byte[values.Length];
        ScalarKMeans.Assign(values, book, codes);
        Assert.Equal(0, ScalarKMeans.SquaredError(values, book, codes));
    }

    /// <summary>The least sum of squares of sorted values in at most k runs, trying every split.</summary>
    private static double BruteForce(double[] sorted, int k)
    {
        double Cost(int from, int to)
        {
            double mean = sorted[from..to].Average();
            return sorted[from..to].Sum(v => (v - mean) * (v - mean));
        }

        double Best(int from, int runs)
        {
            if (runs == 1)
            {
                return Cost(from, sorted.Length);
            }

            double best = Cost(from, sorted.Length);
            for (int split = from + 1; split < sorted.Length; split++)
            {
                best = Math.Min(best, Cost(from, split) + Best(split, runs - 1));
            }

            return best;
        }

        return Best(0, k);
    }
}
