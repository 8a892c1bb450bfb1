using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Compression.Core.Passes.LowRank;

/// <summary>
/// The eigen-decomposition of a symmetric matrix in double precision: Householder reduction to tridiagonal form, then the
/// implicit QL iteration (the EISPACK tred2/tql2 routines, as JAMA has them). The rotations of the QL iteration work on
/// eigenvector rows, two contiguous spans at a time.
/// </summary>
public static class SymmetricEigen
{
    /// <summary>
    /// Decomposes the symmetric <c>[n, n]</c> matrix <paramref name="matrix"/> (row-major; only its values are read, it is
    /// not changed): <c>A = V^T diag(values) V</c>.
    /// </summary>
    /// <returns>The eigenvalues, largest first, and the eigenvectors as the rows of a <c>[n, n]</c> array, in the same order.</returns>
    public static (double[] Values, double[] Vectors) Decompose(ReadOnlySpan<double> matrix, int n)
    {
        if (matrix.Length != (long)n * n)
        {
            throw new ArgumentException($"The matrix holds {matrix.Length} values, not [{n}, {n}].", nameof(matrix));
        }

        double[] v = matrix.ToArray();
        var d = new double[n];
        var e = new double[n];
        if (n == 0)
        {
            return (d, v);
        }

        // The matrix is symmetric: t starts as A = A^T and holds V transposed throughout, so that the Householder loops
        // run along rows, and its rows are V's columns, which the QL rotations mix.
        Tridiagonalize(v, d, e, n);
        double[] rows = v;
        Diagonalize(rows, d, e, n);

        int[] order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (x, y) => d[y].CompareTo(d[x]) is var c and not 0 ? c : x.CompareTo(y));
        var values = new double[n];
        var vectors = new double[(long)n * n];
        for (int i = 0; i < n; i++)
        {
            values[i] = d[order[i]];
            rows.AsSpan(order[i] * n, n).CopyTo(vectors.AsSpan(i * n, n));
        }

