using System.Numerics.Tensors;
using Compression.Core.Evaluation;
using Compression.Core.Runtime;

namespace Compression.Core.Passes.Pruning;

/// <summary>The geometry of a 2-D convolution with one group: kernel, strides, dilations and pads (top, left, bottom, right).</summary>
/// <param name="KernelHeight">Kernel rows.</param>
/// <param name="KernelWidth">Kernel columns.</param>
/// <param name="StrideHeight">Stride along the rows.</param>
/// <param name="StrideWidth">Stride along the columns.</param>
/// <param name="DilationHeight">Dilation along the rows.</param>
/// <param name="DilationWidth">Dilation along the columns.</param>
/// <param name="PadTop">Zeros added above.</param>
/// <param name="PadLeft">Zeros added on the left.</param>
/// <param name="PadBottom">Zeros added below.</param>
/// <param name="PadRight">Zeros added on the right.</param>
/// <param name="AutoPad">The node's <c>auto_pad</c> (<c>NOTSET</c>, <c>VALID</c>, <c>SAME_UPPER</c>, <c>SAME_LOWER</c>): the pads of
/// the SAME forms depend on the input's size and are worked out per run.</param>
public sealed record ConvGeometry(int KernelHeight, int KernelWidth, int StrideHeight, int StrideWidth, int DilationHeight, int DilationWidth,
    int PadTop, int PadLeft, int PadBottom, int PadRight, string AutoPad)
{
    /// <summary>The pads for an input of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public (int Top, int Left, int Bottom, int Right) PadsFor(int height, int width)
    {
        if (AutoPad is not ("SAME_UPPER" or "SAME_LOWER"))
        {
            return AutoPad == "VALID" ? (0, 0, 0, 0) : (PadTop, PadLeft, PadBottom, PadRight);
        }

        (int before, int after) Same(int size, int stride, int dilation, int kernel)
        {
            int output = (size + stride - 1) / stride;
            int total = Math.Max(0, ((output - 1) * stride) + (((kernel - 1) * dilation) + 1) - size);
            int small = total / 2;
            return AutoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
        }

        (int top, int bottom) = Same(height, StrideHeight, DilationHeight, KernelHeight);
        (int left, int right) = Same(width, StrideWidth, DilationWidth, KernelWidth);
        return (top, left, bottom, right);
    }
}

/// <summary>
/// Statistics of a convolution's input patches (im2col): each output position's receptive field, <c>C · kh · kw</c> values
/// in the weight's order (channel, kernel row, kernel column; zeros where the field lies in the padding), as one row. The
/// sum of squares of each patch element (what Wanda scores a Conv weight by) and, with <see cref="Gram"/>, X^T X over the
/// patch rows (what SparseGPT updates weights with), over every position of every run.
/// </summary>
public sealed class PatchStatisticsCollector : IActivationCollector
{
    private readonly ConvGeometry geometry;
    private readonly bool withGram;
    private double[]? sumOfSquares;
    private double[]? gram;

    /// <summary>Collects the patch statistics of <paramref name="valueName"/> ([batch, channels, height, width]) for <paramref name="geometry"/>.</summary>
    public PatchStatisticsCollector(string valueName, ConvGeometry geometry, bool withGram)
    {
        ValueName = valueName;
        this.geometry = geometry;
        this.withGram = withGram;
    }

    /// <inheritdoc />
    public string ValueName { get; }

    /// <summary>The length of a patch row: channels · kernel rows · kernel columns, once a value was seen.</summary>
    public int Length { get; private set; }

    /// <summary>The patch rows seen.</summary>
    public long Rows { get; private set; }

    /// <summary>Each patch element's sum of squares.</summary>
    public ReadOnlySpan<double> SumOfSquares => sumOfSquares;

    /// <summary>X^T X of the patch rows, row-major, length × length; empty unless asked for.</summary>
    public ReadOnlySpan<double> Gram => gram;

    /// <inheritdoc />
    public void Add(OnnxTensor value)
    {
        ReadOnlySpan<float> values = ActivationRecorder.Floats(value, ValueName);
        if (value.Shape.Length != 4)
        {
            throw new InvalidOperationException($"The value '{ValueName}' is not [batch, channels, height, width].");
        }

        int batch = (int)value.Shape[0], channels = (int)value.Shape[1], height = (int)value.Shape[2], width = (int)value.Shape[3];
        ConvGeometry g = geometry;
        int length = channels * g.KernelHeight * g.KernelWidth;
        if (Length == 0)
        {
            Length = length;
            sumOfSquares = new double[length];
            gram = withGram ? new double[(long)length * length] : [];
        }
        else if (length != Length)
        {
            throw new InvalidOperationException($"The value '{ValueName}' had patches of {Length} values and now has {length}.");
        }

        (int top, int left, int bottom, int right) = g.PadsFor(height, width);
        int outHeight = ((height + top + bottom - (((g.KernelHeight - 1) * g.DilationHeight) + 1)) / g.StrideHeight) + 1;
        int outWidth = ((width + left + right - (((g.KernelWidth - 1) * g.DilationWidth) + 1)) / g.StrideWidth) + 1;
        var row = new double[length];
        for (int b = 0; b < batch; b++)
        {
            for (int oy = 0; oy < outHeight; oy++)
            {
                for (int ox = 0; ox < outWidth; ox++)
                {
                    int e = 0;
                    for (int c = 0; c < channels; c++)
                    {
                        int plane = ((b * channels) + c) * height * width;
                        for (int ky = 0; ky < g.KernelHeight; ky++)
                        {
                            int y = (oy * g.StrideHeight) + (ky * g.DilationHeight) - top;
                            for (int kx = 0; kx < g.KernelWidth; kx++, e++)
                            {
                                int x = (ox * g.StrideWidth) + (kx * g.DilationWidth) - left;
                                row[e] = y >= 0 && y < height && x >= 0 && x < width ? values[plane + (y * width) + x] : 0;
                            }
                        }
                    }

                    Rows++;
                    for (int i = 0; i < length; i++)
                    {
                        sumOfSquares![i] += row[i] * row[i];
                    }

                    if (withGram)
                    {
                        for (int i = 0; i < length; i++)
                        {
                            if (row[i] != 0)
                            {
                                Span<double> target = gram.AsSpan(i * length, length);
                                TensorPrimitives.MultiplyAdd(row, row[i], target, target);
                            }
                        }
                    }
                }
            }
        }
    }
}
