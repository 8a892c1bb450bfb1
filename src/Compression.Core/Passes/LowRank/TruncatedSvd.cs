using System.Numerics.Tensors;

namespace Compression.Core.Passes.LowRank;

/// <summary>The leading singular triplets of a matrix: <c>W ≈ Left diag(Values) Right</c>.</summary>
/// <param name="Rows">The matrix's rows (m).</param>
/// <param name="Columns">The matrix's columns (n).</param>
/// <param name="Left">The left singular vectors, row-major <c>[m, Rank]</c> (orthonormal columns).</param>
/// <param name="Values">The singular values, largest first.</param>
/// <param name="Right">The right singular vectors as rows, row-major <c>[Rank, n]</c>.</param>
public sealed record SvdFactors(int Rows, int Columns, float[] Left, double[] Values, float[] Right)
{
    /// <summary>The number of triplets.</summary>
    public int Rank => Values.Length;
}

/// <summary>
/// A truncated singular value decomposition of a float matrix. Small problems (the smaller side up to 256, or a sketch of
/// half the smaller side or more) go through the eigen-decomposition of the Gram matrix of the smaller side. Larger ones use
/// the randomized range finder of Halko, Martinsson and Tropp (2011): a seeded Gaussian sketch with oversampling, two
/// power iterations with re-orthonormalization (shifted Cholesky QR, twice), then the exact SVD of the small projected
/// matrix through its Gram matrix. The products run through <see cref="MatrixProduct"/>; the result is the same for the
/// same input on the same machine.
/// </summary>
public static class TruncatedSvd
{
    /// <summary>The power iterations of the randomized path.</summary>
    public const int PowerIterations = 2;

    /// <summary>The largest smaller side solved directly, whatever the rank.</summary>
    public const int DirectLimit = 256;

    /// <summary>The extra sketch columns: the rank over 10, at least 10.</summary>
    public static int Oversampling(int rank) => Math.Max(10, rank / 10);

    /// <summary>The <paramref name="rank"/> leading singular triplets of <paramref name="w"/> (<c>[m, n]</c>, row-major).</summary>
    /// <param name="w">The matrix.</param>
    /// <param name="m">Its rows.</param>
    /// <param name="n">Its columns.</param>
    /// <param name="rank">How many triplets (at most the smaller side).</param>
    /// <param name="seed">The seed of the sketch.</param>
    public static SvdFactors Compute(float[] w, int m, int n, int rank, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.LongLength != (long)m * n || m <= 0 || n <= 0)
        {
            throw new ArgumentException($"The matrix holds {w.LongLength} values, not [{m}, {n}].", nameof(w));
        }

        rank = Math.Clamp(rank, 1, Math.Min(m, n));
        if (n > m)
        {
            // W^T = U S V^T gives W = V S U^T.
            SvdFactors transposed = Compute(MatrixProduct.Transpose(w, m, n), n, m, rank, seed);
            return new SvdFactors(m, n, MatrixProduct.Transpose(transposed.Right, transposed.Rank, m), transposed.Values,
                MatrixProduct.Transpose(transposed.Left, n, transposed.Rank));
        }

