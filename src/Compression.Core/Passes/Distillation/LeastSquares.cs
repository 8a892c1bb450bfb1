using System.Numerics.Tensors;

namespace Compression.Core.Passes.Distillation;

/// <summary>A refit layer: its weight, the change to its bias, and how the solve went.</summary>
/// <param name="Weight">The student's weight, <c>[K_s, N]</c> row-major; entries the mask fixes are exactly zero.</param>
/// <param name="BiasCorrection">What to add to the layer's bias (<c>[N]</c>; the layer gets one if it had none), or null
/// when the fit had no bias.</param>
/// <param name="Damping">The damping the solve used, relative to the mean diagonal of <c>X_s^T X_s</c>: the asked one, or
/// more where the matrix was not positive definite with it.</param>
/// <param name="Solved">False when the matrix was not positive definite even with much more damping, or all inputs were zero:
/// the free entries then keep the prior (the teacher's weight), and the fit changed nothing.</param>
public sealed record RefitResult(float[] Weight, float[]? BiasCorrection, double Damping, bool Solved);

/// <summary>
/// The least-squares fit of layer-wise distillation: given a layer's <see cref="LayerStatistics"/>, the weight
/// <c>W'</c> (and bias change <c>b'</c>) of the compressed layer that minimizes <c>|X_s W' + 1 b' - X_t W|^2 + λ |W' - P|^2</c>
/// with chosen entries of <c>W'</c> held at zero: the compressed layer, fed the compressed model's own inputs
/// <c>X_s</c>, reproduces the original layer's outputs <c>X_t W</c> as closely as the free entries allow. The damping
/// <c>λ</c> (a share of the mean diagonal of <c>X_s^T X_s</c>, as GPTQ damps) pulls each free entry toward the prior
/// <c>P</c> (by default the teacher's weight, where the features match), so that a feature the samples never light keeps its
/// original weight and an unchanged layer refits to itself exactly.
/// </summary>
public static class LeastSquares
{
    /// <summary>The default damping, as a share of the mean diagonal of <c>X_s^T X_s</c> (GPTQ's).</summary>
    public const double DefaultDamping = 0.01;

    /// <summary>Solves the refit; see <see cref="LeastSquares"/>.</summary>
    /// <param name="statistics">The layer's input statistics (<see cref="LayerDistiller.Record"/>).</param>
    /// <param name="teacherWeight">The original layer's weight <c>W</c>, <c>[K_t, N]</c> row-major (a Gemm weight with
    /// transB or a Conv weight <c>[N, K]</c> must be transposed first).</param>
    /// <param name="n">The layer's outputs <c>N</c>.</param>
    /// <param name="free">Which entries of <c>W'</c> (<c>[K_s, N]</c>) the fit may set; the others are exactly zero. Empty: all
    /// are free (one factorization for every output: the fast path).</param>
    /// <param name="withBias">Also fit a change to the bias (the constant feature): <c>X_s W' + b + b' ≈ X_t W + b</c>.</param>
    /// <param name="prior">What the damping pulls free entries toward, <c>[K_s, N]</c>; empty: the teacher's weight when
    /// <c>K_s = K_t</c> (the features are the same), else zero.</param>
    /// <param name="damping">The damping, as a share of the mean diagonal of <c>X_s^T X_s</c>; at least a tiny positive value.</param>
    /// <exception cref="ArgumentException">The sizes do not agree with the statistics.</exception>
    public static RefitResult Refit(LayerStatistics statistics, ReadOnlySpan<float> teacherWeight, int n, ReadOnlySpan<bool> free = default,
        bool withBias = false, ReadOnlySpan<float> prior = default, double damping = DefaultDamping)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        int ks = statistics.StudentFeatures, kt = statistics.TeacherFeatures;
        if (n < 1 || teacherWeight.Length != (long)kt * n)
        {
            throw new ArgumentException($"The teacher's weight has {teacherWeight.Length} values, not K_t x N = {kt} x {n}.", nameof(teacherWeight));
        }

        if (!free.IsEmpty && free.Length != (long)ks * n)
        {
            throw new ArgumentException($"The mask has {free.Length} entries, not K_s x N = {ks} x {n}.", nameof(free));
        }

        if (!prior.IsEmpty && prior.Length != (long)ks * n)
        {
            throw new ArgumentException($"The prior has {prior.Length} values, not K_s x N = {ks} x {n}.", nameof(prior));
        }

        double[] teacher = ToDouble(teacherWeight);
        double[] priorWeight = !prior.IsEmpty ? ToDouble(prior) : ks == kt ? teacher : new double[(long)ks * n];

        // The right-hand side: X_s^T X_t W, then (with a bias) the row 1^T X_t W.
        int size = ks + (withBias ? 1 : 0);
        var rhs = new double[(long)size * n];
        DenseAlgebra.MultiplyAdd(ks, n, kt, 1, statistics.CrossMatrix, 0, kt, teacher, 0, n, rhs, 0, n);
        if (withBias)
        {
            DenseAlgebra.MultiplyAdd(1, n, kt, 1, statistics.TeacherSumVector, 0, kt, teacher, 0, n, rhs, ks * n, n);
        }

