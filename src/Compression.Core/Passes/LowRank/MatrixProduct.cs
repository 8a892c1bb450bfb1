using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Compression.Core.Passes.LowRank;

/// <summary>
/// Dense float matrix products for the factorizations, row-major: <c>C = A B</c> with B packed into panels of 16 columns
/// and a 4 x 16 register tile (eight 256-bit accumulators), blocked over 256 inner indices so that a panel stays in the
/// first-level cache. Row blocks of C run in parallel; every element of C is summed in the same order whichever thread
/// computes it, so the result does not depend on scheduling.
/// </summary>
public static class MatrixProduct
{
    private const int TileRows = 4;
    private const int TileColumns = 16;
    private const int InnerBlock = 256;
    private const int RowBlock = 64;

    /// <summary><c>A B</c> for A <c>[m, k]</c> and B <c>[k, n]</c>, as a new <c>[m, n]</c> array.</summary>
    public static float[] Multiply(float[] a, float[] b, int m, int k, int n)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.LongLength != (long)m * k || b.LongLength != (long)k * n)
        {
            throw new ArgumentException($"A holds {a.LongLength} values and B {b.LongLength}, not [{m}, {k}] and [{k}, {n}].");
        }

        var c = new float[(long)m * n];
        if (m == 0 || n == 0 || k == 0)
        {
            return c;
        }

        int panels = (n + TileColumns - 1) / TileColumns;
        // B in panels: panel j holds columns [16 j, 16 j + 16) as k rows of 16 (zero past n).
        var packed = new float[(long)panels * k * TileColumns];
        Parallel.For(0, panels, j =>
        {
            int first = j * TileColumns;
            int width = Math.Min(TileColumns, n - first);
            Span<float> panel = packed.AsSpan((int)((long)j * k * TileColumns), k * TileColumns);
            for (int row = 0; row < k; row++)
            {
                b.AsSpan((int)(((long)row * n) + first), width).CopyTo(panel.Slice(row * TileColumns, width));
            }
        });

        int blocks = (m + RowBlock - 1) / RowBlock;
        Parallel.For(0, blocks, block =>
        {
            int firstRow = block * RowBlock;
            int rows = Math.Min(RowBlock, m - firstRow);
            int tiles = (rows + TileRows - 1) / TileRows;
            var packedA = new float[tiles * InnerBlock * TileRows];
            Span<float> scratch = stackalloc float[TileRows * TileColumns];
            for (int start = 0; start < k; start += InnerBlock)
            {
                int length = Math.Min(InnerBlock, k - start);
                PackRows(a, k, firstRow, rows, start, length, packedA);
                for (int j = 0; j < panels; j++)
                {
                    ReadOnlySpan<float> panel = packed.AsSpan((int)(((long)j * k * TileColumns) + ((long)start * TileColumns)), length * TileColumns);
                    int column = j * TileColumns;
                    for (int tile = 0; tile < tiles; tile++)
                    {
                        Tile(packedA.AsSpan(tile * length * TileRows, length * TileRows), panel, length, c, firstRow + (tile * TileRows), column, m, n, scratch);
                    }
                }
            }
        });

        return c;
    }

    /// <summary>The transpose of <paramref name="a"/> (<c>[rows, columns]</c>), as a new <c>[columns, rows]</c> array.</summary>
    public static float[] Transpose(ReadOnlySpan<float> a, int rows, int columns)
    {
        var t = new float[(long)rows * columns];
        const int block = 32;
        for (int r0 = 0; r0 < rows; r0 += block)
        {
            for (int c0 = 0; c0 < columns; c0 += block)
            {
                int r1 = Math.Min(rows, r0 + block), c1 = Math.Min(columns, c0 + block);
                for (int r = r0; r < r1; r++)
                {
                    for (int c = c0; c < c1; c++)
                    {
                        t[((long)c * rows) + r] = a[(int)(((long)r * columns) + c)];
                    }
                }
            }
        }

        return t;
    }

    /// <summary>Copies rows [first, first + rows) and inner indices [start, start + length) of A into tiles of 4 interleaved rows.</summary>
    private static void PackRows(float[] a, int k, int first, int rows, int start, int length, float[] packed)
    {
        int tiles = (rows + TileRows - 1) / TileRows;
        for (int tile = 0; tile < tiles; tile++)
        {
            Span<float> target = packed.AsSpan(tile * length * TileRows, length * TileRows);
            for (int r = 0; r < TileRows; r++)
            {
                int row = (tile * TileRows) + r;
                if (row >= rows)
                {
                    for (int i = 0; i < length; i++)
                    {
                        target[(i * TileRows) + r] = 0;
                    }

                    continue;
                }

                ReadOnlySpan<float> source = a.AsSpan((int)(((long)(first + row) * k) + start), length);
                for (int i = 0; i < length; i++)
                {
                    target[(i * TileRows) + r] = source[i];
                }
            }
        }
    }

    /// <summary>Adds the product of 4 packed rows and one 16-column panel over <paramref name="length"/> inner indices to C.</summary>
    private static void Tile(ReadOnlySpan<float> rows, ReadOnlySpan<float> panel, int length, float[] c, int row, int column, int m, int n, Span<float> scratch)
    {
        ref float a = ref MemoryMarshal.GetReference(rows);
        ref float b = ref MemoryMarshal.GetReference(panel);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int i = 0; i < length; i++)
        {
            Vector256<float> b0 = Vector256.LoadUnsafe(ref b, (nuint)(i * TileColumns));
            Vector256<float> b1 = Vector256.LoadUnsafe(ref b, (nuint)((i * TileColumns) + 8));
            Vector256<float> a0 = Vector256.Create(Unsafe.Add(ref a, i * TileRows));
            Vector256<float> a1 = Vector256.Create(Unsafe.Add(ref a, (i * TileRows) + 1));
            Vector256<float> a2 = Vector256.Create(Unsafe.Add(ref a, (i * TileRows) + 2));
            Vector256<float> a3 = Vector256.Create(Unsafe.Add(ref a, (i * TileRows) + 3));
            c00 = MultiplyAdd(a0, b0, c00);
            c01 = MultiplyAdd(a0, b1, c01);
            c10 = MultiplyAdd(a1, b0, c10);
            c11 = MultiplyAdd(a1, b1, c11);
            c20 = MultiplyAdd(a2, b0, c20);
            c21 = MultiplyAdd(a2, b1, c21);
            c30 = MultiplyAdd(a3, b0, c30);
            c31 = MultiplyAdd(a3, b1, c31);
        }

        ref float s = ref MemoryMarshal.GetReference(scratch);
        c00.StoreUnsafe(ref s, 0);
        c01.StoreUnsafe(ref s, 8);
        c10.StoreUnsafe(ref s, 16);
        c11.StoreUnsafe(ref s, 24);
        c20.StoreUnsafe(ref s, 32);
        c21.StoreUnsafe(ref s, 40);
        c30.StoreUnsafe(ref s, 48);
        c31.StoreUnsafe(ref s, 56);
        int height = Math.Min(TileRows, m - row);
        int width = Math.Min(TileColumns, n - column);
        for (int r = 0; r < height; r++)
        {
            Span<float> target = c.AsSpan((int)(((long)(row + r) * n) + column), width);
            System.Numerics.Tensors.TensorPrimitives.Add(target, scratch.Slice(r * TileColumns, width), target);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MultiplyAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : (a * b) + c;
}
