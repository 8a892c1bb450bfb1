using System.Numerics.Tensors;

namespace Compression.Core.Passes.Quantization;

/// <summary>
/// GPTQ (Frantar et al., 2023): quantizes a layer's weight one input at a time and, after each, spreads the error it made
/// over the inputs not yet quantized, weighted by the inverse of the layer's input Hessian <c>H = X^T X</c> (from calibration
/// activations), so that the layer's outputs on those activations move as little as possible. Scales are chosen per block
/// when the block's first input is reached, from the weights as the updates left them. A weight that is exactly zero (a
/// pruned one) is kept at zero: its level is the zero point, and the updates it received are compensated like a rounding error.
/// </summary>
public static class Gptq
{
    /// <summary>The damping added to H's diagonal, as a fraction of its mean diagonal.</summary>
    public const double Damping = 0.01;

    /// <summary>Quantizes <paramref name="weights"/> (<c>[N, K]</c>, one row per output channel) with the input Hessian <paramref name="hessian"/>.</summary>
    /// <param name="weights">The float weights, row-major <c>[N, K]</c>.</param>
    /// <param name="n">Output channels.</param>
    /// <param name="k">Inputs per channel.</param>
    /// <param name="hessian">X^T X over the calibration rows, row-major <c>[K, K]</c>.</param>
    /// <param name="format">Bits, block size and symmetry.</param>
    public static BlockQuantizedWeight Quantize(ReadOnlySpan<float> weights, int n, int k, ReadOnlySpan<double> hessian, BlockFormat format)
    {
        if (weights.Length != (long)n * k || hessian.Length != (long)k * k)
        {
            throw new ArgumentException($"The weights [{n}, {k}] and the Hessian of {hessian.Length} values do not match.");
        }

        // Work on W^T ([K, N]): input i's weights are one contiguous row, and each update is one vector operation.
        // A weight that is exactly zero (pruned) stays exactly zero: its level is the zero point, and what the updates of
        // earlier inputs added to it is compensated on the inputs after it, as a rounding error is.
        var transposed = new float[(long)k * n];
        var keptZero = new bool[(long)k * n];
        for (int row = 0; row < n; row++)
        {
            for (int col = 0; col < k; col++)
            {
                float value = weights[(row * k) + col];
                transposed[((long)col * n) + row] = value;
                keptZero[((long)col * n) + row] = value == 0;
            }
        }

        double[] h = hessian.ToArray();
        for (int i = 0; i < k; i++)
        {
            if (h[(i * k) + i] == 0)
            {
                // An input that is always zero: its weights never matter; quantize them to zero.
                h[(i * k) + i] = 1;
                transposed.AsSpan(i * n, n).Clear();
            }
        }

        double[] inverseFactor = InverseCholeskyUpper(h, k);
        int blocks = format.BlocksPer(k);
        var levels = new byte[(long)n * k];
        var scales = new float[n * blocks];
        var zeros = new byte[n * blocks];
        // Lazy batches (as GPTQ does): the errors of a batch of inputs update the inputs inside the batch at once and the
        // inputs after it together, in parallel, once the batch is done. Each input still receives every update in the
        // same order, so the result is the one of updating input by input. Batches hold whole blocks.
        int batch = format.BlockSize * Math.Max(1, 128 / format.BlockSize);
        var errors = new float[(long)batch * n];
        var blockValues = new float[format.BlockSize];
        for (int start = 0; start < k; start += batch)
        {
            int stop = Math.Min(k, start + batch);
            for (int i = start; i < stop; i++)
            {
                int block = i / format.BlockSize;
                if (i % format.BlockSize == 0)
                {
                    int length = Math.Min(format.BlockSize, k - i);
                    for (int row = 0; row < n; row++)
                    {
                        for (int j = 0; j < length; j++)
                        {
                            long at = ((long)(i + j) * n) + row;
                            blockValues[j] = keptZero[at] ? 0f : transposed[at];
                        }

                        (float scale, byte zero) = BlockQuantization.ChooseScale(blockValues.AsSpan(0, length), format);
                        scales[(row * blocks) + block] = scale;
                        zeros[(row * blocks) + block] = zero;
                    }
                }

                Span<float> column = transposed.AsSpan(i * n, n);
                Span<float> error = errors.AsSpan((i - start) * n, n);
                float diagonal = (float)inverseFactor[((long)i * k) + i];
                for (int row = 0; row < n; row++)
                {
                    float scale = scales[(row * blocks) + block];
                    byte zero = zeros[(row * blocks) + block];
                    byte level = keptZero[((long)i * n) + row] ? zero : BlockQuantization.Level(column[row], scale, zero, format.MaxLevel);
                    levels[((long)row * k) + i] = level;
                    error[row] = (column[row] - ((level - zero) * scale)) / diagonal;
                }

                for (int j = i + 1; j < stop; j++)
                {
                    Spread(error, (float)inverseFactor[((long)i * k) + j], transposed.AsSpan(j * n, n));
                }
            }

            int batchStart = start;
            Parallel.For(stop, k, j =>
            {
                Span<float> target = transposed.AsSpan(j * n, n);
                for (int i = batchStart; i < stop; i++)
                {
                    Spread(errors.AsSpan((i - batchStart) * n, n), (float)inverseFactor[((long)i * k) + j], target);
                }
            });
        }

        return new BlockQuantizedWeight(format, n, k, levels, scales, zeros);
    }