        double mean = 0;
        for (int i = 0; i < ks; i++)
        {
            mean += statistics.StudentGramMatrix[((long)i * ks) + i];
        }

        mean = ks > 0 ? mean / ks : 0;
        damping = Math.Max(damping, 1e-9);
        if (!(mean > 0) || statistics.Rows == 0)
        {
            return Unsolved(priorWeight, free, ks, n, withBias, damping);
        }

        bool[]? mask = free.IsEmpty ? null : free.ToArray();
        for (int attempt = 0; attempt < 6; attempt++, damping *= 10)
        {
            double lambda = damping * mean;
            double[]? solution = mask is null
                ? SolveAll(statistics, rhs, priorWeight, n, size, lambda, withBias)
                : SolveMasked(statistics, rhs, priorWeight, n, size, lambda, withBias, mask);
            if (solution is not null)
            {
                var weight = new float[(long)ks * n];
                for (long i = 0; i < weight.Length; i++)
                {
                    weight[i] = (float)solution[i];
                }

                float[]? bias = null;
                if (withBias)
                {
                    bias = new float[n];
                    for (int j = 0; j < n; j++)
                    {
                        bias[j] = (float)solution[((long)ks * n) + j];
                    }
                }

                return new RefitResult(weight, bias, damping, Solved: true);
            }
        }

