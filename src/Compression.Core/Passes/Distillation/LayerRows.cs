using Compression.Core.Ir;
using Compression.Core.Opsets;
using Compression.Onnx.Protos;

namespace Compression.Core.Passes.Distillation;

/// <summary>
/// How a layer's data input becomes the rows its weight meets: a MatMul's input by its last axis, a Gemm's A by its rows
/// (columns with transA), a Conv's input by its im2col patches (one row per output position of every sample, the features
/// being input channel, kernel row and kernel column, the order of the weight's <c>[M, C, kh, kw]</c> flattened per output
/// channel).
/// </summary>
internal abstract class LayerRows
{
    /// <summary>The features per row of a tensor of <paramref name="shape"/>.</summary>
    public abstract int Features(ReadOnlySpan<long> shape);

    /// <summary>The rows of a tensor of <paramref name="shape"/>.</summary>
    public abstract long Rows(ReadOnlySpan<long> shape);

    /// <summary>Writes rows <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> of the tensor into
    /// <paramref name="destination"/> (<c>[count, Features]</c>).</summary>
    public abstract void Fill(ReadOnlySpan<float> values, ReadOnlySpan<long> shape, long first, int count, double[] destination);

    /// <summary>The rows of <paramref name="node"/>'s data input, or null with <paramref name="reason"/> when distillation
    /// cannot read them.</summary>
    public static LayerRows? For(Node node, out string reason)
    {
        reason = string.Empty;
        if (!node.IsDefaultDomain)
        {
            reason = $"distillation refits MatMul, Gemm and Conv weights, not {node.Domain}.{node.OpType}";
            return null;
        }

        switch (node.OpType)
        {
            case "MatMul":
                if (WeightRank(node) is { } rank && rank != 2)
                {
                    reason = $"distillation refits a MatMul whose weight has 2 dimensions, not {rank}";
                    return null;
                }

                return new LastAxisRows();
            case "Gemm":
                return new GemmRows(node.GetInt("transA", 0) != 0);
            case "Conv":
                return ConvPatchRows.Create(node, out reason);
            default:
                reason = $"distillation refits MatMul, Gemm and Conv weights, not {node.OpType}";
                return null;
        }
    }

    private static int? WeightRank(Node node) =>
        node.Inputs.Count > 1 && node.Inputs[1] is { } weight
            ? weight.Initializer?.Dims.Count ?? (weight.Type?.TensorType?.Shape is { } shape ? shape.Dim.Count : null)
            : null;

    /// <summary>MatMul: every index but the last is a row; the last axis holds the features.</summary>
    private sealed class LastAxisRows : LayerRows
    {
        public override int Features(ReadOnlySpan<long> shape) => shape.Length == 0 ? 1 : checked((int)shape[^1]);

        public override long Rows(ReadOnlySpan<long> shape)
        {
            long rows = 1;
            for (int i = 0; i < shape.Length - 1; i++)
            {
                rows *= shape[i];
            }

            return rows;
        }

        public override void Fill(ReadOnlySpan<float> values, ReadOnlySpan<long> shape, long first, int count, double[] destination)
        {
            int k = Features(shape);
            ReadOnlySpan<float> rows = values.Slice(checked((int)(first * k)), count * k);
            for (int i = 0; i < rows.Length; i++)
            {
                destination[i] = rows[i];
            }
        }
    }

    /// <summary>Gemm's A: <c>[M, K]</c>, or <c>[K, M]</c> with transA.</summary>
    private sealed class GemmRows(bool transposed) : LayerRows
    {
        public override int Features(ReadOnlySpan<long> shape) => checked((int)shape[transposed ? 0 : 1]);

        public override long Rows(ReadOnlySpan<long> shape) => shape[transposed ? 1 : 0];

        public override void Fill(ReadOnlySpan<float> values, ReadOnlySpan<long> shape, long first, int count, double[] destination)
        {
            int k = Features(shape);
            if (!transposed)
            {
                ReadOnlySpan<float> rows = values.Slice(checked((int)(first * k)), count * k);
                for (int i = 0; i < rows.Length; i++)
                {
                    destination[i] = rows[i];
                }

                return;
            }

            int m = checked((int)shape[1]);
            for (int r = 0; r < count; r++)
            {
                int row = (int)first + r;
                for (int f = 0; f < k; f++)
                {
                    destination[(r * k) + f] = values[(f * m) + row];
                }
            }
        }
    }

    /// <summary>Conv with group 1 over 1 or 2 spatial axes: im2col patches with the node's strides, pads, dilations.</summary>
    private sealed class ConvPatchRows : LayerRows
    {
        private readonly int kernelH;
        private readonly int kernelW;
        private readonly int strideH;
        private readonly int strideW;
        private readonly int dilationH;
        private readonly int dilationW;
        private readonly long[] pads; // begin H, begin W, end H, end W (explicit pads only)
        private readonly string autoPad;
        private readonly bool oneDimensional;

