using System.Numerics.Tensors;

namespace Compression.Core.Passes.Distillation;

/// <summary>
/// The dense double-precision kernels least squares needs, over row-major arrays: a blocked product, a blocked Cholesky
/// factorization and triangular solves with many right-hand sides. Work is split over rows of the result, each row done
/// by one thread in a fixed order, so results are the same on any number of threads.
/// </summary>
internal static class DenseAlgebra
{
    private const int DepthTile = 64;
    private const int ColumnTile = 512;
    private const int RowChunk = 8;
    private const int Block = 64;

    /// <summary>
    /// <c>C[i, j] += alpha * sum_m A[i, m] B[m, j]</c> for <c>i &lt; rows</c>, <c>j &lt; columns</c>, <c>m &lt; depth</c>; each
    /// matrix given by its array, the offset of its first element and its row stride.
    /// </summary>
    public static void MultiplyAdd(
        int rows, int columns, int depth, double alpha,
        double[] a, int aOffset, int aStride,
        double[] b, int bOffset, int bStride,
        double[] c, int cOffset, int cStride,
        bool parallel = true)
    {
        if (rows == 0 || columns == 0 || depth == 0)
        {
            return;
        }

        int chunks = (rows + RowChunk - 1) / RowChunk;
        void Chunk(int chunk)
        {
            int firstRow = chunk * RowChunk;
            int lastRow = Math.Min(rows, firstRow + RowChunk);
            for (int j0 = 0; j0 < columns; j0 += ColumnTile)
            {
                int width = Math.Min(ColumnTile, columns - j0);
                for (int m0 = 0; m0 < depth; m0 += DepthTile)
                {
                    int m1 = Math.Min(depth, m0 + DepthTile);
                    for (int i = firstRow; i < lastRow; i++)
                    {
                        Span<double> target = c.AsSpan(cOffset + (i * cStride) + j0, width);
                        int aRow = aOffset + (i * aStride);
                        for (int m = m0; m < m1; m++)
                        {
                            double factor = a[aRow + m] * alpha;
                            if (factor != 0)
                            {
                                TensorPrimitives.MultiplyAdd(b.AsSpan(bOffset + (m * bStride) + j0, width), factor, target, target);
                            }
                        }
                    }
                }
            }
        }

        if (parallel && chunks > 1 && (long)rows * columns * depth > 1 << 18)
        {
            Parallel.For(0, chunks, Chunk);
        }
        else
        {
            for (int chunk = 0; chunk < chunks; chunk++)
            {
                Chunk(chunk);
            }
        }
    }

    /// <summary>The transpose of a row-major <c>[rows, columns]</c> matrix.</summary>
    public static double[] Transpose(double[] matrix, int rows, int columns)
    {
        var result = new double[(long)rows * columns];
        for (int i0 = 0; i0 < rows; i0 += Block)
        {
            for (int j0 = 0; j0 < columns; j0 += Block)
            {
                for (int i = i0; i < Math.Min(rows, i0 + Block); i++)
                {
                    for (int j = j0; j < Math.Min(columns, j0 + Block); j++)
                    {
                        result[((long)j * rows) + i] = matrix[((long)i * columns) + j];
                    }
                }
            }
        }

        return result;
    }

