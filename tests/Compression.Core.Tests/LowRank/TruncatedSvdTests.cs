using Compression.Core.Passes.LowRank;
using Compression.Core.Tests.Support;

namespace Compression.Core.Tests.LowRank;

/// <summary>The math under low-rank factorization: the blocked product, the symmetric eigen-decomposition and the truncated SVD.</summary>
public sealed class TruncatedSvdTests
{
    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(5, 7, 3)]
    [InlineData(67, 300, 33)]
    [InlineData(130, 17, 259)]
    public void The_blocked_product_is_the_plain_one(int m, int k, int n)
    {
        float[] a = SeededValues.Uniform(1, m * k), b = SeededValues.Uniform(2, k * n);
        float[] c = MatrixProduct.Multiply(a, b, m, k, n);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double expected = 0;
                for (int t = 0; t < k; t++)
                {
                    expected += (double)a[(i * k) + t] * b[(t * n) + j];
                }

                Assert.Equal(expected, c[(i * n) + j], 1e-4 * Math.Sqrt(k));
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(9)]
    [InlineData(120)]
    public void Eigenvectors_satisfy_A_v_equals_lambda_v_and_are_orthonormal(int n)
    {
        float[] x = SeededValues.Uniform(3, n * n);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                a[(i * n) + j] = x[(i * n) + j] + x[(j * n) + i];
            }
        }

        (double[] values, double[] vectors) = SymmetricEigen.Decompose(a, n);
        for (int i = 0; i < n; i++)
        {
            if (i > 0)
            {
                Assert.True(values[i] <= values[i - 1]);
            }

            for (int r = 0; r < n; r++)
            {
                double av = 0;
                for (int c = 0; c < n; c++)
                {
                    av += a[(r * n) + c] * vectors[(i * n) + c];
                }

                Assert.Equal(values[i] * vectors[(i * n) + r], av, 1e-9);
            }

            for (int j = 0; j <= i; j++)
            {
                double dot = 0;
                for (int c = 0; c < n; c++)
                {
                    dot += vectors[(i * n) + c] * vectors[(j * n) + c];
                }

                Assert.Equal(i == j ? 1 : 0, dot, 1e-9);
            }
        }
    }

    [Theory]
    [InlineData(120, 80, 12)]    // direct (the smaller side is under 256)
    [InlineData(70, 200, 9)]     // direct, wide
    [InlineData(900, 600, 20)]   // randomized
    [InlineData(500, 1100, 30)]  // randomized, wide
    public void A_matrix_of_rank_r_is_reproduced_from_r_triplets(int m, int n, int r)
    {
        float[] w = MatrixProduct.Multiply(SeededValues.Uniform(4, m * r), SeededValues.Uniform(5, r * n), m, r, n);
        SvdFactors svd = TruncatedSvd.Compute(w, m, n, r);
        Assert.Equal(r, svd.Rank);
        float[] rebuilt = Rebuild(svd);
        Assert.True(RelativeError(w, rebuilt) < 1e-4, $"relative error {RelativeError(w, rebuilt)}");

        // One triplet fewer leaves out exactly the smallest singular value's energy.
        SvdFactors shorter = TruncatedSvd.Compute(w, m, n, r - 1);
        double lost = Frobenius2(Subtract(w, Rebuild(shorter)));
        Assert.Equal(svd.Values[r - 1] * svd.Values[r - 1], lost, lost * 1e-2);
    }

    [Fact]
    public void The_same_matrix_gives_the_same_factors()
    {
        float[] w = SeededValues.Uniform(6, 700 * 640);
        SvdFactors first = TruncatedSvd.Compute(w, 700, 640, 40, seed: 3);
        SvdFactors second = TruncatedSvd.Compute(w, 700, 640, 40, seed: 3);
        Assert.Equal(first.Left, second.Left);
        Assert.Equal(first.Right, second.Right);
        Assert.Equal(first.Values, second.Values);
    }

    [Fact]
    public void Randomized_leading_values_match_the_direct_ones_on_a_decaying_spectrum()
    {
        // W = U diag(0.97^i) V^T with random orthonormal-ish U, V: the randomized path's leading values agree with the exact ones.
        const int m = 800, n = 600, full = 600;
        float[] left = TruncatedSvd.Orthonormalize(TruncatedSvd.Gaussian(m, full, 11), m, full);
        float[] right = TruncatedSvd.Orthonormalize(TruncatedSvd.Gaussian(n, full, 12), n, full);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < full; j++)
            {
                left[(i * full) + j] *= (float)Math.Pow(0.97, j);
            }
        }

        float[] w = MatrixProduct.Multiply(left, MatrixProduct.Transpose(right, n, full), m, full, n);
        SvdFactors randomized = TruncatedSvd.Compute(w, m, n, 60);
        for (int i = 0; i < 60; i++)
        {
            Assert.Equal(Math.Pow(0.97, i), randomized.Values[i], 2e-3);
        }
    }

    internal static float[] Rebuild(SvdFactors svd)
    {
        var scaled = (float[])svd.Left.Clone();
        for (int i = 0; i < svd.Rows; i++)
        {
            for (int j = 0; j < svd.Rank; j++)
            {
                scaled[(i * svd.Rank) + j] *= (float)svd.Values[j];
            }
        }

        return MatrixProduct.Multiply(scaled, svd.Right, svd.Rows, svd.Rank, svd.Columns);
    }

    private static float[] Subtract(float[] a, float[] b) => a.Zip(b, (x, y) => x - y).ToArray();

    private static double Frobenius2(float[] a) => a.Sum(x => (double)x * x);

    private static double RelativeError(float[] expected, float[] actual) => Math.Sqrt(Frobenius2(Subtract(expected, actual)) / Frobenius2(expected));
}
