using System.Globalization;
using Compression.Core.Ir;
using Compression.Core.Passes.Distillation;
using Compression.Core.Passes.Quantization;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Clustering;

/// <summary>
/// Weight clustering (palettization): every float weight of MatMul, Gemm and Conv with <c>Cluster=B</c> and at least
/// <c>WeightThreshold</c> elements takes at most 2^B shared values, found by one-dimensional k-means
/// (<see cref="ScalarKMeans"/>), one codebook per weight or per output channel (<c>ClusterGranularity</c>). Exact zeros
/// (a pruned weight's) keep a code of their own whose value is exactly 0. The weight is stored as B-bit codes and the
/// codebook, which ONNX Runtime expands to the float weight when it loads the model (<see cref="ClusteredWeightWriter"/>):
/// a smaller file that runs at float speed. Settings apply per node; a weight read by several nodes is clustered only
/// when they agree.
/// </summary>
public sealed class ClusteringPass : ICompressionPass
{
    /// <summary>The start of the reason the quantization pass gives for a clustered weight it leaves alone.</summary>
    public const string AlreadyClustered = "already clustered (a codebook gathered by integer codes)";

    /// <inheritdoc />
    public string Name => "clustering";

    /// <inheritdoc />
    public long RequiredOpset(PassContext context) =>
        Candidates(context, []).Any() ? ClusteredWeightWriter.RequiredOpset : 0;

    /// <inheritdoc />
    public PassResult Run(PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var skipped = new List<TensorLeftAlone>();
        List<Plan> plans = Candidates(context, skipped).ToList();
        if (plans.Count == 0 && skipped.Count == 0)
        {
            return new PassResult(Name);
        }

        // Layer after layer in the model's order, so that distillation refits each layer to the inputs the layers before it,
        // already clustered, give it.
        var order = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (Node node in context.Model.Nodes)
        {
            order[node] = order.Count;
        }

        plans = [.. plans.OrderBy(p => p.Readers.Min(r => order[r]))];
        LayerDistiller? distiller = plans.Count > 0 && LayerDistiller.MayRun(context) ? LayerDistiller.Create(context) : null;
        var writer = new ClusteredWeightWriter();
        var changed = new List<TensorChange>();
        foreach (Plan plan in plans)
        {
            changed.Add(Write(context, plan, writer, distiller));
        }

        return new PassResult(Name)
        {
            Modified = changed.Count > 0,
            Techniques = Describe(plans, changed),
            Changed = changed,
            LeftAlone = skipped,
        };
    }

    /// <summary>True when <paramref name="value"/> is a weight this pass wrote: a Gather from a constant codebook by codes computed from constants.</summary>
    public static bool IsClustered(Value value) =>
        value.Producer is { OpType: "Gather", IsDefaultDomain: true } gather && ReadsCodebook(gather);

    /// <summary>
    /// True when <paramref name="gather"/> reads a constant table by indices computed from constants only (a clustered
    /// weight's expansion, which ONNX Runtime folds at load), so that its table is a codebook, not an embedding.
    /// </summary>
    public static bool ReadsCodebook(Node gather)
    {
        if (gather.OpType != "Gather" || gather.Inputs.Count < 2 || gather.Inputs[0] is not { IsInitializer: true } || gather.Inputs[1] is not { } indices)
        {
            return false;
        }

        return FromConstants(indices, 12);

        static bool FromConstants(Value value, int depth)
        {
            if (value.IsInitializer && !value.IsGraphInput)
            {
                return true;
            }

            return depth > 0 && value.Producer is { IsDefaultDomain: true } producer && !producer.Subgraphs.Any()
                && producer.Inputs.All(i => i is null || FromConstants(i, depth - 1));
        }
    }