    /// <summary>
    /// In place: the lower factor L of the symmetric positive definite <c>A = L L^T</c> (<c>[k, k]</c>; only the lower
    /// triangle is read; the upper triangle is cleared). False when A is not positive definite (A is then spoiled).
    /// </summary>
    public static bool CholeskyLower(double[] a, int k, bool parallel = true)
    {
        for (int j0 = 0; j0 < k; j0 += Block)
        {
            int j1 = Math.Min(k, j0 + Block);

            // The diagonal block, already updated by the blocks to its left.
            for (int j = j0; j < j1; j++)
            {
                ReadOnlySpan<double> rowJ = a.AsSpan((j * k) + j0, j - j0);
                double diagonal = a[((long)j * k) + j] - TensorPrimitives.Dot(rowJ, rowJ);
                if (!(diagonal > 0) || double.IsInfinity(diagonal))
                {
                    return false;
                }

                double root = Math.Sqrt(diagonal);
                a[((long)j * k) + j] = root;
                for (int i = j + 1; i < j1; i++)
                {
                    a[((long)i * k) + j] = (a[((long)i * k) + j] - TensorPrimitives.Dot(a.AsSpan((i * k) + j0, j - j0), rowJ)) / root;
                }
            }

            // The panel below it: L[i, J] L[J, J]^T = A[i, J], row by row.
            int below = k - j1;
            void PanelRow(int index)
            {
                int i = j1 + index;
                for (int j = j0; j < j1; j++)
                {
                    a[((long)i * k) + j] = (a[((long)i * k) + j] - TensorPrimitives.Dot(a.AsSpan((i * k) + j0, j - j0), a.AsSpan((j * k) + j0, j - j0))) / a[((long)j * k) + j];
                }
            }

            For(below, PanelRow, parallel && (long)below * Block * Block > 1 << 18);

            // The trailing matrix: A[i, j] -= L[i, J] . L[j, J] for j1 <= j <= i, each row i by one thread.
            if (below > 0)
            {
                double[] panelT = new double[(long)(j1 - j0) * below];
                for (int i = 0; i < below; i++)
                {
                    for (int m = j0; m < j1; m++)
                    {
                        panelT[((long)(m - j0) * below) + i] = a[((long)(j1 + i) * k) + m];
                    }
                }

                int depth = j1 - j0;
                int chunks = (below + RowChunk - 1) / RowChunk;
                void TrailingChunk(int chunk)
                {
                    int first = chunk * RowChunk;
                    int last = Math.Min(below, first + RowChunk);
                    for (int i = first; i < last; i++)
                    {
                        int width = i + 1;
                        Span<double> target = a.AsSpan(((j1 + i) * k) + j1, width);
                        for (int m = 0; m < depth; m++)
                        {
                            double factor = panelT[((long)m * below) + i];
                            if (factor != 0)
                            {
                                TensorPrimitives.MultiplyAdd(panelT.AsSpan(m * below, width), -factor, target, target);
                            }
                        }
                    }
                }

                For(chunks, TrailingChunk, parallel && (long)below * below * depth > 1 << 18);
            }
        }

        for (int i = 0; i < k; i++)
        {
            a.AsSpan((i * k) + i + 1, k - i - 1).Clear();
        }

        return true;
    }

    /// <summary>
    /// In place: solves <c>L L^T X = B</c> for <c>X</c>, B <c>[k, columns]</c> row-major, given the Cholesky factor L
    /// (<see cref="CholeskyLower"/>): forward, then backward substitution, in blocks of rows.
    /// </summary>
    public static void CholeskySolve(double[] lower, int k, double[] b, int columns, bool parallel = true)
    {
        // Forward: L Y = B.
        for (int i0 = 0; i0 < k; i0 += Block)
        {
            int i1 = Math.Min(k, i0 + Block);
            MultiplyAdd(i1 - i0, columns, i0, -1, lower, i0 * k, k, b, 0, columns, b, i0 * columns, columns, parallel);
            for (int i = i0; i < i1; i++)
            {
                Span<double> row = b.AsSpan(i * columns, columns);
                for (int m = i0; m < i; m++)
                {
                    double factor = lower[((long)i * k) + m];
                    if (factor != 0)
                    {
                        TensorPrimitives.MultiplyAdd(b.AsSpan(m * columns, columns), -factor, row, row);
                    }
                }

                TensorPrimitives.Divide(row, lower[((long)i * k) + i], row);
            }
        }

        // Backward: L^T X = Y, with U = L^T row-major.
        double[] upper = Transpose(lower, k, k);
        for (int i1 = k; i1 > 0; i1 -= Block)
        {
            int i0 = Math.Max(0, i1 - Block);
            MultiplyAdd(i1 - i0, columns, k - i1, -1, upper, (i0 * k) + i1, k, b, i1 * columns, columns, b, i0 * columns, columns, parallel);
            for (int i = i1 - 1; i >= i0; i--)
            {
                Span<double> row = b.AsSpan(i * columns, columns);
                for (int m = i + 1; m < i1; m++)
                {
                    double factor = upper[((long)i * k) + m];
                    if (factor != 0)
                    {
                        TensorPrimitives.MultiplyAdd(b.AsSpan(m * columns, columns), -factor, row, row);
                    }
                }

                TensorPrimitives.Divide(row, upper[((long)i * k) + i], row);
            }
        }
    }

    private static void For(int count, Action<int> body, bool parallel)
    {
        if (parallel && count > 1)
        {
            Parallel.For(0, count, body);
        }
        else
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
        }
    }
}