    /// <summary>Input j's weights minus <paramref name="factor"/> times an earlier input's scaled rounding error.</summary>
    private static void Spread(ReadOnlySpan<float> error, float factor, Span<float> target)
    {
        if (factor != 0)
        {
            TensorPrimitives.MultiplyAdd(error, -factor, target, target);
        }
    }

    /// <summary>
    /// The relative output error of a quantized weight on the calibration activations:
    /// <c>sum_n (w_n - q_n)^T H (w_n - q_n) / sum_n w_n^T H w_n</c>, the squared error of the layer's outputs over its input rows.
    /// </summary>
    public static double RelativeOutputError(ReadOnlySpan<float> weights, BlockQuantizedWeight quantized, ReadOnlySpan<double> hessian)
    {
        int k = quantized.K;
        var difference = new double[k];
        var original = new double[k];
        var product = new double[k];
        double errorSum = 0;
        double signalSum = 0;
        for (int row = 0; row < quantized.N; row++)
        {
            for (int col = 0; col < k; col++)
            {
                original[col] = weights[(row * k) + col];
                difference[col] = original[col] - quantized.Dequantize(row, col);
            }

            errorSum += Quadratic(hessian, difference, product, k);
            signalSum += Quadratic(hessian, original, product, k);
        }

        return signalSum > 0 ? errorSum / signalSum : 0;
    }

    private static double Quadratic(ReadOnlySpan<double> matrix, double[] vector, double[] product, int k)
    {
        for (int i = 0; i < k; i++)
        {
            product[i] = TensorPrimitives.Dot(matrix.Slice(i * k, k), vector);
        }

        return TensorPrimitives.Dot<double>(vector, product);
    }