    private static TensorChange Write(PassContext context, Plan plan, ClusteredWeightWriter writer, LayerDistiller? distiller)
    {
        Value weight = plan.Weight;
        TensorProto tensor = weight.LoadInitializer();
        long[] dims = [.. tensor.Dims];
        ReadOnlySpan<float> values = tensor.View<float>().Span;
        int clusters = 1 << plan.Bits;
        long count = values.Length;
        byte[] codes;
        float[] codebook;
        int stride;
        double maxError = 0;
        long zeros = 0;
        int used;
        bool zeroCodeOfTensor = false;
        bool[] zeroCodeOfChannel = [];

        if (plan.Axis < 0)
        {
            Codebook book = ScalarKMeans.Fit(values, clusters, keepZero: true);
            zeroCodeOfTensor = book.ZeroCode;
            codes = new byte[count];
            ScalarKMeans.Assign(values, book, codes);
            codebook = book.Values;
            stride = codebook.Length;
            used = codebook.Length;
            for (int i = 0; i < values.Length; i++)
            {
                maxError = Math.Max(maxError, Math.Abs((double)values[i] - codebook[codes[i]]));
                zeros += codebook[codes[i]] == 0f ? 1 : 0;
            }
        }
        else
        {
            float[] channelMajor = ChannelLayout.ToChannelMajor(values, dims, plan.Axis, out int channels, out int length);
            var books = new Codebook[channels];
            var channelCodes = new byte[channelMajor.Length];
            var channelErrors = new double[channels];
            var channelZeros = new long[channels];
            long budget = ScalarKMeans.ChannelBudget(count, channels);
            // Each channel is fit and coded on its own, into its own slots: the result does not depend on the order.
            Parallel.For(0, channels, c =>
            {
                ReadOnlySpan<float> row = channelMajor.AsSpan(c * length, length);
                Span<byte> rowCodes = channelCodes.AsSpan(c * length, length);
                Codebook book = ScalarKMeans.Fit(row, clusters, keepZero: true, budget);
                ScalarKMeans.Assign(row, book, rowCodes);
                double max = 0;
                long zero = 0;
                for (int i = 0; i < row.Length; i++)
                {
                    float restored = book.Values[rowCodes[i]];
                    max = Math.Max(max, Math.Abs((double)row[i] - restored));
                    zero += restored == 0f ? 1 : 0;
                }

                books[c] = book;
                channelErrors[c] = max;
                channelZeros[c] = zero;
            });

            used = books.Max(b => b.Values.Length);
            stride = 1 << CodeBits(used);
            codebook = new float[channels * stride];
            for (int c = 0; c < channels; c++)
            {
                books[c].Values.CopyTo(codebook, c * stride);
            }

            maxError = channelErrors.Max();
            zeroCodeOfChannel = books.Select(b => b.ZeroCode).ToArray();
            zeros = channelZeros.Sum();
            codes = ChannelLayout.FromChannelMajor(channelCodes, dims, plan.Axis);
        }

        bool[] zeroCodes = plan.Axis < 0 ? [zeroCodeOfTensor] : zeroCodeOfChannel;
        (double Before, double After)? distilled = null;
        string? notDistilled = null;
        if (distiller is not null)
        {
            (distilled, notDistilled) = Distill(context, distiller, plan, dims, values, codes, codebook, stride, zeroCodes);
            if (distilled is not null)
            {
                // The entries moved: the largest difference from the weight is measured again.
                maxError = 0;
                for (int i = 0; i < values.Length; i++)
                {
                    maxError = Math.Max(maxError, Math.Abs((double)values[i] - codebook[IndexOf(codes, i, dims, plan.Axis, stride)]));
                }
            }
        }

        // Only as many bit planes as the codes need (a weight with fewer distinct values than 2^B needs fewer).
        int bits = Math.Min(plan.Bits, CodeBits(plan.Axis < 0 ? used : stride));
        long bytes = writer.Write(weight, dims, codes, codebook, bits, plan.Axis, stride);
        Release(tensor);

        string granularity = plan.Axis < 0 ? "one codebook per tensor" : "one codebook per output channel";
        string technique = string.Create(CultureInfo.InvariantCulture, $"clustered to {clusters} values ({plan.Bits}-bit codes), {granularity}");
        if (zeros > 0 && plan.HadZeros)
        {
            technique += ", zeros kept";
        }

        if (distilled is not null)
        {
            technique += ", codebook distilled";
        }
        else if (notDistilled is not null)
        {
            technique += $" (not distilled: {notDistilled})";
        }

        return new TensorChange(weight.Name, technique, plan.OpTypes, dims, count * sizeof(float), bytes, maxError, plan.Axis < 0 ? null : plan.Axis)
        {
            OutputError = distilled?.After,
            RoundingOutputError = distilled?.Before,
            Nodes = plan.Readers.Select(n => n.Name).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToList(),
            Sparsity = count == 0 ? 0 : Math.Round((double)zeros / count, 4),
        };
    }

