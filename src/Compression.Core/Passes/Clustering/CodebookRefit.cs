using Compression.Core.Passes.Distillation;

namespace Compression.Core.Passes.Clustering;

/// <summary>
/// Distillation of a clustered layer: the codes stay, the codebook's values are refit so that the layer, fed the
/// compressed model's own inputs, reproduces the original layer's outputs. With the student's input Gram
/// <c>G = X_s^T X_s</c> and the target <c>T = X_s^T X_t W</c> (from <see cref="LayerStatistics"/>), the layer's squared
/// output error is quadratic in the entries: for output column n with the assignment matrix <c>A_n</c> (row i has a 1 at
/// the code of weight (i, n)), <c>c^T A_n^T G A_n c - 2 c^T A_n^T T_n</c> plus a constant, summed over the columns that
/// share the codebook. The normal equations are solved by Cholesky with a small ridge towards the k-means entries; the
/// zero code of a pruned weight stays exactly 0.
/// </summary>
internal static class CodebookRefit
{
    /// <summary>The ridge, relative to the mean of the system's diagonal.</summary>
    private const double Damping = 1e-3;

    /// <summary>
    /// The most work a refit may take, in multiply-adds (<c>K^2 N</c> to sum the systems): about a second. A larger
    /// layer keeps its k-means codebook.
    /// </summary>
    public const long MaxWork = 1L << 31;

    /// <summary>
    /// Refits <paramref name="codebook"/> (in place) to the statistics. Layout: weight (i, n) of the layer's
    /// <c>[K, N]</c> product is element <c>i * rowStride + n * columnStride</c> of <paramref name="codes"/>; each column
    /// n uses entries <c>n * stride</c> onward when <paramref name="perChannel"/>, else the one codebook.
    /// </summary>
    /// <param name="statistics">The layer's recorded input (K = its student features).</param>
    /// <param name="target">X_s^T X_t W: <c>[K, N]</c> row-major.</param>
    /// <param name="n">The layer's outputs (columns).</param>
    /// <param name="codes">The codes, in the weight's layout.</param>
    /// <param name="rowStride">The step in <paramref name="codes"/> from input i to i + 1.</param>
    /// <param name="columnStride">The step in <paramref name="codes"/> from output n to n + 1.</param>
    /// <param name="codebook">The entries; those of the zero code (entry 0 of each codebook when <paramref name="zeroCode"/>) stay 0.</param>
    /// <param name="stride">The entries of each column's codebook, when <paramref name="perChannel"/>.</param>
    /// <param name="perChannel">One codebook per output column, or one for all.</param>
    /// <param name="zeroCode">Per codebook: whether its entry 0 is the zero code.</param>
    /// <returns>False when no system was solvable (the codebook is then unchanged).</returns>
    public static bool Refit(LayerStatistics statistics, double[] target, int n, byte[] codes, int rowStride, int columnStride,
        float[] codebook, int stride, bool perChannel, bool[] zeroCode)
    {
        int k = statistics.StudentFeatures;
        ReadOnlySpan<double> gram = statistics.StudentGram;
        double[] gramCopy = gram.ToArray();
        int entries = perChannel ? stride : codebook.Length;
        int systems = perChannel ? n : 1;
        var solved = new bool[systems];

        // One system per codebook: the columns that share it add their parts.
        void Solve(int system, int firstColumn, int lastColumn)
        {
            var h = new double[entries * entries];
            var r = new double[entries];
            var m = new double[k * entries];
            var columnCodes = new int[k];
            for (int column = firstColumn; column < lastColumn; column++)
            {
                for (int i = 0; i < k; i++)
                {
                    columnCodes[i] = codes[(i * rowStride) + (column * columnStride)];
                }

                // M = G A_n: for each input i, the sums of G's row over the inputs of each code.
                Array.Clear(m);
                for (int i = 0; i < k; i++)
                {
                    int row = i * k;
                    int mRow = i * entries;
                    for (int j = 0; j < k; j++)
                    {
                        m[mRow + columnCodes[j]] += gramCopy[row + j];
                    }
                }

                // H += A_n^T M, r += A_n^T T_n.
                for (int i = 0; i < k; i++)
                {
                    int a = columnCodes[i];
                    int mRow = i * entries;
                    for (int b = 0; b < entries; b++)
                    {
                        h[(a * entries) + b] += m[mRow + b];
                    }

                    r[a] += target[(i * n) + column];
                }
            }

            int offset = perChannel ? system * stride : 0;
            solved[system] = SolveSystem(h, r, entries, codebook.AsSpan(offset, entries), zeroCode[system]);
        }

        if (perChannel)
        {
            // Each channel's codebook on its own, into its own entries: the result does not depend on the order.
            Parallel.For(0, n, column => Solve(column, column, column + 1));
        }
        else
        {
            Solve(0, 0, n);
        }

        return solved.Any(s => s);
    }

    /// <summary>
    /// Solves <c>(H + lambda I) c = r + lambda c0</c> over the used entries (a used entry has a positive diagonal; the
    /// zero code and unused entries keep their values) and writes c into <paramref name="entries"/>.
    /// </summary>
    private static bool SolveSystem(double[] h, double[] r, int size, Span<float> entries, bool zeroCode)
    {
        var free = new List<int>();
        double trace = 0;
        for (int a = zeroCode ? 1 : 0; a < size; a++)
        {
            if (h[(a * size) + a] > 0)
            {
                free.Add(a);
                trace += h[(a * size) + a];
            }
        }

        int f = free.Count;
        if (f == 0)
        {
            return false;
        }

        double lambda = Damping * trace / f;
        var system = new double[f * f];
        var rhs = new double[f];
        for (int p = 0; p < f; p++)
        {
            int a = free[p];
            for (int q = 0; q < f; q++)
            {
                system[(p * f) + q] = h[(a * size) + free[q]];
            }

            system[(p * f) + p] += lambda;
            // The zero code's entry is 0, so it adds nothing to the right-hand side.
            rhs[p] = r[a] + (lambda * entries[a]);
        }

        if (!DenseAlgebra.CholeskyLower(system, f, parallel: false))
        {
            return false;
        }

        DenseAlgebra.CholeskySolve(system, f, rhs, 1, parallel: false);
        for (int p = 0; p < f; p++)
        {
            if (!double.IsFinite(rhs[p]))
            {
                return false;
            }
        }

        for (int p = 0; p < f; p++)
        {
            entries[free[p]] = (float)rhs[p];
        }

        return true;
    }
}