        int sketch = Math.Min(n, rank + Oversampling(rank));
        return n <= DirectLimit || sketch * 2 >= n ? Direct(w, m, n, rank) : Randomized(w, m, n, rank, sketch, seed);
    }

    /// <summary>W^T W = V diag(σ²) V^T, then U = W V / σ (m ≥ n).</summary>
    private static SvdFactors Direct(float[] w, int m, int n, int rank)
    {
        float[] gram = MatrixProduct.Multiply(MatrixProduct.Transpose(w, m, n), w, n, m, n);
        return FromGram(w, m, n, gram, n, rank, vectorsOnLeft: false);
    }

    private static SvdFactors Randomized(float[] w, int m, int n, int rank, int sketch, int seed)
    {
        float[] omega = Gaussian(n, sketch, seed);
        float[] wt = MatrixProduct.Transpose(w, m, n);
        // Between the power iterations one Cholesky QR pass keeps the sketch well conditioned; the last basis gets two.
        float[] q = Orthonormalize(MatrixProduct.Multiply(w, omega, m, n, sketch), m, sketch, passes: 1);
        for (int i = 0; i < PowerIterations; i++)
        {
            float[] z = Orthonormalize(MatrixProduct.Multiply(wt, q, n, m, sketch), n, sketch, passes: 1);
            q = Orthonormalize(MatrixProduct.Multiply(w, z, m, n, sketch), m, sketch, passes: i == PowerIterations - 1 ? 2 : 1);
        }

        // B = Q^T W [sketch, n]; B B^T = Ub diag(σ²) Ub^T; W ≈ (Q Ub) diag(σ) (Ub^T B / σ).
        float[] b = MatrixProduct.Multiply(MatrixProduct.Transpose(q, m, sketch), w, sketch, m, n);
        float[] gram = MatrixProduct.Multiply(b, MatrixProduct.Transpose(b, sketch, n), sketch, n, sketch);
        SvdFactors small = FromGram(b, sketch, n, gram, sketch, rank, vectorsOnLeft: true);
        // small.Left is Ub [sketch, rank].
        float[] left = MatrixProduct.Multiply(q, small.Left, m, sketch, rank);
        return new SvdFactors(m, n, left, small.Values, small.Right);
    }

    /// <summary>
    /// The SVD of <paramref name="a"/> (<c>[rows, columns]</c>) from the eigen-decomposition of its Gram matrix of size
    /// <paramref name="size"/>: of A^T A (the right vectors, <paramref name="vectorsOnLeft"/> false) or A A^T (the left).
    /// </summary>
    private static SvdFactors FromGram(float[] a, int rows, int columns, float[] gram, int size, int rank, bool vectorsOnLeft)
    {
        var symmetric = new double[(long)size * size];
        for (int i = 0; i < size; i++)
        {
            for (int j = 0; j < size; j++)
            {
                // Average the two halves: the float product is symmetric only up to rounding.
                symmetric[(i * size) + j] = 0.5 * ((double)gram[(i * size) + j] + gram[(j * size) + i]);
            }
        }

        (double[] eigenvalues, double[] vectors) = SymmetricEigen.Decompose(symmetric, size);
        var values = new double[rank];
        double floor = Math.Sqrt(Math.Max(eigenvalues[0], 0)) * 1e-6;
        var chosen = new float[(long)rank * size];
        for (int i = 0; i < rank; i++)
        {
            values[i] = Math.Sqrt(Math.Max(eigenvalues[i], 0));
            Sign(vectors.AsSpan(i * size, size));
            for (int j = 0; j < size; j++)
            {
                chosen[((long)i * size) + j] = (float)vectors[(i * size) + j];
            }
        }

        // The other side: A^T u / σ (or A v / σ); a direction without energy gets zeros.
        float[] other = vectorsOnLeft
            ? MatrixProduct.Multiply(chosen, a, rank, rows, columns)
            : MatrixProduct.Transpose(MatrixProduct.Multiply(a, MatrixProduct.Transpose(chosen, rank, size), rows, columns, rank), rows, rank);
        int length = vectorsOnLeft ? columns : rows;
        for (int i = 0; i < rank; i++)
        {
            Span<float> row = other.AsSpan(i * length, length);
            if (values[i] > floor)
            {
                TensorPrimitives.Multiply(row, (float)(1 / values[i]), row);
            }
            else
            {
                values[i] = 0;
                row.Clear();
            }
        }

        return vectorsOnLeft
            ? new SvdFactors(rows, columns, MatrixProduct.Transpose(chosen, rank, size), values, other)
            : new SvdFactors(rows, columns, MatrixProduct.Transpose(other, rank, rows), values, chosen);
    }

    /// <summary>Makes the largest-magnitude element of an eigenvector positive, so that the sign does not depend on rounding.</summary>
    private static void Sign(Span<double> vector)
    {
        int largest = TensorPrimitives.IndexOfMaxMagnitude<double>(vector);
        if (vector[largest] < 0)
        {
            TensorPrimitives.Negate<double>(vector, vector);
        }
    }

    /// <summary>Orthonormal columns spanning those of <paramref name="y"/> (<c>[rows, columns]</c>): shifted Cholesky QR,
    /// <paramref name="passes"/> times (twice gives columns orthonormal to float precision).</summary>
    internal static float[] Orthonormalize(float[] y, int rows, int columns, int passes = 2)
    {
        for (int pass = 0; pass < passes; pass++)
        {
            float[] gram = MatrixProduct.Multiply(MatrixProduct.Transpose(y, rows, columns), y, columns, rows, columns);
            var g = new double[(long)columns * columns];
            double trace = 0;
            for (int i = 0; i < columns; i++)
            {
                trace += gram[(i * columns) + i];
            }

            double shift = Math.Max(trace / columns, 1e-30) * 1e-6;
            for (int i = 0; i < columns; i++)
            {
                for (int j = 0; j < columns; j++)
                {
                    g[(i * columns) + j] = 0.5 * ((double)gram[(i * columns) + j] + gram[(j * columns) + i]);
                }

                g[(i * columns) + i] += shift;
            }

            double[] inverse = Cholesky.InverseUpperFactor(g, columns);
            var factor = new float[inverse.Length];
            for (int i = 0; i < inverse.Length; i++)
            {
                factor[i] = (float)inverse[i];
            }

            y = MatrixProduct.Multiply(y, factor, rows, columns, columns);
        }

        return y;
    }

    /// <summary>A <c>[rows, columns]</c> matrix of standard normal values from a fixed-seed generator (SplitMix64, Box-Muller).</summary>
    internal static float[] Gaussian(int rows, int columns, int seed)
    {
        var values = new float[(long)rows * columns];
        ulong state = 0x9E3779B97F4A7C15UL * (ulong)(seed + 1);
        double Uniform()
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return ((z >> 11) + 0.5) / (1UL << 53);
        }

        for (long i = 0; i < values.LongLength; i += 2)
        {
            double radius = Math.Sqrt(-2 * Math.Log(Uniform()));
            double angle = 2 * Math.PI * Uniform();
            values[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < values.LongLength)
            {
                values[i + 1] = (float)(radius * Math.Sin(angle));
            }
        }

        return values;
    }
}