    /// <summary>
    /// Refits the codebook of a clustered layer to the original layer's outputs on the calibration samples (the codes
    /// stay): the relative output error with the k-means entries and with the refit ones, or why the layer was not refit.
    /// </summary>
    private static ((double Before, double After)? Errors, string? Reason) Distill(PassContext context, LayerDistiller distiller, Plan plan, long[] dims,
        ReadOnlySpan<float> values, byte[] codes, float[] codebook, int stride, bool[] zeroCodes)
    {
        if (plan.Readers.Count != 1)
        {
            return (null, "read by several nodes");
        }

        Node node = plan.Readers[0];
        if (!distiller.Enabled(node))
        {
            return (null, null);
        }

        if (distiller.Unsupported(node) is { } unsupported)
        {
            return (null, unsupported);
        }

        // The layer's product as [K, N]: weight (i, n) at i * rowStride + n * columnStride of the weight's own layout.
        (long k, long n, long rowStride, long columnStride) = node.OpType switch
        {
            "MatMul" when dims.Length == 2 => (dims[0], dims[1], dims[1], 1L),
            "Gemm" when node.GetInt("transB", 0) != 0 => (dims[1], dims[0], 1L, dims[1]),
            "Gemm" => (dims[0], dims[1], dims[1], 1L),
            _ => (TensorShape.ElementCount(dims) / dims[0], dims[0], 1L, TensorShape.ElementCount(dims) / dims[0]),
        };
        if (k * k * n > CodebookRefit.MaxWork)
        {
            return (null, $"{k} x {n}: summing its normal equations would take {k * k * n:N0} multiply-adds, over the limit of {CodebookRefit.MaxWork:N0}");
        }

        TensorProto? teacher = context.Original.Graph.Initializer.FirstOrDefault(t => t.Name == plan.Weight.Name);
        if (teacher is null || teacher.DataType != (int)DataType.Float || !teacher.Dims.SequenceEqual(dims))
        {
            return (null, "the original has no float weight of this name and shape to refit to");
        }

        LayerStatistics statistics = distiller.Record(node, withTeacherGram: true);
        if (statistics.StudentFeatures != k || statistics.TeacherFeatures != k)
        {
            return (null, $"its input has {statistics.StudentFeatures} features, not the weight's {k}");
        }

        if (teacher.DataLocation == TensorProto.Types.DataLocation.External)
        {
            // The original's weights in external data stay in its files: read this one into a copy.
            teacher = teacher.Clone();
            OnnxModelFile.LoadExternalData(teacher, context.Model.Directory ?? string.Empty, context.Model.Path);
        }

        float[] teacherWeight = ToRows(teacher.View<float>().Span, (int)k, (int)n, (int)rowStride, (int)columnStride);
        float[] before = ToRows(Restore(codes, codebook, dims, plan.Axis, stride), (int)k, (int)n, (int)rowStride, (int)columnStride);
        double errorBefore = LeastSquares.OutputError(statistics, teacherWeight, (int)n, before);

        // The target X_s^T X_t W: [K, N].
        ReadOnlySpan<double> cross = statistics.Cross;
        var target = new double[k * n];
        for (int i = 0; i < k; i++)
        {
            Span<double> row = target.AsSpan((int)(i * n), (int)n);
            for (int t = 0; t < k; t++)
            {
                double c = cross[(int)((i * k) + t)];
                if (c == 0)
                {
                    continue;
                }

                ReadOnlySpan<float> teacherRow = teacherWeight.AsSpan((int)(t * n), (int)n);
                for (int j = 0; j < row.Length; j++)
                {
                    row[j] += c * teacherRow[j];
                }
            }
        }

        float[] kMeans = [.. codebook];
        if (!CodebookRefit.Refit(statistics, target, (int)n, codes, (int)rowStride, (int)columnStride, codebook, stride, plan.Axis >= 0, zeroCodes))
        {
            return (null, "its normal equations could not be solved");
        }

        float[] after = ToRows(Restore(codes, codebook, dims, plan.Axis, stride), (int)k, (int)n, (int)rowStride, (int)columnStride);
        double errorAfter = LeastSquares.OutputError(statistics, teacherWeight, (int)n, after);
        if (!(errorAfter <= errorBefore))
        {
            kMeans.CopyTo(codebook, 0);
            return (null, string.Create(CultureInfo.InvariantCulture, $"the refit codebook moved the outputs more ({errorAfter:G3} against {errorBefore:G3})"));
        }

        return ((errorBefore, errorAfter), null);
    }

    /// <summary>The weight's values from its codes and codebook, in its own layout.</summary>
    private static float[] Restore(byte[] codes, float[] codebook, long[] dims, int axis, int stride)
    {
        var result = new float[codes.Length];
        for (int i = 0; i < codes.Length; i++)
        {
            result[i] = codebook[IndexOf(codes, i, dims, axis, stride)];
        }

        return result;
    }

