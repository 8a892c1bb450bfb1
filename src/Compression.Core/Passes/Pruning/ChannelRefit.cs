using System.Numerics.Tensors;
using Compression.Core.Evaluation;
using Compression.Core.Runtime;

namespace Compression.Core.Passes.Pruning;

/// <summary>
/// The first and second moments of a layer's input along its last axis over the calibration samples: the sum of each
/// feature and X^T X, with the rows seen, from which a least-squares refit of the layer is solved.
/// </summary>
internal sealed class FeatureMomentsCollector(string valueName) : IActivationCollector
{
    private double[] sums = [];
    private double[] gram = [];

    /// <inheritdoc />
    public string ValueName { get; } = valueName;

    /// <summary>The features (the last axis).</summary>
    public int Features { get; private set; }

    /// <summary>The rows seen.</summary>
    public long Rows { get; private set; }

    /// <summary>Each feature's sum.</summary>
    public double[] Sums => sums;

    /// <summary>X^T X, row-major, features x features.</summary>
    public double[] Gram => gram;

    /// <inheritdoc />
    public void Add(OnnxTensor value)
    {
        ReadOnlySpan<float> values = ActivationRecorder.Floats(value, ValueName);
        int features = value.Shape.Length == 0 ? 1 : (int)value.Shape[^1];
        if (Features == 0)
        {
            Features = features;
            sums = new double[features];
            gram = new double[(long)features * features];
        }
        else if (features != Features)
        {
            throw new InvalidOperationException($"The value '{ValueName}' had {Features} features and now has {features}.");
        }

        var row = new double[features];
        for (int start = 0; start + features <= values.Length; start += features)
        {
            Rows++;
            for (int c = 0; c < features; c++)
            {
                row[c] = values[start + c];
            }

            TensorPrimitives.Add(sums, row, sums);
            for (int i = 0; i < features; i++)
            {
                if (row[i] != 0)
                {
                    Span<double> target = gram.AsSpan(i * features, features);
                    TensorPrimitives.MultiplyAdd(row, row[i], target, target);
                }
            }
        }
    }
}

/// <summary>The sum of squares of each channel of a value along its channel axis (axis 1, or the last), over the calibration samples.</summary>
internal sealed class ChannelEnergyCollector(string valueName, int axis, int channels) : IActivationCollector
{
    /// <inheritdoc />
    public string ValueName { get; } = valueName;

    /// <summary>Each channel's sum of squares.</summary>
    public double[] SumOfSquares { get; } = new double[channels];

    /// <inheritdoc />
    public void Add(OnnxTensor value)
    {
        ReadOnlySpan<float> values = ActivationRecorder.Floats(value, ValueName);
        ReadOnlySpan<long> shape = value.Shape;
        int at = axis < 0 ? shape.Length - 1 : axis;
        if (at >= shape.Length || shape[at] != channels)
        {
            throw new InvalidOperationException($"The value '{ValueName}' does not have {channels} channels on axis {at}.");
        }

        long outer = 1, inner = 1;
        for (int i = 0; i < at; i++)
        {
            outer *= shape[i];
        }

        for (int i = at + 1; i < shape.Length; i++)
        {
            inner *= shape[i];
        }

        for (long o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                ReadOnlySpan<float> run = values.Slice((int)(((o * channels) + c) * inner), (int)inner);
                SumOfSquares[c] += TensorPrimitives.Dot(run, run);
            }
        }
    }
}

/// <summary>
/// Least-squares refit of a layer whose inputs lost some features: the kept rows of the weight (and the bias) are chosen so
/// that the layer's outputs on the remaining inputs come as close as the calibration activations allow to its outputs on
/// all of them. With X the input, W the weight [K, N], b the bias, k the kept and r the removed features, it minimizes
/// <c>|X_k W' + b' - (X W + b)|^2</c>, whose solution is <c>[W'; b'] = [W_k; b] + (A^T A)^-1 [G_kr W_r; s_r^T W_r]</c> with
/// <c>A = [X_k, 1]</c>, G = X^T X and s the feature sums.
/// </summary>
internal static class LeastSquaresRefit
{
    /// <summary>The ridge added to the diagonal, relative to its mean, so that dead features (always zero) do not make the system singular.</summary>
    private const double Damping = 1e-3;

