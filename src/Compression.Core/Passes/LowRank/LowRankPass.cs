using System.Globalization;
using System.Numerics.Tensors;
using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Passes.Distillation;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.LowRank;

/// <summary>
/// Low-rank factorization (<c>LowRank</c>): a MatMul or Gemm weight <c>W [K, N]</c> becomes <c>A [K, r]</c> and
/// <c>B [r, N]</c> from its truncated SVD, and the node two: <c>MatMul(X, A)</c> then <c>MatMul(., B)</c> (a Gemm's first
/// factor is a MatMul, or a Gemm with its transA; its bias, alpha and beta stay on the second). A Conv with group 1 becomes a convolution to r
/// channels with the original kernel, strides, pads and dilations, then a 1 x 1 convolution to the output channels with
/// the bias. The ranks share one budget, <c>LowRank</c> times the parameters of the layers that may be factorized, chosen
/// from the singular values' energy (<see cref="RankAllocation"/>); a layer is factorized only where the factors are
/// smaller and faster (<see cref="PayFraction"/>, <see cref="MinimumParameters"/>). With calibration data a MatMul or Gemm
/// factorization is whitened (SVD-LLM): with <c>X^T X + λI = L L^T</c> from the layer's input activations, the SVD of
/// <c>L^T W</c> is truncated, so that the rank kept minimizes the error of the layer's outputs rather than of its weights.
/// </summary>
public sealed class LowRankPass : ICompressionPass
{
    /// <summary>
    /// A layer is factorized only at ranks where the factors hold at most this fraction of its parameters: ONNX Runtime
    /// runs the two thinner MatMuls faster than the one only below about 0.75 of the parameters at batch 1 and 32
    /// (README, Low-rank factorization), and the margin covers the second node's fixed cost.
    /// </summary>
    public const double PayFraction = 0.7;

    /// <summary>Layers with fewer parameters are kept whole: below 64 x 256 the second node's fixed cost (about a
    /// microsecond) is as large as what the thinner product saves.</summary>
    public const long MinimumParameters = 16384;

    /// <summary>The damping added to the diagonal of the input Gram matrix before whitening, as a fraction of its mean.</summary>
    public const double Damping = 0.01;

    /// <summary>The sketch of a large layer allows it this many times its even share of the rank (its <c>LowRank</c> times
    /// <c>K N / (K + N)</c>); smaller layers get their whole spectrum.</summary>
    public const double RankHeadroom = 1.25;

    /// <inheritdoc />
    public string Name => "low-rank";

    /// <summary>The opset from which Gemm's C is optional: the first factor of a Gemm with transA is a Gemm without C.</summary>
    public const long GemmWithoutBiasOpset = 11;

    /// <inheritdoc />
    public long RequiredOpset(PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Model.Nodes.Any(n => n.IsDefaultDomain && n.OpType == "Gemm" && n.GetInt("transA", 0) != 0
            && !double.IsNaN(context.Settings.Get(LowRankSettings.LowRank, n))) ? GemmWithoutBiasOpset : 0;
    }