    /// <summary>
    /// The upper Cholesky factor <c>U</c> of <c>H^-1</c> (<c>H^-1 = U^T U</c>) after damping, row-major <c>[K, K]</c>: row
    /// <c>i</c> holds how input <c>i</c>'s error spreads to the inputs after it. More damping is added until H is positive
    /// definite.
    /// </summary>
    internal static double[] InverseCholeskyUpper(double[] h, int k)
    {
        double mean = 0;
        for (int i = 0; i < k; i++)
        {
            mean += h[(i * k) + i];
        }

        mean /= k;
        double damping = Damping * mean;
        for (int attempt = 0; attempt < 8; attempt++, damping *= 10)
        {
            double[] damped = (double[])h.Clone();
            for (int i = 0; i < k; i++)
            {
                damped[(i * k) + i] += damping;
            }

            if (!CholeskyLower(damped, k))
            {
                continue;
            }

            // H^-1 = L^-T L^-1: row i is the sum over rows m >= i of X = L^-1 of X[m, i] X[m] (X[m] is zero after column m),
            // each row on its own, in parallel.
            double[] inverseLower = InvertLower(damped, k);
            var inverse = new double[(long)k * k];
            Parallel.For(0, k, i =>
            {
                for (int m = i; m < k; m++)
                {
                    Span<double> target = inverse.AsSpan(i * k, m + 1);
                    TensorPrimitives.MultiplyAdd(inverseLower.AsSpan(m * k, m + 1), inverseLower[((long)m * k) + i], target, target);
                }
            });

            // Its upper factor U (H^-1 = U^T U) gives how each input's error spreads to the inputs after it.
            if (CholeskyUpper(inverse, k))
            {
                return inverse;
            }
        }

        throw new InvalidOperationException("The input Hessian is not positive definite even after damping.");
    }

    /// <summary>In place: the lower factor L of A = L L^T (the upper triangle is cleared). False when A is not positive definite.</summary>
    private static bool CholeskyLower(double[] a, int k)
    {
        for (int j = 0; j < k; j++)
        {
            double diagonal = a[((long)j * k) + j] - TensorPrimitives.Dot<double>(a.AsSpan(j * k, j), a.AsSpan(j * k, j));
            if (!(diagonal > 0))
            {
                return false;
            }

            double root = Math.Sqrt(diagonal);
            a[((long)j * k) + j] = root;
            for (int i = j + 1; i < k; i++)
            {
                double value = a[((long)i * k) + j] - TensorPrimitives.Dot<double>(a.AsSpan(i * k, j), a.AsSpan(j * k, j));
                a[((long)i * k) + j] = value / root;
            }

            a.AsSpan((j * k) + j + 1, k - j - 1).Clear();
        }

        return true;
    }

    /// <summary>In place: the upper factor U of A = U^T U (the lower triangle is cleared). False when A is not positive definite.</summary>
    private static bool CholeskyUpper(double[] a, int k)
    {
        // Row i of U: A[i, i..] minus U[m, i] * U[m, i..] for every row m above, divided by U[i, i].
        for (int i = 0; i < k; i++)
        {
            Span<double> row = a.AsSpan((i * k) + i, k - i);
            for (int m = 0; m < i; m++)
            {
                double factor = a[((long)m * k) + i];
                if (factor != 0)
                {
                    TensorPrimitives.MultiplyAdd(a.AsSpan((m * k) + i, k - i), -factor, row, row);
                }
            }

            if (!(row[0] > 0))
            {
                return false;
            }

            double root = Math.Sqrt(row[0]);
            TensorPrimitives.Divide(row, root, row);
        }

        for (int i = 0; i < k; i++)
        {
            a.AsSpan(i * k, i).Clear();
        }

        return true;
    }

    /// <summary>The inverse of a lower-triangular matrix, itself lower-triangular: row by row, X[i] = (e_i - sum_m L[i, m] X[m]) / L[i, i].</summary>
    private static double[] InvertLower(double[] lower, int k)
    {
        var inverse = new double[(long)k * k];
        for (int i = 0; i < k; i++)
        {
            Span<double> row = inverse.AsSpan(i * k, i + 1);
            row[i] = 1;
            for (int m = 0; m < i; m++)
            {
                double factor = lower[((long)i * k) + m];
                if (factor != 0)
                {
                    TensorPrimitives.MultiplyAdd(inverse.AsSpan(m * k, m + 1), -factor, row[..(m + 1)], row[..(m + 1)]);
                }
            }

            TensorPrimitives.Divide(row, lower[((long)i * k) + i], row);
        }

        return inverse;
    }
}