    /// <summary>Refits <paramref name="weight"/> ([K, N] row-major) and <paramref name="bias"/> (N values, or null: no bias to correct).</summary>
    /// <returns>The kept rows, refit ([kept, N]), and the bias (null when none was given).</returns>
    public static (float[] Weight, float[]? Bias) Refit(ReadOnlySpan<float> weight, int n, float[]? bias, FeatureMomentsCollector moments, int[] kept, int[] removed)
    {
        int k = moments.Features;
        int m = kept.Length + (bias is null ? 0 : 1);
        double[] gram = moments.Gram;

        // The system A^T A and the right-hand side [G_kr W_r; s_r^T W_r].
        var system = new double[(long)m * m];
        var rhs = new double[(long)m * n];
        var removedRows = new double[(long)removed.Length * n];
        for (int j = 0; j < removed.Length; j++)
        {
            for (int o = 0; o < n; o++)
            {
                removedRows[((long)j * n) + o] = weight[(removed[j] * n) + o];
            }
        }

        for (int i = 0; i < kept.Length; i++)
        {
            long row = (long)kept[i] * k;
            for (int j = 0; j < kept.Length; j++)
            {
                system[((long)i * m) + j] = gram[row + kept[j]];
            }

            Span<double> target = rhs.AsSpan(i * n, n);
            for (int j = 0; j < removed.Length; j++)
            {
                double g = gram[row + removed[j]];
                if (g != 0)
                {
                    TensorPrimitives.MultiplyAdd(removedRows.AsSpan(j * n, n), g, target, target);
                }
            }
        }

        if (bias is not null)
        {
            int last = m - 1;
            for (int i = 0; i < kept.Length; i++)
            {
                system[((long)i * m) + last] = system[((long)last * m) + i] = moments.Sums[kept[i]];
            }

            system[((long)last * m) + last] = moments.Rows;
            Span<double> target = rhs.AsSpan(last * n, n);
            for (int j = 0; j < removed.Length; j++)
            {
                TensorPrimitives.MultiplyAdd(removedRows.AsSpan(j * n, n), moments.Sums[removed[j]], target, target);
            }
        }

        double[] delta = SolveDamped(system, m, rhs, n);
        var refit = new float[kept.Length * n];
        for (int i = 0; i < kept.Length; i++)
        {
            for (int o = 0; o < n; o++)
            {
                refit[(i * n) + o] = (float)(weight[(kept[i] * n) + o] + delta[((long)i * n) + o]);
            }
        }

        float[]? newBias = null;
        if (bias is not null)
        {
            newBias = new float[n];
            for (int o = 0; o < n; o++)
            {
                newBias[o] = (float)(bias[o] + delta[((long)(m - 1) * n) + o]);
            }
        }

        return (refit, newBias);
    }

    /// <summary>Solves <c>(S + λI) X = B</c> for a symmetric positive semi-definite S by Cholesky, raising λ until it factors.</summary>
    private static double[] SolveDamped(double[] system, int m, double[] rhs, int n)
    {
        double mean = 0;
        for (int i = 0; i < m; i++)
        {
            mean += system[((long)i * m) + i];
        }

        mean = Math.Max(mean / Math.Max(m, 1), 1e-12);
        double damping = Damping * mean;
        for (int attempt = 0; attempt < 8; attempt++, damping *= 10)
        {
            double[] lower = (double[])system.Clone();
            for (int i = 0; i < m; i++)
            {
                lower[((long)i * m) + i] += damping;
            }

            if (!CholeskyLower(lower, m))
            {
                continue;
            }

            // L Y = B, then L^T X = Y, each row of B a run of n values.
            double[] x = (double[])rhs.Clone();
            for (int i = 0; i < m; i++)
            {
                Span<double> row = x.AsSpan(i * n, n);
                for (int j = 0; j < i; j++)
                {
                    double factor = lower[((long)i * m) + j];
                    if (factor != 0)
                    {
                        TensorPrimitives.MultiplyAdd(x.AsSpan(j * n, n), -factor, row, row);
                    }
                }

                TensorPrimitives.Divide(row, lower[((long)i * m) + i], row);
            }

            for (int i = m - 1; i >= 0; i--)
            {
                Span<double> row = x.AsSpan(i * n, n);
                for (int j = i + 1; j < m; j++)
                {
                    double factor = lower[((long)j * m) + i];
                    if (factor != 0)
                    {
                        TensorPrimitives.MultiplyAdd(x.AsSpan(j * n, n), -factor, row, row);
                    }
                }

                TensorPrimitives.Divide(row, lower[((long)i * m) + i], row);
            }

            return x;
        }

        // Nothing factors (values that are not finite): no correction.
        return new double[(long)m * n];
    }

    /// <summary>In place: the lower factor L of A = L L^T. False when A is not positive definite.</summary>
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
}