/// <summary>Cholesky factorization of symmetric positive definite matrices in double precision, row-major.</summary>
public static class Cholesky
{
    /// <summary>The lower factor L of <c>A = L L^T</c>, or null when A is not positive definite.</summary>
    public static double[]? Lower(ReadOnlySpan<double> a, int n)
    {
        var l = new double[(long)n * n];
        for (int i = 0; i < n; i++)
        {
            Span<double> rowI = l.AsSpan(i * n, n);
            for (int j = 0; j <= i; j++)
            {
                double sum = a[(i * n) + j] - TensorPrimitives.Dot<double>(rowI[..j], l.AsSpan(j * n, j));
                if (i == j)
                {
                    if (!(sum > 0))
                    {
                        return null;
                    }

                    rowI[i] = Math.Sqrt(sum);
                }
                else
                {
                    rowI[j] = sum / l[(j * n) + j];
                }
            }
        }

        return l;
    }

    /// <summary>The inverse of the lower triangular <paramref name="l"/>, row-major.</summary>
    public static double[] InvertLower(ReadOnlySpan<double> l, int n)
    {
        var inverse = new double[(long)n * n];
        // Row by row: inverse[i, j] = -(sum_{k in [j, i)} l[i, k] inverse[k, j]) / l[i, i], with inverse[i, i] = 1 / l[i, i].
        for (int i = 0; i < n; i++)
        {
            double diagonal = l[(i * n) + i];
            Span<double> target = inverse.AsSpan(i * n, n);
            for (int k = 0; k < i; k++)
            {
                double factor = l[(i * n) + k];
                if (factor != 0)
                {
                    TensorPrimitives.MultiplyAdd<double>(inverse.AsSpan(k * n, k + 1), factor, target[..(k + 1)], target[..(k + 1)]);
                }
            }

            TensorPrimitives.Multiply<double>(target[..i], -1 / diagonal, target[..i]);
            target[i] = 1 / diagonal;
        }

        return inverse;
    }

    /// <summary>R^-1 for the upper factor R = L^T of <c>A = R^T R</c>, row-major; A must be positive definite.</summary>
    /// <exception cref="ArithmeticException">A is not positive definite.</exception>
    internal static double[] InverseUpperFactor(double[] a, int n)
    {
        double[] l = Lower(a, n) ?? throw new ArithmeticException("The Gram matrix is not positive definite.");
        // (L^T)^-1 = (L^-1)^T.
        double[] inverse = InvertLower(l, n);
        var result = new double[inverse.Length];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                result[(j * n) + i] = inverse[(i * n) + j];
            }
        }

        return result;
    }
}