        return (values, vectors);
    }

    /// <summary>
    /// Householder reduction (tred2) on <paramref name="t"/> = V^T: at the end V holds the orthogonal transform, d the
    /// diagonal and e the subdiagonal. JAMA's V[a][b] is t[b][a] here.
    /// </summary>
    private static void Tridiagonalize(double[] t, double[] d, double[] e, int n)
    {
        for (int j = 0; j < n; j++)
        {
            d[j] = t[(j * n) + n - 1];
        }

        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0, h = 0;
            for (int k = 0; k < i; k++)
            {
                scale += Math.Abs(d[k]);
            }

            if (scale == 0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++)
                {
                    d[j] = t[(j * n) + i - 1];
                    t[(j * n) + i] = 0;
                    t[(i * n) + j] = 0;
                }
            }
            else
            {
                for (int k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }

                double f = d[i - 1];
                double g = Math.Sqrt(h);
                if (f > 0)
                {
                    g = -g;
                }

                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                Array.Clear(e, 0, i);

                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    t[(i * n) + j] = f;
                    ReadOnlySpan<double> row = t.AsSpan((j * n) + j + 1, i - j - 1);
                    g = e[j] + (t[(j * n) + j] * f) + TensorPrimitives.Dot(row, d.AsSpan(j + 1, i - j - 1));
                    Span<double> tail = e.AsSpan(j + 1, i - j - 1);
                    TensorPrimitives.MultiplyAdd(row, f, tail, tail);
                    e[j] = g;
                }

                f = 0;
                for (int j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }

                double hh = f / (h + h);
                for (int j = 0; j < i; j++)
                {
                    e[j] -= hh * d[j];
                }

                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    Span<double> row = t.AsSpan((j * n) + j, i - j);
                    TensorPrimitives.MultiplyAdd(e.AsSpan(j, i - j), -f, row, row);
                    TensorPrimitives.MultiplyAdd(d.AsSpan(j, i - j), -g, row, row);
                    d[j] = t[(j * n) + i - 1];
                    t[(j * n) + i] = 0;
                }
            }

            d[i] = h;
        }

        // Accumulate the transformations.
        for (int i = 0; i < n - 1; i++)
        {
            t[(i * n) + n - 1] = t[(i * n) + i];
            t[(i * n) + i] = 1;
            double h = d[i + 1];
            Span<double> next = t.AsSpan((i + 1) * n, i + 1);
            if (h != 0)
            {
                TensorPrimitives.Divide(next, h, d.AsSpan(0, i + 1));
                for (int j = 0; j <= i; j++)
                {
                    Span<double> row = t.AsSpan(j * n, i + 1);
                    double g = TensorPrimitives.Dot(next, row);
                    TensorPrimitives.MultiplyAdd(d.AsSpan(0, i + 1), -g, row, row);
                }
            }

            next.Clear();
        }

        for (int j = 0; j < n; j++)
        {
            d[j] = t[(j * n) + n - 1];
            t[(j * n) + n - 1] = 0;
        }

        t[((n - 1) * n) + n - 1] = 1;
        e[0] = 0;
    }

    /// <summary>Implicit QL on the tridiagonal (d, e); <paramref name="rows"/> holds V's columns as rows (tql2).</summary>
    private static void Diagonalize(double[] rows, double[] d, double[] e, int n)
    {
        for (int i = 1; i < n; i++)
        {
            e[i - 1] = e[i];
        }

        e[n - 1] = 0;
        double f = 0, tst1 = 0;
        double eps = Math.Pow(2.0, -52.0);
        for (int l = 0; l < n; l++)
        {
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n - 1 && Math.Abs(e[m]) > eps * tst1)
            {
                m++;
            }

            if (m > l)
            {
                int iterations = 0;
                do
                {
                    if (++iterations > 60)
                    {
                        break;
                    }

                    double g = d[l];
                    double p = (d[l + 1] - g) / (2.0 * e[l]);
                    double r = Hypot(p, 1.0);
                    if (p < 0)
                    {
                        r = -r;
                    }

                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++)
                    {
                        d[i] -= h;
                    }

                    f += h;
                    p = d[m];
                    double c = 1, c2 = 1, c3 = 1;
                    double el1 = e[l + 1];
                    double s = 0, s2 = 0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = (c * d[i]) - (s * g);
                        d[i + 1] = h + (s * ((c * g) + (s * d[i])));

                        // Rotate columns i and i + 1 of V: rows i and i + 1 here.
                        Rotate(rows.AsSpan(i * n, n), rows.AsSpan((i + 1) * n, n), c, s);
                    }

                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                }
                while (Math.Abs(e[l]) > eps * tst1);
            }

            d[l] += f;
            e[l] = 0;
        }
    }

    /// <summary>left = c left - s right; right = s left + c right, in one pass.</summary>
    private static void Rotate(Span<double> left, Span<double> right, double c, double s)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vc = Vector256.Create(c);
            var vs = Vector256.Create(s);
            ref double l = ref MemoryMarshal.GetReference(left);
            ref double r = ref MemoryMarshal.GetReference(right);
            for (; i + 4 <= left.Length; i += 4)
            {
                Vector256<double> x = Vector256.LoadUnsafe(ref l, (nuint)i);
                Vector256<double> y = Vector256.LoadUnsafe(ref r, (nuint)i);
                ((vc * x) - (vs * y)).StoreUnsafe(ref l, (nuint)i);
                ((vs * x) + (vc * y)).StoreUnsafe(ref r, (nuint)i);
            }
        }

        for (; i < left.Length; i++)
        {
            double x = left[i], y = right[i];
            left[i] = (c * x) - (s * y);
            right[i] = (s * x) + (c * y);
        }
    }

    private static double Hypot(double a, double b)
    {
        double x = Math.Abs(a), y = Math.Abs(b);
        if (x < y)
        {
            (x, y) = (y, x);
        }

        if (x == 0)
        {
            return 0;
        }

        double t = y / x;
        return x * Math.Sqrt(1 + (t * t));
    }
}