    /// <inheritdoc />
    public PassResult Run(PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var leftAlone = new List<TensorLeftAlone>();
        List<LowRankLayer> layers = FindLayers(context, leftAlone);
        if (layers.Count == 0)
        {
            return new PassResult(Name) { LeftAlone = leftAlone };
        }

        // The distiller keeps the original model (the teacher) before anything changes.
        LayerDistiller? distiller = layers.Any(l => context.Settings.Get(DistillationSettings.Distill, l.Node)) ? LayerDistiller.Create(context) : null;
        bool whitened = RecordGrams(context, layers);
        foreach (LowRankLayer layer in layers.ToList())
        {
            if (!Decompose(layer))
            {
                leftAlone.Add(Describe(layer, "its singular value decomposition did not give finite factors"));
                layers.Remove(layer);
            }
        }

        if (layers.Count == 0)
        {
            return new PassResult(Name) { LeftAlone = leftAlone };
        }

        // One budget per LowRank value: the layers an overrides file gives another value share their own.
        foreach (IGrouping<double, LowRankLayer> pool in layers.GroupBy(l => l.Kept))
        {
            List<LowRankLayer> members = pool.ToList();
            double budget = pool.Key * members.Sum(l => (double)l.Parameters);
            int[] ranks = RankAllocation.Choose(members.Select(l => new RankAllocation.Layer(l.K, l.N, l.Factors!.Values, l.Energy, l.MaxRank)).ToList(), budget);
            for (int i = 0; i < members.Count; i++)
            {
                members[i].Rank = ranks[i];
            }
        }

        var changed = new List<TensorChange>();
        foreach (LowRankLayer layer in layers)
        {
            if (layer.Rank == 0)
            {
                leftAlone.Add(Describe(layer, $"kept whole: the budget of LowRank={Format(layer.Kept)} covers it, and its largest rank that pays " +
                    $"({layer.MaxRank}) would lose {RankAllocation.Lost(ToAllocation(layer), layer.MaxRank):P1} of its energy"));
                continue;
            }

            changed.Add(Factorize(layer, distiller));
        }

        if (changed.Count == 0)
        {
            return new PassResult(Name) { LeftAlone = leftAlone };
        }

        long before = changed.Sum(c => c.BytesBefore) / sizeof(float);
        long after = changed.Sum(c => c.BytesAfter) / sizeof(float);
        string operators = string.Join("/", changed.SelectMany(c => c.OpTypes).Distinct().Order(StringComparer.Ordinal));
        string technique = string.Create(CultureInfo.InvariantCulture,
            $"Low-rank factorization: {changed.Count} {operators} {(changed.Count == 1 ? "weight" : "weights")} ({before:N0} parameters) " +
            $"replaced by two thinner layers each, {after:N0} parameters ({(double)after / before:P0}), ranks from the singular values' energy" +
            $"{(whitened ? ", whitened by the calibration activations" : string.Empty)}" +
            $"{(changed.Any(c => c.Technique.Contains("refit", StringComparison.Ordinal)) ? ", the second factor refit to the original's outputs by least squares" : string.Empty)}");
        return new PassResult(Name)
        {
            Modified = true,
            Techniques = [technique],
            Changed = changed,
            LeftAlone = leftAlone,
        };
    }

    /// <summary>The layers whose node asks for a rank and whose weight can be factorized; the others are listed with the reason.</summary>
    private static List<LowRankLayer> FindLayers(PassContext context, List<TensorLeftAlone> leftAlone)
    {
        var layers = new List<LowRankLayer>();
        foreach (Node node in context.Model.Nodes)
        {
            if (!node.IsDefaultDomain || node.OpType is not ("MatMul" or "Gemm" or "Conv") || node.Inputs.Count < 2 || node.Inputs[1] is not { } weight)
            {
                continue;
            }

            double kept = context.Settings.Get(LowRankSettings.LowRank, node);
            if (double.IsNaN(kept))
            {
                continue;
            }

            string? reason = Refusal(context, node, weight, out LowRankLayerKind kind, out int k, out int n);
            if (reason is null)
            {
                long parameters = (long)k * n;
                int maxRank = (int)Math.Floor(PayFraction * parameters / (k + n));
                if (parameters < MinimumParameters)
                {
                    reason = $"{parameters} parameters, below the {MinimumParameters} where two thinner layers run faster than one";
                }
                else if (maxRank < 1)
                {
                    reason = $"a {k} x {n} matrix: no rank makes two thinner layers smaller than {PayFraction:P0} of it";
                }
                else
                {
                    layers.Add(new LowRankLayer { Node = node, Weight = weight, Kind = kind, K = k, N = n, Kept = kept, MaxRank = maxRank });
                    continue;
                }
            }

            leftAlone.Add(new TensorLeftAlone(weight.Name, node.OpType, reason)
            {
                Shape = weight.Initializer is { } t ? [.. t.Dims] : null,
                Bytes = weight.Initializer is { DataType: (int)DataType.Float } f ? TensorShape.ElementCount(f.Dims) * sizeof(float) : null,
                Nodes = node.Name.Length > 0 ? [node.Name] : [],
            });
        }

        return layers;
    }

    /// <summary>Why the weight of <paramref name="node"/> cannot be factorized, or null with its matrix shape.</summary>
    private static string? Refusal(PassContext context, Node node, Value weight, out LowRankLayerKind kind, out int k, out int n)
    {
        kind = node.OpType switch { "MatMul" => LowRankLayerKind.MatMul, "Gemm" => LowRankLayerKind.Gemm, _ => LowRankLayerKind.Conv };
        k = n = 0;
        if (weight.Initializer is not { } tensor)
        {
            return "not a constant initializer (computed at run time)";
        }

        if (weight.IsGraphInput && context.Model.IrVersion >= 4)
        {
            return "a graph input with a default value: the caller may pass its own";
        }

        if (weight.IsGraphOutput)
        {
            return "also a graph output";
        }

        if (weight.Uses.Count != 1)
        {
            return $"read by {weight.Uses.Count} nodes: a shared weight is kept whole";
        }

        if (tensor.DataType != (int)DataType.Float)
        {
            return $"element type {TensorDataTypes.Describe((DataType)tensor.DataType)}, not float";
        }

        long[] dims = [.. tensor.Dims];
        if (dims.Any(d => d <= 0))
        {
            return "an empty tensor";
        }

        if (node.Outputs.Count == 0 || node.Outputs[0] is null)
        {
            return "the node computes nothing";
        }

        // External data is read and dropped: the weight is read again when it is factorized.
        if (!weight.ReadInitializer(t => float.IsFinite(TensorPrimitives.MaxMagnitude<float>(t.View<float>().Span))))
        {
            return "holds NaN or infinite values";
        }

        switch (kind)
        {
            case LowRankLayerKind.MatMul when dims.Length != 2:
                return $"a {dims.Length}-D MatMul weight: only 2-D weights are factorized";
            case LowRankLayerKind.Gemm when dims.Length != 2:
                return $"a {dims.Length}-D Gemm B";
            case LowRankLayerKind.Conv when dims.Length < 3:
                return $"a {dims.Length}-D Conv weight";
            case LowRankLayerKind.Conv when node.GetInt("group", 1) != 1:
                return $"a grouped convolution (group={node.GetInt("group", 1)}): only group 1 is factorized";
        }

        long inputs = kind switch
        {
            LowRankLayerKind.MatMul => dims[0],
            LowRankLayerKind.Gemm => node.GetInt("transB", 0) != 0 ? dims[1] : dims[0],
            _ => dims.Skip(1).Aggregate(1L, (a, b) => a * b),
        };
        long outputs = kind switch
        {
            LowRankLayerKind.MatMul => dims[1],
            LowRankLayerKind.Gemm => node.GetInt("transB", 0) != 0 ? dims[0] : dims[1],
            _ => dims[0],
        };
        if (inputs * outputs > int.MaxValue / 2)
        {
            return $"{inputs * outputs} parameters: too large to factorize in memory";
        }

        k = (int)inputs;
        n = (int)outputs;
        return null;
    }

    /// <summary>
    /// Records X^T X of the data input of every MatMul and Gemm (without transA) in the main graph, with the model as it
    /// is now, when there is calibration data. Returns true when any layer got one.
    /// </summary>
    private static bool RecordGrams(PassContext context, List<LowRankLayer> layers)
    {
        List<LowRankLayer> wanted = layers.Where(l => l.Kind != LowRankLayerKind.Conv && l.Node.GetInt("transA", 0) == 0
            && ReferenceEquals(l.Node.Graph, context.Model.Graph) && l.Node.Inputs[0] is not null).ToList();
        if (wanted.Count == 0 || context.Calibration is not { } samples)
        {
            return false;
        }

        var collectors = new Dictionary<string, ChannelStatisticsCollector>(StringComparer.Ordinal);
        foreach (LowRankLayer layer in wanted)
        {
            string input = layer.Node.Inputs[0]!.Name;
            collectors.TryAdd(input, new ChannelStatisticsCollector(input, withGram: true));
        }

        ActivationRecorder.Record(context.Model.ToProto().Clone(), samples, [.. collectors.Values], context.ModelPath, context.Runner);
        bool any = false;
        foreach (LowRankLayer layer in wanted)
        {
            ChannelStatisticsCollector collector = collectors[layer.Node.Inputs[0]!.Name];
            if (collector.Channels == layer.K && collector.Rows > 0)
            {
                layer.Gram = collector.Gram.ToArray();
                any = true;
            }
        }

        return any;
    }

    /// <summary>Reads the layer's matrix and decomposes it (whitened when it has a Gram matrix) up to the rank it may get;
    /// false when the factors are not finite.</summary>
    private static bool Decompose(LowRankLayer layer)
    {
        float[] values = layer.Weight.ReadInitializer(t => t.View<float>().Span.ToArray());
        long[] dims = [.. layer.Weight.Initializer!.Dims];
        layer.Matrix = layer.Kind switch
        {
            LowRankLayerKind.Gemm when layer.Node.GetInt("transB", 0) != 0 => MatrixProduct.Transpose(values, (int)dims[0], (int)dims[1]),
            LowRankLayerKind.Conv => MatrixProduct.Transpose(values, layer.N, layer.K),
            _ => values,
        };

        float[] target = layer.Matrix;
        if (layer.Gram is { } gram && Whitening(gram, layer.K) is { } whitening)
        {
            // L^T W: its SVD truncated minimizes |X (W - W')|.
            target = MatrixProduct.Multiply(ToFloat(Transpose(whitening.Lower, layer.K)), layer.Matrix, layer.K, layer.K, layer.N);
            layer.InverseWhitening = whitening.InverseLower;
        }

        layer.Energy = TensorPrimitives.Dot<float>(target, target);
        int smaller = Math.Min(layer.K, layer.N);
        int rank = smaller <= TruncatedSvd.DirectLimit
            ? Math.Min(smaller, layer.MaxRank)
            : Math.Min(layer.MaxRank, (int)Math.Ceiling(RankHeadroom * layer.Kept * layer.Parameters / (layer.K + layer.N)));
        layer.Factors = TruncatedSvd.Compute(target, layer.K, layer.N, Math.Max(1, rank), seed: layer.K ^ (layer.N << 16));
        return float.IsFinite(TensorPrimitives.MaxMagnitude<float>(layer.Factors.Left)) && float.IsFinite(TensorPrimitives.MaxMagnitude<float>(layer.Factors.Right))
            && layer.Factors.Values.All(double.IsFinite);
    }

    /// <summary>L (lower, <c>X^T X + λ I = L L^T</c>) and its inverse, or null when even the damped matrix is not positive definite.</summary>
    private static (double[] Lower, double[] InverseLower)? Whitening(double[] gram, int k)
    {
        double[] h = (double[])gram.Clone();
        double mean = 0;
        for (int i = 0; i < k; i++)
        {
            mean += h[(i * k) + i];
        }

        mean = Math.Max(mean / k, 1e-12);
        for (int i = 0; i < k; i++)
        {
            h[(i * k) + i] += Damping * mean;
        }

        double[]? lower = Cholesky.Lower(h, k);
        return lower is null ? null : (lower, Cholesky.InvertLower(lower, k));
    }

    /// <summary>
    /// Splits the layer's node in two and reports the change: a new node before it computes <c>X A</c> (with the original's
    /// kernel, strides, pads and dilations for a Conv), and the node itself, keeping its name, output and bias, then reads
    /// that instead of X and B instead of W. With a distiller, B (and the bias) is refit first.
    /// </summary>
    private static TensorChange Factorize(LowRankLayer layer, LayerDistiller? distiller)
    {
        int r = layer.Rank, k = layer.K, n = layer.N;
        SvdFactors svd = layer.Factors!;
        // A = (L^-T) U sqrt(S) [K, r], B = sqrt(S) V^T [r, N]: the singular values split evenly keeps both in range.
        var a = new float[(long)k * r];
        for (int i = 0; i < k; i++)
        {
            for (int j = 0; j < r; j++)
            {
                a[((long)i * r) + j] = svd.Left[((long)i * svd.Rank) + j] * (float)Math.Sqrt(svd.Values[j]);
            }
        }

        if (layer.InverseWhitening is { } inverse)
        {
            a = MatrixProduct.Multiply(ToFloat(Transpose(inverse, k)), a, k, k, r);
        }

        var b = new float[(long)r * n];
        for (int j = 0; j < r; j++)
        {
            TensorPrimitives.Multiply<float>(svd.Right.AsSpan(j * n, n), (float)Math.Sqrt(svd.Values[j]), b.AsSpan(j * n, n));
        }

        Node node = layer.Node;
        double? outputError = layer.InverseWhitening is null ? null : RankAllocation.Lost(ToAllocation(layer), r);
        float[]? biasCorrection = null;
        bool distilled = false;
        if (distiller is not null && distiller.Enabled(node) && distiller.Unsupported(node) is null)
        {
            // The layer's input as the compressed model gives it (the layers before are factorized and refit) against the
            // original's: B and the bias refit so that X_s A B' + b' ≈ X_t W.
            LayerStatistics hidden = Project(distiller.Record(node, withTeacherGram: true), a, k, r);
            bool withBias = node.OpType != "MatMul" && BiasSlot(node, n) is not null;
            // Where channel pruning of an earlier layer removed some of this layer's inputs, the weight as read no longer lines
            // up with the original's inputs, which the refit aims at: the factors stay as the SVD gives them.
            RefitResult? refit = hidden.TeacherFeatures == k ? distiller.Refit(hidden, layer.Matrix, n, withBias: withBias) : null;
            if (refit is { Solved: true })
            {
                b = refit.Weight;
                biasCorrection = refit.BiasCorrection;
                outputError = LeastSquares.OutputError(hidden, layer.Matrix, n, b, biasCorrection ?? default);
                distilled = true;
            }
        }

        float[] product = MatrixProduct.Multiply(a, b, k, r, n);
        TensorPrimitives.Subtract<float>(product, layer.Matrix, product);
        double maxError = product.Length == 0 ? 0 : TensorPrimitives.MaxMagnitude<float>(product);

        Graph graph = node.Graph!;
        string name = node.Name;
        long[] dims = [.. layer.Weight.Initializer!.Dims];
        int position = graph.Initializers.ToList().IndexOf(layer.Weight);
        position = position < 0 ? graph.Initializers.Count : position;
        bool conv = layer.Kind == LowRankLayerKind.Conv;
        // A Conv's first factor is r filters over the input, [r, C, k...] = A^T; its second a 1 x 1 convolution, [O, r, 1...] = B^T.
        Value first = graph.AddInitializer(conv
            ? TensorValues.Create<float>(layer.Weight.Name + "_lowrank_a", [r, .. dims[1..]], MatrixProduct.Transpose(a, k, r))
            : TensorValues.Create<float>(layer.Weight.Name + "_lowrank_a", [k, r], a), position);
        Value second = graph.AddInitializer(conv
            ? TensorValues.Create<float>(layer.Weight.Name + "_lowrank_b", [n, r, .. Enumerable.Repeat(1L, dims.Length - 2)], MatrixProduct.Transpose(b, r, n))
            : TensorValues.Create<float>(layer.Weight.Name + "_lowrank_b", [r, n], b), position + 1);

        string baseName = (name.Length > 0 ? name : layer.Weight.Name) + "_lowrank";
        Value hiddenValue = graph.CreateValue(baseName);
        List<AttributeProto> firstAttributes = layer.Kind switch
        {
            LowRankLayerKind.Gemm => node.GetInt("transA", 0) != 0 ? [Int("transA", 1)] : [],
            LowRankLayerKind.Conv => ConvAttributes(node, dims),
            _ => [],
        };
        // A Gemm's first factor is a MatMul (X is 2-D), or a Gemm without C where it has transA.
        string firstOperator = layer.Kind == LowRankLayerKind.Gemm && node.GetInt("transA", 0) == 0 ? "MatMul" : node.OpType;
        Node firstNode = graph.CreateNode(firstOperator, string.Empty, baseName, [node.Inputs[0], first], [hiddenValue], firstAttributes);
        graph.InsertBefore(node, firstNode);

        // The node itself becomes the second factor: same name, output and bias; only alpha and beta stay for a Gemm.
        node.SetInput(0, hiddenValue);
        node.SetInput(1, second);
        var kept = node.Attributes.Where(x => layer.Kind == LowRankLayerKind.Gemm && x.Name is "alpha" or "beta").Select(x => x.Clone()).ToList();
        node.Proto.Attribute.Clear();
        node.Proto.Attribute.AddRange(kept);
        if (biasCorrection is not null)
        {
            CorrectBias(node, graph, n, biasCorrection, layer.Weight.Name);
        }

        layer.Weight.Graph.RemoveInitializer(layer.Weight);
        graph.Model.Spill(first.Initializer!);
        graph.Model.Spill(second.Initializer!);
        layer.Matrix = [];

        string how = (layer.InverseWhitening is null ? string.Empty : ", whitened") + (distilled ? ", refit to the original's outputs" : string.Empty);
        string technique = string.Create(CultureInfo.InvariantCulture,
            $"rank {r} of {Math.Min(k, n)}, {(double)r * (k + n) / ((double)k * n):P0} of the parameters{how}");
        return new TensorChange(layer.Weight.Name, technique, [node.OpType], dims, layer.Parameters * sizeof(float), layer.ParametersAt(r) * sizeof(float), maxError)
        {
            OutputError = outputError,
            Nodes = name.Length > 0 ? [name] : [],
        };
    }

    /// <summary>The first Conv's attributes: the original's kernel, strides, pads, dilations and auto_pad (group is 1).</summary>
    private static List<AttributeProto> ConvAttributes(Node node, long[] dims)
    {
        var attributes = node.Attributes.Where(x => x.Name is "strides" or "pads" or "dilations" or "auto_pad" or "kernel_shape").Select(x => x.Clone()).ToList();
        if (!attributes.Any(x => x.Name == "kernel_shape"))
        {
            var kernel = new AttributeProto { Name = "kernel_shape", Type = AttributeType.Ints };
            kernel.Ints.AddRange(dims[2..]);
            attributes.Add(kernel);
        }

        return attributes;
    }

    /// <summary>
    /// The statistics of the hidden value <c>H = X_s A</c> from those of X: <c>A^T X_s^T X_s A</c>, <c>A^T X_s^T X_t</c> and
    /// <c>A^T sum(X_s)</c>; the teacher's side is unchanged.
    /// </summary>
    private static LayerStatistics Project(LayerStatistics x, float[] a, int k, int r)
    {
        var hidden = new LayerStatistics(x.NodeName, x.ValueName, r, x.TeacherFeatures, x.HasTeacherGram) { Rows = x.Rows };
        float[] at = MatrixProduct.Transpose(a, k, r);
        float[] gram = MatrixProduct.Multiply(MatrixProduct.Multiply(at, ToFloat(x.StudentGram.ToArray()), r, k, k), a, r, k, r);
        for (int i = 0; i < r; i++)
        {
            for (int j = 0; j < r; j++)
            {
                hidden.StudentGramMatrix[(i * r) + j] = 0.5 * ((double)gram[(i * r) + j] + gram[(j * r) + i]);
            }
        }

        float[] cross = MatrixProduct.Multiply(at, ToFloat(x.Cross.ToArray()), r, k, x.TeacherFeatures);
        for (int i = 0; i < cross.Length; i++)
        {
            hidden.CrossMatrix[i] = cross[i];
        }

        float[] sum = MatrixProduct.Multiply(at, ToFloat(x.StudentSum.ToArray()), r, k, 1);
        for (int i = 0; i < r; i++)
        {
            hidden.StudentSumVector[i] = sum[i];
        }

        x.TeacherSum.CopyTo(hidden.TeacherSumVector);
        if (x.HasTeacherGram)
        {
            x.TeacherGram.CopyTo(hidden.TeacherGramMatrix);
        }

        return hidden;
    }

    /// <summary>
    /// The input slot of the node's bias where a refit may change it: Conv's B, or Gemm's C when it is 1-D [N] or missing
    /// (and beta is not 0); null otherwise.
    /// </summary>
    private static int? BiasSlot(Node node, int n)
    {
        if (node.OpType == "Gemm" && node.Attributes.FirstOrDefault(x => x.Name == "beta") is { F: 0 })
        {
            return null;
        }

        if (node.Inputs.Count <= 2 || node.Inputs[2] is null)
        {
            return 2;
        }

        Value bias = node.Inputs[2]!;
        return bias.Initializer is { DataType: (int)DataType.Float } tensor && tensor.Dims.Count == 1 && tensor.Dims[0] == n
            && bias.Uses.Count == 1 && !bias.IsGraphInput && !bias.IsGraphOutput ? 2 : null;
    }

    /// <summary>Adds the refit's bias change to the node's bias (a new one where it had none); a Gemm's by alpha / beta.</summary>
    private static void CorrectBias(Node node, Graph graph, int n, float[] correction, string weightName)
    {
        float scale = 1;
        if (node.OpType == "Gemm")
        {
            float alpha = node.Attributes.FirstOrDefault(x => x.Name == "alpha")?.F ?? 1;
            float beta = node.Attributes.FirstOrDefault(x => x.Name == "beta")?.F ?? 1;
            scale = alpha / beta;
        }

        var values = new float[n];
        TensorPrimitives.Multiply<float>(correction, scale, values);
        Value? bias = node.Inputs.Count > 2 ? node.Inputs[2] : null;
        if (bias is not null)
        {
            TensorPrimitives.Add<float>(values, bias.ReadInitializer(t => t.View<float>().Span.ToArray()), values);
            Value replacement = bias.Graph.AddInitializer(TensorValues.Create<float>(bias.Name, [n], values), bias.Graph.Initializers.ToList().IndexOf(bias) + 1);
            node.SetInput(2, replacement);
            bias.Graph.RemoveInitializer(bias);
            return;
        }

        Value added = graph.AddInitializer(TensorValues.Create<float>(weightName + "_lowrank_bias", [n], values));
        while (node.Inputs.Count < 3)
        {
            node.AddInput(null);
        }

        node.SetInput(2, added);
    }

    private static TensorLeftAlone Describe(LowRankLayer layer, string reason) => new(layer.Weight.Name, layer.Node.OpType, reason)
    {
        Shape = [.. layer.Weight.Initializer!.Dims],
        Bytes = layer.Parameters * sizeof(float),
        Nodes = layer.Node.Name.Length > 0 ? [layer.Node.Name] : [],
    };

    private static RankAllocation.Layer ToAllocation(LowRankLayer layer) => new(layer.K, layer.N, layer.Factors!.Values, layer.Energy, layer.MaxRank);

    private static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeType.Int, I = value };

    private static double[] Transpose(double[] a, int n)
    {
        var t = new double[a.Length];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                t[(j * n) + i] = a[(i * n) + j];
            }
        }

        return t;
    }

    private static float[] ToFloat(double[] values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = (float)values[i];
        }

        return result;
    }
}
