using Compression.Core.Passes.Distillation;
using Compression.Core.Tests.Support;

namespace Compression.Core.Tests.Distillation;

/// <summary>
/// The least-squares refit against its optimality conditions: at the solution the gradient of
/// <c>|X_s W' + 1 b' - X_t W|^2 + λ |W' - P|^2</c> is zero on every free entry (and the bias), whatever solver found it.
/// </summary>
public sealed class LeastSquaresTests
{
    [Theory]
    [InlineData(37, 37, 13, 0.0, false)] // no mask, sizes off the kernels' blocks
    [InlineData(150, 150, 70, 0.0, true)] // several Cholesky blocks, a bias
    [InlineData(150, 150, 70, 0.6, true)] // unstructured mask, per-output solves
    [InlineData(96, 160, 24, 0.0, false)] // fewer student features (channels pruned before the layer)
    [InlineData(96, 160, 24, 0.5, true)]
    public void The_refit_solves_the_damped_normal_equations_on_the_free_entries(int ks, int kt, int n, double fixedShare, bool withBias)
    {
        const int rows = 400;
        float[] teacherX = SeededValues.Uniform(1, rows * kt);
        // The student's input: the teacher's first ks features, disturbed (as an earlier compressed layer disturbs them).
        float[] noise = SeededValues.Uniform(2, rows * ks, 0.2f);
        var studentX = new float[rows * ks];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < ks; i++)
            {
                studentX[(r * ks) + i] = teacherX[(r * kt) + i] + noise[(r * ks) + i] + 0.3f;
            }
        }

        float[] weight = SeededValues.Uniform(3, kt * n);
        var random = new Random(4);
        bool[] free = fixedShare > 0 ? Enumerable.Range(0, ks * n).Select(_ => random.NextDouble() >= fixedShare).ToArray() : [];
        LayerStatistics statistics = LayerStatistics.FromRows(studentX, teacherX, rows, ks, kt, withTeacherGram: true);

        RefitResult refit = LeastSquares.Refit(statistics, weight, n, free, withBias);

        Assert.True(refit.Solved);
        Assert.Equal(LeastSquares.DefaultDamping, refit.Damping);
        double mean = Enumerable.Range(0, ks).Average(i => statistics.StudentGram[(i * ks) + i]);
        double lambda = refit.Damping * mean;
        double[] prior = ks == kt ? weight.Select(w => (double)w).ToArray() : new double[ks * n];
        double largest = 0;
        for (int j = 0; j < n; j++)
        {
            double b = withBias ? refit.BiasCorrection![j] : 0;
            for (int i = 0; i < ks; i++)
            {
                if (free.Length > 0 && !free[(i * n) + j])
                {
                    Assert.Equal(0f, refit.Weight[(i * n) + j]);
                    continue;
                }

                // d/dw'_ij / 2 = (G_s w'_j)_i + s_i b_j - (C w_j)_i + λ (w'_ij - p_ij).
                double gradient = (statistics.StudentSum[i] * b) + (lambda * (refit.Weight[(i * n) + j] - prior[(i * n) + j]));
                for (int m = 0; m < ks; m++)
                {
                    gradient += statistics.StudentGram[(i * ks) + m] * refit.Weight[(m * n) + j];
                }

                for (int m = 0; m < kt; m++)
                {
                    gradient -= statistics.Cross[(i * kt) + m] * weight[(m * n) + j];
                }

                largest = Math.Max(largest, Math.Abs(gradient));
            }

            if (withBias)
            {
                double gradient = (statistics.Rows + lambda) * b;
                for (int m = 0; m < ks; m++)
                {
                    gradient += statistics.StudentSum[m] * refit.Weight[(m * n) + j];
                }

                for (int m = 0; m < kt; m++)
                {
                    gradient -= statistics.TeacherSum[m] * weight[(m * n) + j];
                }

                largest = Math.Max(largest, Math.Abs(gradient));
            }
        }

        // Against the size of the terms: the right-hand side's entries are about rows * kt / 3 in magnitude.
        Assert.True(largest < 1e-4 * rows, $"largest gradient {largest}");

        // The fit is at least as good as the prior it starts from, with the mask's zeros.
        float[] start = prior.Select((p, index) => free.Length == 0 || free[index] ? (float)p : 0f).ToArray();
        Assert.True(
            LeastSquares.OutputError(statistics, weight, n, refit.Weight, refit.BiasCorrection) <= LeastSquares.OutputError(statistics, weight, n, start),
            "the refit is worse than where it started");
    }

    [Fact]
    public void Inputs_that_are_always_zero_keep_the_teachers_weight_and_all_zero_inputs_change_nothing()
    {
        const int rows = 50, k = 6, n = 3;
        float[] x = SeededValues.Uniform(5, rows * k);
        for (int r = 0; r < rows; r++)
        {
            x[(r * k) + 2] = 0; // a pixel that is never lit
        }

        float[] weight = SeededValues.Uniform(6, k * n);
        RefitResult refit = LeastSquares.Refit(LayerStatistics.FromRows(x, x, rows, k, k), weight, n);
        Assert.True(refit.Solved);
        for (int j = 0; j < n; j++)
        {
            Assert.Equal(weight[(2 * n) + j], refit.Weight[(2 * n) + j], 5);
        }

        var zeros = new float[rows * k];
        RefitResult nothing = LeastSquares.Refit(LayerStatistics.FromRows(zeros, zeros, rows, k, k), weight, n, withBias: true);
        Assert.False(nothing.Solved);
        Assert.Equal(weight, nothing.Weight);
        Assert.All(nothing.BiasCorrection!, b => Assert.Equal(0f, b));
    }

    [Fact]
    public void Sizes_that_do_not_agree_are_refused()
    {
        float[] x = SeededValues.Uniform(7, 20);
        LayerStatistics statistics = LayerStatistics.FromRows(x, x, 5, 4, 4);
        Assert.Throws<ArgumentException>(() => LeastSquares.Refit(statistics, new float[12], 2));
        Assert.Throws<ArgumentException>(() => LeastSquares.Refit(statistics, new float[8], 2, new bool[7]));
        Assert.Throws<InvalidOperationException>(() => LeastSquares.OutputError(statistics, new float[8], 2, new float[8]));
        Assert.Throws<ArgumentException>(() => LayerStatistics.FromRows(x, x, 6, 4, 4));
    }
}