        return Unsolved(priorWeight, free, ks, n, withBias, damping);
    }

    /// <summary>
    /// The layer's relative output error on the recorded rows: <c>|X_s W' + 1 b' - X_t W|^2 / |X_t W|^2</c>, for the report's
    /// <see cref="TensorChange.OutputError"/>; <paramref name="studentWeight"/> may be the refit weight or the compressed weight
    /// before the refit (with no bias change), to compare.
    /// </summary>
    /// <param name="statistics">Statistics recorded with the teacher's Gram.</param>
    /// <param name="teacherWeight">The original weight <c>W</c>, <c>[K_t, N]</c>.</param>
    /// <param name="n">The outputs.</param>
    /// <param name="studentWeight">The student's weight <c>W'</c>, <c>[K_s, N]</c>.</param>
    /// <param name="biasCorrection">The bias change <c>b'</c> (<c>[N]</c>), or empty for none.</param>
    /// <exception cref="InvalidOperationException">The statistics were recorded without the teacher's Gram.</exception>
    public static double OutputError(LayerStatistics statistics, ReadOnlySpan<float> teacherWeight, int n, ReadOnlySpan<float> studentWeight, ReadOnlySpan<float> biasCorrection = default)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        double[] teacherGram = statistics.TeacherGramMatrix ?? throw new InvalidOperationException(
            "The output error needs the teacher's Gram: record the layer with withTeacherGram: true.");
        int ks = statistics.StudentFeatures, kt = statistics.TeacherFeatures;
        if (teacherWeight.Length != (long)kt * n || studentWeight.Length != (long)ks * n || (!biasCorrection.IsEmpty && biasCorrection.Length != n))
        {
            throw new ArgumentException("The weights' sizes do not agree with the statistics.");
        }

        double[] w = ToDouble(teacherWeight);
        double[] s = ToDouble(studentWeight);

        // |X_t W|^2 = sum_j w_j^T G_t w_j; |X_s W'|^2 = sum_j s_j^T G_s s_j; cross = sum_j s_j^T C w_j.
        var gtW = new double[(long)kt * n];
        DenseAlgebra.MultiplyAdd(kt, n, kt, 1, teacherGram, 0, kt, w, 0, n, gtW, 0, n);
        var gsS = new double[(long)ks * n];
        DenseAlgebra.MultiplyAdd(ks, n, ks, 1, statistics.StudentGramMatrix, 0, ks, s, 0, n, gsS, 0, n);
        var cW = new double[(long)ks * n];
        DenseAlgebra.MultiplyAdd(ks, n, kt, 1, statistics.CrossMatrix, 0, kt, w, 0, n, cW, 0, n);
        double signal = TensorPrimitives.Dot<double>(w, gtW);
        double student = TensorPrimitives.Dot<double>(s, gsS);
        double cross = TensorPrimitives.Dot<double>(s, cW);
        if (!biasCorrection.IsEmpty)
        {
            // + 2 b'^T (X_s W')^T 1 + R |b'|^2 - 2 b'^T (X_t W)^T 1.
            var sSum = new double[n];
            var tSum = new double[n];
            DenseAlgebra.MultiplyAdd(1, n, ks, 1, statistics.StudentSumVector, 0, ks, s, 0, n, sSum, 0, n);
            DenseAlgebra.MultiplyAdd(1, n, kt, 1, statistics.TeacherSumVector, 0, kt, w, 0, n, tSum, 0, n);
            for (int j = 0; j < n; j++)
            {
                double b = biasCorrection[j];
                student += (2 * b * sSum[j]) + (statistics.Rows * b * b);
                cross += b * tSum[j];
            }
        }

        double error = Math.Max(0, student - (2 * cross) + signal);
        return signal > 0 ? error / signal : 0;
    }

    /// <summary>Every entry free: one factorization of <c>G_s + λI</c> (bordered by the bias row), one solve of all outputs.</summary>
    private static double[]? SolveAll(LayerStatistics statistics, double[] rhs, double[] prior, int n, int size, double lambda, bool withBias)
    {
        int ks = statistics.StudentFeatures;
        double[] matrix = System(statistics, size, lambda, withBias);
        if (!DenseAlgebra.CholeskyLower(matrix, size))
        {
            return null;
        }

        double[] b = (double[])rhs.Clone();
        TensorPrimitives.MultiplyAdd(prior.AsSpan(0, ks * n), lambda, b.AsSpan(0, ks * n), b.AsSpan(0, ks * n));
        DenseAlgebra.CholeskySolve(matrix, size, b, n);
        return b;
    }

    /// <summary>
    /// Some entries fixed at zero: per output, the system restricted to its free rows (and the bias), one factorization per
    /// distinct set of free rows (outputs of one N:M group or channel pattern share it), outputs solved in parallel, each
    /// by one thread.
    /// </summary>
    private static double[]? SolveMasked(LayerStatistics statistics, double[] rhs, double[] prior, int n, int size, double lambda, bool withBias, bool[] free)
    {
        int ks = statistics.StudentFeatures;
        double[] full = System(statistics, size, lambda, withBias);

        // Group the outputs by their free rows, in order of first appearance.
        var groups = new List<(int[] Rows, List<int> Columns)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var pattern = new char[ks];
        for (int j = 0; j < n; j++)
        {
            for (int i = 0; i < ks; i++)
            {
                pattern[i] = free[((long)i * n) + j] ? '1' : '0';
            }

            string key = new(pattern);
            if (!index.TryGetValue(key, out int group))
            {
                group = groups.Count;
                index[key] = group;
                var rows = new List<int>();
                for (int i = 0; i < ks; i++)
                {
                    if (pattern[i] == '1')
                    {
                        rows.Add(i);
                    }
                }

                if (withBias)
                {
                    rows.Add(ks);
                }

                groups.Add(([.. rows], []));
            }

            groups[group].Columns.Add(j);
        }

        var solution = new double[(long)size * n];
        bool failed = false;
        bool parallelInside = groups.Count == 1;
        void Solve(int g)
        {
            (int[] rows, List<int> columns) = groups[g];
            int f = rows.Length, c = columns.Count;
            if (f == 0)
            {
                return;
            }

            var matrix = new double[(long)f * f];
            for (int a = 0; a < f; a++)
            {
                for (int b = 0; b <= a; b++)
                {
                    matrix[((long)a * f) + b] = full[((long)rows[a] * size) + rows[b]];
                }
            }

            if (!DenseAlgebra.CholeskyLower(matrix, f, parallelInside))
            {
                failed = true;
                return;
            }

            var b2 = new double[(long)f * c];
            for (int a = 0; a < f; a++)
            {
                int row = rows[a];
                for (int col = 0; col < c; col++)
                {
                    int j = columns[col];
                    double value = rhs[((long)row * n) + j];
                    if (row < ks)
                    {
                        value += lambda * prior[((long)row * n) + j];
                    }

                    b2[((long)a * c) + col] = value;
                }
            }

            DenseAlgebra.CholeskySolve(matrix, f, b2, c, parallelInside);
            for (int a = 0; a < f; a++)
            {
                for (int col = 0; col < c; col++)
                {
                    solution[((long)rows[a] * n) + columns[col]] = b2[((long)a * c) + col];
                }
            }
        }

        if (parallelInside)
        {
            Solve(0);
        }
        else
        {
            Parallel.For(0, groups.Count, Solve);
        }

        return failed ? null : solution;
    }

    /// <summary>The lower triangle of <c>[[G_s + λI, s_s], [s_s^T, R + λ]]</c> (the bias border only with a bias).</summary>
    private static double[] System(LayerStatistics statistics, int size, double lambda, bool withBias)
    {
        int ks = statistics.StudentFeatures;
        var matrix = new double[(long)size * size];
        for (int i = 0; i < ks; i++)
        {
            statistics.StudentGramMatrix.AsSpan(i * ks, i + 1).CopyTo(matrix.AsSpan(i * size, i + 1));
            matrix[((long)i * size) + i] += lambda;
        }

        if (withBias)
        {
            statistics.StudentSumVector.AsSpan().CopyTo(matrix.AsSpan(ks * size, ks));
            matrix[((long)ks * size) + ks] = statistics.Rows + lambda;
        }

        return matrix;
    }

    private static RefitResult Unsolved(double[] prior, ReadOnlySpan<bool> free, int ks, int n, bool withBias, double damping)
    {
        var weight = new float[(long)ks * n];
        for (long i = 0; i < weight.Length; i++)
        {
            weight[i] = free.IsEmpty || free[(int)i] ? (float)prior[i] : 0;
        }

        return new RefitResult(weight, withBias ? new float[n] : null, damping, Solved: false);
    }

    private static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }

        return result;
    }
}
