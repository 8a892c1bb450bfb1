using System.Numerics.Tensors;
using Compression.Core.Passes.Quantization;

namespace Compression.Core.Passes.Pruning;

/// <summary>
/// SparseGPT (Frantar and Alistarh, 2023): prunes a layer's weight one input at a time and, after each, spreads the error of
/// the weights it removed over the inputs not yet reached, weighted by the inverse of the layer's input Hessian
/// <c>H = X^T X + λI</c> (optimal brain surgeon updates), so that the layer's outputs on the calibration activations move as
/// little as possible. The mask is chosen adaptively in blocks of <see cref="BlockSize"/> inputs from
/// <c>w² / [H^-1]_jj²</c> (the upper Cholesky factor of H^-1, as the paper's code), or per group of M inputs for N:M.
/// </summary>
public static class SparseGpt
{
    /// <summary>Inputs whose mask is chosen together (unstructured).</summary>
    public const int BlockSize = 128;

    /// <summary>
    /// Prunes <paramref name="weights"/> (<c>[N, K]</c>, one row per output) in place with the input Hessian
    /// <paramref name="hessian"/> (<c>[K, K]</c>): per block of 128 inputs, <c>round(fraction · N · block)</c> weights go
    /// (unstructured), or N of every M inputs per output when <paramref name="m"/> is above 0.
    /// </summary>
    /// <param name="weights">The weights, row-major <c>[N, K]</c>; pruned and updated in place.</param>
    /// <param name="n">Outputs.</param>
    /// <param name="k">Inputs per output.</param>
    /// <param name="hessian">X^T X over the calibration rows, row-major <c>[K, K]</c>.</param>
    /// <param name="fraction">The share to remove (unstructured).</param>
    /// <param name="pruneN">N of N:M, or 0 for unstructured.</param>
    /// <param name="m">M of N:M, or 0 for unstructured.</param>
    /// <returns>The mask of the removed weights, <c>[N, K]</c>.</returns>
    public static bool[] Prune(Span<float> weights, int n, int k, ReadOnlySpan<double> hessian, double fraction, int pruneN = 0, int m = 0)
    {
        if (weights.Length != (long)n * k || hessian.Length != (long)k * k)
        {
            throw new ArgumentException($"The weights [{n}, {k}] and the Hessian of {hessian.Length} values do not match.");
        }

        // Work on W^T ([K, N]): input i's weights are one contiguous row, and each update is one vector operation.
        var transposed = new float[(long)k * n];
        for (int row = 0; row < n; row++)
        {
            for (int col = 0; col < k; col++)
            {
                transposed[((long)col * n) + row] = weights[(row * k) + col];
            }
        }

        double[] h = hessian.ToArray();
        for (int i = 0; i < k; i++)
        {
            if (h[(i * k) + i] == 0)
            {
                // An input that is always zero: its weights never matter.
                h[(i * k) + i] = 1;
            }
        }

        double[] u = Gptq.InverseCholeskyUpper(h, k);
        var mask = new bool[(long)k * n];
        int block = m > 0 ? m * Math.Max(1, BlockSize / m) : BlockSize;
        var errors = new float[(long)block * n];
        Span<int> order = stackalloc int[Math.Max(m, 1)];
        var groupScores = new double[Math.Max(m, 1)];
        var groupMask = new bool[Math.Max(m, 1)];
        for (int start = 0; start < k; start += block)
        {
            int stop = Math.Min(k, start + block);
            if (m == 0)
            {
                // The block's mask: the smallest w² / d² over the block's inputs and every output, from the weights as the
                // updates left them.
                var scores = new double[(long)(stop - start) * n];
                for (int i = start; i < stop; i++)
                {
                    double d = u[((long)i * k) + i];
                    for (int row = 0; row < n; row++)
                    {
                        double w = transposed[((long)i * n) + row];
                        scores[((long)(i - start) * n) + row] = w * w / (d * d);
                    }
                }

                WeightSelection.Smallest(scores, mask.AsSpan(start * n, (stop - start) * n), WeightSelection.Removed(fraction, scores.LongLength));
            }

            for (int i = start; i < stop; i++)
            {
                if (m > 0 && (i - start) % m == 0)
                {
                    // N of the next M inputs, per output, by w² / d².
                    for (int row = 0; row < n; row++)
                    {
                        for (int j = 0; j < m; j++)
                        {
                            double w = transposed[((long)(i + j) * n) + row];
                            double d = u[((long)(i + j) * k) + i + j];
                            groupScores[j] = w * w / (d * d);
                            groupMask[j] = false;
                        }

                        WeightSelection.Group(groupScores, groupMask, pruneN, order);
                        for (int j = 0; j < m; j++)
                        {
                            mask[((long)(i + j) * n) + row] = groupMask[j];
                        }
                    }
                }

                Span<float> column = transposed.AsSpan(i * n, n);
                Span<float> error = errors.AsSpan((i - start) * n, n);
                float diagonal = (float)u[((long)i * k) + i];
                for (int row = 0; row < n; row++)
                {
                    if (mask[((long)i * n) + row])
                    {
                        error[row] = column[row] / diagonal;
                        column[row] = 0;
                    }
                    else
                    {
                        error[row] = 0;
                    }
                }

                for (int j = i + 1; j < stop; j++)
                {
                    Spread(error, (float)u[((long)i * k) + j], transposed.AsSpan(j * n, n));
                }
            }

            // The block's errors update every later input: each input on its own (in parallel), the block's errors in order.
            int blockStart = start;
            Parallel.For(stop, k, j =>
            {
                Span<float> target = transposed.AsSpan(j * n, n);
                for (int i = blockStart; i < stop; i++)
                {
                    Spread(errors.AsSpan((i - blockStart) * n, n), (float)u[((long)i * k) + j], target);
                }
            });
        }

        var result = new bool[(long)n * k];
        for (int row = 0; row < n; row++)
        {
            for (int col = 0; col < k; col++)
            {
                long t = ((long)col * n) + row;
                bool removed = mask[t];
                weights[(row * k) + col] = removed ? 0f : transposed[t];
                result[((long)row * k) + col] = removed;
            }
        }

        return result;
    }

    /// <summary>
    /// The relative output error of a changed weight on the calibration activations:
    /// <c>sum_n (w_n - v_n)^T H (w_n - v_n) / sum_n w_n^T H w_n</c>, weights <c>[N, K]</c>.
    /// </summary>
    public static double RelativeOutputError(ReadOnlySpan<float> original, ReadOnlySpan<float> changed, int n, int k, ReadOnlySpan<double> hessian)
    {
        var difference = new double[k];
        var values = new double[k];
        var product = new double[k];
        double errorSum = 0, signalSum = 0;
        for (int row = 0; row < n; row++)
        {
            for (int col = 0; col < k; col++)
            {
                values[col] = original[(row * k) + col];
                difference[col] = values[col] - changed[(row * k) + col];
            }

            errorSum += Quadratic(hessian, difference, product, k);
            signalSum += Quadratic(hessian, values, product, k);
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

    private static void Spread(ReadOnlySpan<float> error, float factor, Span<float> target)
    {
        if (factor != 0)
        {
            TensorPrimitives.MultiplyAdd(error, -factor, target, target);
        }
    }
}