    /// <summary>The codebook index of element <paramref name="i"/> (in the weight's layout).</summary>
    private static int IndexOf(byte[] codes, int i, long[] dims, int axis, int stride)
    {
        if (axis < 0)
        {
            return codes[i];
        }

        long inner = 1;
        for (int d = axis + 1; d < dims.Length; d++)
        {
            inner *= dims[d];
        }

        int channel = (int)(i / inner % dims[axis]);
        return (channel * stride) + codes[i];
    }

    /// <summary>A weight in its own layout as the <c>[K, N]</c> row-major matrix of the layer's product.</summary>
    private static float[] ToRows(ReadOnlySpan<float> weight, int k, int n, int rowStride, int columnStride)
    {
        var rows = new float[k * n];
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < n; j++)
            {
                rows[(i * n) + j] = weight[(i * rowStride) + (j * columnStride)];
            }
        }

        return rows;
    }

    /// <summary>The bits of a code for <paramref name="entries"/> entries (at least 1).</summary>
    private static int CodeBits(int entries)
    {
        int bits = 1;
        while ((1 << bits) < entries)
        {
            bits++;
        }

        return bits;
    }

    private static void Release(TensorProto tensor)
    {
        tensor.RawData = Google.Protobuf.ByteString.Empty;
        tensor.FloatData.Clear();
    }

    /// <summary>One sentence per code width and granularity.</summary>
    private static IReadOnlyList<string> Describe(IReadOnlyList<Plan> plans, IReadOnlyList<TensorChange> changed) =>
        plans.Zip(changed).GroupBy(p => (p.First.Bits, PerChannel: p.First.Axis >= 0)).OrderByDescending(g => g.Key.Bits).ThenBy(g => g.Key.PerChannel).Select(group =>
        {
            long values = group.Sum(p => p.Second.Elements);
            int count = group.Count();
            string operators = string.Join("/", group.SelectMany(p => p.Second.OpTypes).Distinct().Order(StringComparer.Ordinal));
            return string.Create(CultureInfo.InvariantCulture,
                $"Weight clustering: {count} {operators} weight {(count == 1 ? "tensor" : "tensors")} ({values:N0} values) take at most {1 << group.Key.Bits} " +
                $"shared values ({group.Key.Bits}-bit codes and a codebook {(group.Key.PerChannel ? "per output channel" : "per tensor")}, expanded to float at load)");
        }).ToList();

    /// <summary>The weights to cluster, in the order of the initializers, and those left alone with reasons.</summary>
    private static IEnumerable<Plan> Candidates(PassContext context, List<TensorLeftAlone> skipped)
    {
        ResolvedSettings settings = context.Settings;
        var readers = new Dictionary<Value, List<(Node Node, int Axis)>>(ReferenceEqualityComparer.Instance);
        foreach (Node node in context.Model.Nodes)
        {
            if (!node.IsDefaultDomain || node.OpType is not ("MatMul" or "Gemm" or "Conv") || node.Inputs.Count < 2 || node.Inputs[1] is not { } value
                || settings.Get(ClusteringSettings.Cluster, node) == IntegerSetting.AutoValue)
            {
                continue;
            }

            if (!value.IsInitializer)
            {
                skipped.Add(new TensorLeftAlone(value.Name, node.OpType, IsClustered(value) ? AlreadyClustered : "not a constant initializer (computed at run time)")
                {
                    Nodes = NodeNames([node]),
                });
                continue;
            }

            if (!readers.TryGetValue(value, out List<(Node, int)>? list))
            {
                readers[value] = list = [];
            }

            list.Add((node, ChannelAxis(node, value.Initializer!.Dims.Count)));
        }

        foreach (Value weight in context.Model.Graphs.SelectMany(g => g.Initializers).ToList())
        {
            if (!readers.TryGetValue(weight, out List<(Node Node, int Axis)>? list))
            {
                continue;
            }

            Node first = list[0].Node;
            string opTypes = string.Join("/", list.Select(r => r.Node.OpType).Distinct().Order(StringComparer.Ordinal));
            long bits = settings.Get(ClusteringSettings.Cluster, first);
            string granularity = settings.Get(ClusteringSettings.ClusterGranularity, first);
            long threshold = settings.Get(QuantizationSettings.WeightThreshold, first);
            foreach ((Node other, int _) in list.Skip(1))
            {
                (long, string, long) mine = (bits, granularity, threshold);
                (long, string, long) theirs = (settings.Get(ClusteringSettings.Cluster, other), settings.Get(ClusteringSettings.ClusterGranularity, other), settings.Get(QuantizationSettings.WeightThreshold, other));
                if (mine != theirs)
                {
                    throw new CompressionException(DiagnosticCodes.SharedWeightConflict, context.ModelPath,
                        $"The weight '{weight.Name}' is read by {first} and {other}, whose clustering settings differ: " +
                        $"Cluster={ClusteringSettings.Cluster.Format(mine.Item1)}, ClusterGranularity={mine.Item2}, WeightThreshold={mine.Item3} " +
                        $"({settings.OriginOf(ClusteringSettings.Cluster, first)}) against Cluster={ClusteringSettings.Cluster.Format(theirs.Item1)}, " +
                        $"ClusterGranularity={theirs.Item2}, WeightThreshold={theirs.Item3} ({settings.OriginOf(ClusteringSettings.Cluster, other)}). " +
                        "One tensor can be stored only one way: give every node that reads it the same settings in the overrides file.");
                }
            }

            string? reason = Refusal(context, weight, list, threshold);
            int axis = -1;
            if (reason is null && granularity == ClusteringSettings.PerChannel)
            {
                axis = list[0].Axis;
                if (list.Any(r => r.Axis != axis) || axis < 0)
                {
                    reason = axis < 0
                        ? $"ClusterGranularity=channel: a {weight.Initializer!.Dims.Count}-D weight is not the layout {first.OpType} has output channels in"
                        : "ClusterGranularity=channel: its readers have their output channels on different axes";
                }
            }

            if (reason is not null)
            {
                skipped.Add(new TensorLeftAlone(weight.Name, opTypes, reason)
                {
                    Shape = [.. weight.Initializer!.Dims],
                    Bytes = TensorDataTypes.TryGetSizeInBits((DataType)weight.Initializer.DataType, out int size) ? (TensorShape.ElementCount(weight.Initializer.Dims) * size + 7) / 8 : null,
                    Nodes = NodeNames(list.Select(r => r.Node)),
                });
                continue;
            }

            yield return new Plan(weight, list.Select(r => r.Node).ToList(), (int)bits, axis, opTypes.Split('/'), HasZeros(weight));
        }
    }

    /// <summary>Why a weight cannot be clustered, or null when it can.</summary>
    private static string? Refusal(PassContext context, Value weight, List<(Node Node, int Axis)> slots, long threshold)
    {
        TensorProto tensor = weight.Initializer!;
        if (weight.IsGraphInput && context.Model.IrVersion >= 4)
        {
            return "a graph input with a default value: the caller may pass its own";
        }

        if (weight.Uses.Any(u => u.Index != 1 || u.Node.OpType is not ("MatMul" or "Gemm" or "Conv") || !slots.Any(s => ReferenceEquals(s.Node, u.Node))))
        {
            string others = string.Join("/", weight.Uses.Where(u => !slots.Any(s => ReferenceEquals(s.Node, u.Node))).Select(u => u.Node.OpType).Distinct().Order(StringComparer.Ordinal));
            return others.Length > 0 ? $"also read by {others}, which would see the clustered values" : "also read as another input of the same nodes";
        }

        if (tensor.DataType != (int)DataType.Float)
        {
            return $"element type {TensorDataTypes.Describe((DataType)tensor.DataType)}, not float";
        }

        long count = TensorShape.ElementCount(tensor.Dims);
        if (count == 0)
        {
            return "an empty tensor";
        }

        if (count < threshold)
        {
            return $"{count} elements, below the weight threshold of {threshold}";
        }

        if (count > Array.MaxLength)
        {
            return $"{count} elements, more than one array holds";
        }

        return weight.ReadInitializer(t => float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(t.View<float>().Span)))
            ? null
            : "holds NaN or infinite values";
    }

    private static bool HasZeros(Value weight) => weight.ReadInitializer(t => t.View<float>().Span.IndexOf(0f) >= 0);

    /// <summary>The axis of the output channels in a weight of rank <paramref name="rank"/>, or -1 when the layout does not fit.</summary>
    private static int ChannelAxis(Node node, int rank) => node.OpType switch
    {
        "MatMul" => rank >= 2 ? rank - 1 : -1,
        "Gemm" => rank != 2 ? -1 : node.GetInt("transB", 0) != 0 ? 0 : 1,
        _ => rank >= 3 ? 0 : -1,
    };

    private static List<string> NodeNames(IEnumerable<Node> nodes) =>
        nodes.Select(n => n.Name).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>What the pass does with one weight.</summary>
    private sealed record Plan(Value Weight, IReadOnlyList<Node> Readers, int Bits, int Axis, IReadOnlyList<string> OpTypes, bool HadZeros);
}
