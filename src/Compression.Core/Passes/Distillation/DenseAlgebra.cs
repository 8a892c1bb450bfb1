using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compression.Core.Passes.Distillation;

/// <summary>
/// The dense double-precision kernels least squares needs, over row-major arrays: a blocked product, a blocked Cholesky
/// factorization and triangular solves with many right-hand sides. Work is split over rows of the result, each row done
/// by one thread in a fixed order, so results are the same on any number of threads.
/// </summary>
internal static class DenseAlgebra
{
    private const int DepthTile = 256;
    private const int RowChunk = 32;
    private const int Block = 64;

    /// <summary>
    /// <c>C[i, j] += alpha * sum_m A[i, m] B[m, j]</c> for <c>i &lt; rows</c>, <c>j &lt; columns</c>, <c>m &lt; depth</c>; each
    /// matrix given by its array, the offset of its first element and its row stride. With <paramref name="part"/>, only
    /// about one triangle of a square C is computed (whole chunks of rows at a time: entries a little past the diagonal are
    /// computed too, and left for the caller to ignore).
    /// </summary>
    public static void MultiplyAdd(
        int rows, int columns, int depth, double alpha,
        double[] a, int aOffset, int aStride,
        double[] b, int bOffset, int bStride,
        double[] c, int cOffset, int cStride,
        bool parallel = true, Triangle part = Triangle.All)
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
            int firstColumn = part == Triangle.Upper ? Math.Min(firstRow, columns) : 0;
            int lastColumn = part == Triangle.Lower ? Math.Min(lastRow, columns) : columns;
            for (int m0 = 0; m0 < depth; m0 += DepthTile)
            {
                int m1 = Math.Min(depth, m0 + DepthTile);
                int j = firstColumn;
                if (Vector256.IsHardwareAccelerated)
                {
                    for (; j + 8 <= lastColumn; j += 8)
                    {
                        int i = firstRow;
                        for (; i + 4 <= lastRow; i += 4)
                        {
                            Block4x8(i, j, m0, m1, alpha, a, aOffset, aStride, b, bOffset, bStride, c, cOffset, cStride);
                        }

                        for (; i < lastRow; i++)
                        {
                            Block1x8(i, j, m0, m1, alpha, a, aOffset, aStride, b, bOffset, bStride, c, cOffset, cStride);
                        }
                    }
                }

                if (j < lastColumn)
                {
                    int width = lastColumn - j;
                    for (int i = firstRow; i < lastRow; i++)
                    {
                        Span<double> target = c.AsSpan(cOffset + (i * cStride) + j, width);
                        for (int m = m0; m < m1; m++)
                        {
                            double factor = a[aOffset + (i * aStride) + m] * alpha;
                            if (factor != 0)
                            {
                                TensorPrimitives.MultiplyAdd(b.AsSpan(bOffset + (m * bStride) + j, width), factor, target, target);
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

    /// <summary>Which part of a square product <see cref="MultiplyAdd"/> computes.</summary>
    public enum Triangle
    {
        /// <summary>Every entry.</summary>
        All,

        /// <summary>The entries on and above the diagonal (and some below it).</summary>
        Upper,

        /// <summary>The entries on and below the diagonal (and some above it).</summary>
        Lower,
    }

    /// <summary>Four rows by eight columns of C, their sums held in registers over the depth tile.</summary>
    private static void Block4x8(int i, int j, int m0, int m1, double alpha, double[] a, int aOffset, int aStride, double[] b, int bOffset, int bStride, double[] c, int cOffset, int cStride)
    {
        ref double aRef = ref MemoryMarshal.GetArrayDataReference(a);
        ref double bRef = ref MemoryMarshal.GetArrayDataReference(b);
        ref double cRef = ref MemoryMarshal.GetArrayDataReference(c);
        Vector256<double> c00 = Vector256<double>.Zero, c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        nuint a0 = (nuint)(aOffset + (i * aStride)), a1 = a0 + (nuint)aStride, a2 = a1 + (nuint)aStride, a3 = a2 + (nuint)aStride;
        for (int m = m0; m < m1; m++)
        {
            nuint bIndex = (nuint)(bOffset + (m * bStride) + j);
            Vector256<double> b0 = Vector256.LoadUnsafe(ref bRef, bIndex);
            Vector256<double> b1 = Vector256.LoadUnsafe(ref bRef, bIndex + 4);
            Vector256<double> x = Vector256.Create(Unsafe.Add(ref aRef, a0 + (nuint)m));
            c00 = MulAdd(x, b0, c00);
            c01 = MulAdd(x, b1, c01);
            x = Vector256.Create(Unsafe.Add(ref aRef, a1 + (nuint)m));
            c10 = MulAdd(x, b0, c10);
            c11 = MulAdd(x, b1, c11);
            x = Vector256.Create(Unsafe.Add(ref aRef, a2 + (nuint)m));
            c20 = MulAdd(x, b0, c20);
            c21 = MulAdd(x, b1, c21);
            x = Vector256.Create(Unsafe.Add(ref aRef, a3 + (nuint)m));
            c30 = MulAdd(x, b0, c30);
            c31 = MulAdd(x, b1, c31);
        }

        Vector256<double> scale = Vector256.Create(alpha);
        nuint row = (nuint)(cOffset + (i * cStride) + j);
        Store(ref cRef, row, scale, c00, c01);
        Store(ref cRef, row + (nuint)cStride, scale, c10, c11);
        Store(ref cRef, row + (2 * (nuint)cStride), scale, c20, c21);
        Store(ref cRef, row + (3 * (nuint)cStride), scale, c30, c31);
    }

    /// <summary>One row by eight columns of C.</summary>
    private static void Block1x8(int i, int j, int m0, int m1, double alpha, double[] a, int aOffset, int aStride, double[] b, int bOffset, int bStride, double[] c, int cOffset, int cStride)
    {
        ref double aRef = ref MemoryMarshal.GetArrayDataReference(a);
        ref double bRef = ref MemoryMarshal.GetArrayDataReference(b);
        ref double cRef = ref MemoryMarshal.GetArrayDataReference(c);
        Vector256<double> c0 = Vector256<double>.Zero, c1 = c0;
        nuint a0 = (nuint)(aOffset + (i * aStride));
        for (int m = m0; m < m1; m++)
        {
            nuint bIndex = (nuint)(bOffset + (m * bStride) + j);
            Vector256<double> x = Vector256.Create(Unsafe.Add(ref aRef, a0 + (nuint)m));
            c0 = MulAdd(x, Vector256.LoadUnsafe(ref bRef, bIndex), c0);
            c1 = MulAdd(x, Vector256.LoadUnsafe(ref bRef, bIndex + 4), c1);
        }

        Store(ref cRef, (nuint)(cOffset + (i * cStride) + j), Vector256.Create(alpha), c0, c1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> MulAdd(Vector256<double> x, Vector256<double> y, Vector256<double> sum) =>
        Fma.IsSupported ? Fma.MultiplyAdd(x, y, sum) : Vector256.Add(Vector256.Multiply(x, y), sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref double target, nuint index, Vector256<double> scale, Vector256<double> low, Vector256<double> high)
    {
        MulAdd(low, scale, Vector256.LoadUnsafe(ref target, index)).StoreUnsafe(ref target, index);
        MulAdd(high, scale, Vector256.LoadUnsafe(ref target, index + 4)).StoreUnsafe(ref target, index + 4);
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

            // The trailing matrix: A[i, j] -= L[i, J] . L[j, J] for j1 <= j <= i (and some j > i, never read).
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

                MultiplyAdd(below, below, j1 - j0, -1, a, (j1 * k) + j0, k, panelT, 0, below, a, (j1 * k) + j1, k, parallel, Triangle.Lower);
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
        if (columns < 8)
        {
            // Few right-hand sides (one output of a masked refit): each by dot products over contiguous rows.
            double[] upperT = Transpose(lower, k, k);
            var vector = new double[k];
            for (int column = 0; column < columns; column++)
            {
                for (int i = 0; i < k; i++)
                {
                    vector[i] = b[((long)i * columns) + column];
                }

                for (int i = 0; i < k; i++)
                {
                    vector[i] = (vector[i] - TensorPrimitives.Dot(lower.AsSpan(i * k, i), vector.AsSpan(0, i))) / lower[((long)i * k) + i];
                }

                for (int i = k - 1; i >= 0; i--)
                {
                    vector[i] = (vector[i] - TensorPrimitives.Dot(upperT.AsSpan((i * k) + i + 1, k - i - 1), vector.AsSpan(i + 1, k - i - 1))) / upperT[((long)i * k) + i];
                }

                for (int i = 0; i < k; i++)
                {
                    b[((long)i * columns) + column] = vector[i];
                }
            }

            return;
        }

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