        private ConvPatchRows(int[] kernel, int[] strides, int[] dilations, long[] pads, string autoPad)
        {
            oneDimensional = kernel.Length == 1;
            kernelH = oneDimensional ? 1 : kernel[0];
            kernelW = kernel[^1];
            strideH = oneDimensional ? 1 : strides[0];
            strideW = strides[^1];
            dilationH = oneDimensional ? 1 : dilations[0];
            dilationW = dilations[^1];
            this.pads = oneDimensional ? [0, pads[0], 0, pads[1]] : pads;
            this.autoPad = autoPad;
        }

        public static ConvPatchRows? Create(Node node, out string reason)
        {
            reason = string.Empty;
            NodeProto proto = node.Proto;
            long group = proto.GetInt("group", 1);
            if (group != 1)
            {
                reason = $"distillation refits Conv with group 1, not group {group}";
                return null;
            }

            long[]? kernel = proto.GetInts("kernel_shape");
            if (kernel is null && node.Inputs.Count > 1 && node.Inputs[1]?.Initializer is { } weight && weight.Dims.Count >= 3)
            {
                kernel = [.. weight.Dims.Skip(2)];
            }

            if (kernel is null)
            {
                reason = "distillation needs the Conv's kernel size: its weight is not a constant and it has no kernel_shape";
                return null;
            }

            if (kernel.Length is not (1 or 2))
            {
                reason = $"distillation refits Conv over 1 or 2 spatial axes, not {kernel.Length}";
                return null;
            }

            int spatial = kernel.Length;
            long[] strides = proto.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
            long[] dilations = proto.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
            long[] pads = proto.GetInts("pads") ?? new long[2 * spatial];
            string autoPad = proto.GetString("auto_pad", "NOTSET");
            if (strides.Length != spatial || dilations.Length != spatial || pads.Length != 2 * spatial ||
                kernel.Any(k => k < 1) || strides.Any(s => s < 1) || dilations.Any(d => d < 1) || pads.Any(p => p < 0))
            {
                reason = "the Conv's kernel_shape, strides, dilations and pads do not agree";
                return null;
            }

            if (autoPad is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER"))
            {
                reason = $"the Conv's auto_pad '{autoPad}' is not one ONNX defines";
                return null;
            }

            return new ConvPatchRows(
                [.. kernel.Select(k => checked((int)k))], [.. strides.Select(s => checked((int)s))], [.. dilations.Select(d => checked((int)d))],
                autoPad == "NOTSET" ? pads : new long[2 * spatial], autoPad);
        }

        public override int Features(ReadOnlySpan<long> shape) => checked((int)shape[1] * kernelH * kernelW);

        public override long Rows(ReadOnlySpan<long> shape)
        {
            (int outH, int outW, _, _) = Geometry(shape);
            return shape[0] * outH * outW;
        }

        public override void Fill(ReadOnlySpan<float> values, ReadOnlySpan<long> shape, long first, int count, double[] destination)
        {
            int channels = checked((int)shape[1]);
            int inH = oneDimensional ? 1 : checked((int)shape[2]);
            int inW = checked((int)shape[^1]);
            (int outH, int outW, int padTop, int padLeft) = Geometry(shape);
            int features = channels * kernelH * kernelW;
            int perSample = outH * outW;
            for (int r = 0; r < count; r++)
            {
                long row = first + r;
                int sample = (int)(row / perSample);
                int position = (int)(row % perSample);
                int oy = position / outW, ox = position % outW;
                Span<double> target = destination.AsSpan(r * features, features);
                int f = 0;
                for (int c = 0; c < channels; c++)
                {
                    int plane = ((sample * channels) + c) * inH * inW;
                    for (int ky = 0; ky < kernelH; ky++)
                    {
                        int y = (oy * strideH) - padTop + (ky * dilationH);
                        for (int kx = 0; kx < kernelW; kx++, f++)
                        {
                            int x = (ox * strideW) - padLeft + (kx * dilationW);
                            target[f] = y >= 0 && y < inH && x >= 0 && x < inW ? values[plane + (y * inW) + x] : 0;
                        }
                    }
                }
            }
        }

        /// <summary>The output size and the leading pads of an input of <paramref name="shape"/>.</summary>
        private (int OutH, int OutW, int PadTop, int PadLeft) Geometry(ReadOnlySpan<long> shape)
        {
            int inH = oneDimensional ? 1 : checked((int)shape[2]);
            int inW = checked((int)shape[^1]);
            (int outH, int padTop) = Axis(inH, kernelH, strideH, dilationH, pads[0], pads[2]);
            (int outW, int padLeft) = Axis(inW, kernelW, strideW, dilationW, pads[1], pads[3]);
            return (outH, outW, padTop, padLeft);
        }

        private (int Out, int PadBegin) Axis(int input, int kernel, int stride, int dilation, long padBegin, long padEnd)
        {
            int span = ((kernel - 1) * dilation) + 1;
            switch (autoPad)
            {
                case "SAME_UPPER":
                case "SAME_LOWER":
                {
                    int output = (input + stride - 1) / stride;
                    int total = Math.Max(0, ((output - 1) * stride) + span - input);
                    return (output, autoPad == "SAME_UPPER" ? total / 2 : total - (total / 2));
                }

                default:
                    return (Math.Max(0, (int)((input + padBegin + padEnd - span) / stride) + 1), (int)padBegin);
            }
        }
    }
}
