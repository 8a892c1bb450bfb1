using System.Globalization;
using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Passes.Distillation;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Pruning;

/// <summary>
/// Structured pruning (<c>PrunePattern=channel</c>): whole output channels (neurons of MatMul and Gemm, filters of Conv) are
/// removed, and the operators and layers that read them shrink to match: bias Adds, BatchNormalization, depthwise Convs, and
/// the input side of the next MatMul, Gemm or Conv (through activations, pooling and Flatten, where a Conv's channel is a block
/// of features of the flattened input). Layers whose outputs a residual Add sums lose the same channels, chosen on their
/// scores together; a Concat places its inputs' channels side by side. The model that comes out has physically fewer
/// channels: fewer operations, a smaller file, and it runs faster in ONNX Runtime.
/// <para>
/// Channels are scored by <c>PruneCriterion</c>: <c>magnitude</c> (the L2 norm of the channel's weights), <c>random</c>
/// (seeded), or <c>wanda</c> (what the channel gives the layers that read it: the L2 norm of its activation as they read it
/// on <c>CalibrationData</c> times the norm of their weights that read it). A layer of a multiple of 8 channels keeps a
/// multiple of 8 (ONNX Runtime's blocked convolution kernels need it). Each
/// layer's scores are divided by their mean, and the scores of tied layers added, so that <c>PruneScope=global</c> compares
/// layers of different scales on one threshold. With <c>Distill=true</c> and <c>CalibrationData</c>, each MatMul and Gemm
/// that lost inputs is refit by least squares so that its outputs match the original layer's.
/// </para>
/// </summary>
public sealed class ChannelPruningPass : ICompressionPass
{
    /// <summary>The seed of <c>PruneCriterion=random</c>, offset by the channel space's index.</summary>
    private const int RandomSeed = 0x5EED;

    /// <summary>A layer of a multiple of this many channels keeps a multiple of it.</summary>
    private const int ChannelMultiple = 8;

    /// <inheritdoc />
    public string Name => "channel-pruning";

    /// <inheritdoc />
    public long RequiredOpset(PassContext context) => 0;

    /// <inheritdoc />
    public PassResult Run(PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Model.Nodes.Any(n => Wants(context, n)))
        {
            return new PassResult(Name);
        }

        foreach (Node node in context.Model.Nodes.Where(n => Wants(context, n)))
        {
            CheckCriterion(context, node);
        }

        ChannelGroups groups = ChannelGroups.Find(context.Model);
        var leftAlone = new List<TensorLeftAlone>();
        var listed = new HashSet<(string, string)>();
        foreach ((Node node, Value? weight, string reason) in groups.Refused.Where(r => Wants(context, r.Node)))
        {
            if (!listed.Add((weight?.Name ?? node.Name, reason)))
            {
                continue;
            }

            leftAlone.Add(new TensorLeftAlone(weight?.Name ?? node.Name, node.OpType, "channel pruning: " + reason) { Nodes = NodeNames([node]) });
        }

        foreach (Node node in context.Model.Graphs.Skip(1).SelectMany(g => g.Nodes).Where(n => Wants(context, n)))
        {
            leftAlone.Add(new TensorLeftAlone(node.Inputs.Count > 1 ? node.Inputs[1]?.Name ?? node.Name : node.Name, node.OpType,
                "channel pruning: inside a subgraph (If, Loop, Scan), whose channels are not followed") { Nodes = NodeNames([node]) });
        }

        List<SpacePlan> plans = Plan(context, groups, leftAlone);
        if (plans.Count == 0)
        {
            return new PassResult(Name) { LeftAlone = WithSizes(leftAlone, context.Model) };
        }

        Score(context, groups, plans);
        Choose(context, plans);
        return Rewrite(context, groups, plans, leftAlone);
    }

    /// <summary>True when <paramref name="node"/>'s settings ask for channel pruning.</summary>
    private static bool Wants(PassContext context, Node node) =>
        node.OpType is "MatMul" or "Gemm" or "Conv"
        && context.Settings.Get(PruningSettings.PrunePattern, node) == PruningSettings.Channel
        && !double.IsNaN(context.Settings.Get(PruningSettings.Prune, node));

    private static void CheckCriterion(PassContext context, Node node)
    {
        string criterion = context.Settings.Get(PruningSettings.PruneCriterion, node);
        if (criterion is PruningSettings.SynFlow or PruningSettings.SparseGpt)
        {
            throw new CompressionException(DiagnosticCodes.InvalidSetting, context.ModelPath,
                $"PruneCriterion={criterion} ({context.Settings.OriginOf(PruningSettings.PruneCriterion, node)}) does not apply to " +
                $"PrunePattern=channel ({context.Settings.OriginOf(PruningSettings.PrunePattern, node)}), for {node}: channel pruning " +
                $"scores whole channels by {PruningSettings.Magnitude} (the L2 norm of each channel's weights), {PruningSettings.Random} " +
                $"(seeded) or {PruningSettings.Wanda} (the channel's activation norm on CalibrationData times the norm of the weights that read it). " +
                "Set PruneCriterion to one of these, or use PrunePattern=unstructured for this criterion.");
        }

        if (criterion == PruningSettings.Wanda && context.Calibration is null)
        {
            throw new CompressionException(DiagnosticCodes.InvalidSetting, context.ModelPath,
                $"PruneCriterion=wanda ({context.Settings.OriginOf(PruningSettings.PruneCriterion, node)}) needs calibration data: " +
                "channels are scored by their activations' norm on the calibration samples. Set CalibrationData to a folder of input samples " +
                "(.npy or ONNX tensor files, as for ValidationData), or use PruneCriterion=magnitude.");
        }
    }

    /// <summary>One plan per space whose every producer asks for channel pruning with the same settings and can lose channels.</summary>
    private static List<SpacePlan> Plan(PassContext context, ChannelGroups groups, List<TensorLeftAlone> leftAlone)
    {
        var plans = new List<SpacePlan>();
        var byRoot = new SortedDictionary<int, List<int>>();
        for (int space = 0; space < groups.Count; space++)
        {
            int root = groups.Root(space);
            if (!byRoot.TryGetValue(root, out List<int>? members))
            {
                byRoot[root] = members = [];
            }

            members.Add(space);
        }

        foreach ((int root, List<int> members) in byRoot)
        {
            List<Node> producers = members.Select(s => groups.Producers[s]).ToList();
            List<Node> wanting = producers.Where(p => Wants(context, p)).ToList();
            if (wanting.Count == 0)
            {
                continue;
            }

            string? reason = groups.Failure(root);
            if (reason is null && wanting.Count < producers.Count)
            {
                Node other = producers.First(p => !Wants(context, p));
                reason = $"its channels are tied (a residual Add) to those of {other}, which is not channel-pruned " +
                    $"(PrunePattern {context.Settings.OriginOf(PruningSettings.PrunePattern, other)}, Prune {context.Settings.OriginOf(PruningSettings.Prune, other)})";
            }

            Node first = producers[0];
            double fraction = context.Settings.Get(PruningSettings.Prune, first);
            string criterion = context.Settings.Get(PruningSettings.PruneCriterion, first);
            if (reason is null && producers.FirstOrDefault(p => context.Settings.Get(PruningSettings.Prune, p) != fraction
                || context.Settings.Get(PruningSettings.PruneCriterion, p) != criterion) is { } differing)
            {
                reason = $"its channels are tied (a residual Add) to those of {differing}, whose Prune or PruneCriterion differs from {first}'s";
            }

            if (reason is not null)
            {
                foreach (Node producer in wanting)
                {
                    leftAlone.Add(new TensorLeftAlone(producer.Inputs[1]!.Name, producer.OpType, "channel pruning: " + reason) { Nodes = NodeNames([producer]) });
                }

                continue;
            }

            plans.Add(new SpacePlan(root, members, producers, groups.Channels(root), fraction, criterion));
        }

        return plans;
    }

    /// <summary>
    /// Each plan's channel scores, each producer's (or reader's) divided by their mean and averaged over the tied producers
    /// (the readers), so that the scores of different layers compare on one scale (<c>PruneScope=global</c>).
    /// </summary>
    private static void Score(PassContext context, ChannelGroups groups, List<SpacePlan> plans)
    {
        Dictionary<string, ChannelEnergyCollector> energies = RecordEnergies(context, groups, plans);
        foreach (SpacePlan plan in plans)
        {
            plan.Scores = new double[plan.Channels];
            if (plan.Criterion == PruningSettings.Random)
            {
                var random = new Random(RandomSeed + plan.Root);
                for (int c = 0; c < plan.Channels; c++)
                {
                    plan.Scores[c] = random.NextDouble();
                }

                continue;
            }

            if (plan.Criterion == PruningSettings.Wanda && ScoreByReaders(groups, plan, energies))
            {
                continue;
            }

            foreach (ChannelEdit edit in groups.Edits.Where(e => e.Kind == ChannelEditKind.Producer && plan.Producers.Contains(e.Node)))
            {
                AddNormalized(plan.Scores, ReadWeight(edit.Tensor).Norms(edit.Axis), plan.Producers.Count);
            }
        }
    }

    /// <summary>
    /// Wanda on channels: what a channel gives the layers that read it, the norm of its activation (as they read it, after
    /// bias, normalization and activation) times the norm of their weights that read it, added over its features (a flattened
    /// channel's block). False when no reader was recorded.
    /// </summary>
    private static bool ScoreByReaders(ChannelGroups groups, SpacePlan plan, Dictionary<string, ChannelEnergyCollector> energies)
    {
        var readers = groups.Edits.Where(e => e.Kind == ChannelEditKind.Consumer && e.Layout.Segments.Any(s => groups.Root(s.Space) == plan.Root)
            && energies.ContainsKey(e.Node.Inputs[0]!.Name)).ToList();
        foreach (ChannelEdit edit in readers)
        {
            double[] energy = energies[edit.Node.Inputs[0]!.Name].SumOfSquares;
            double[] norms = ReadWeight(edit.Tensor).Norms(edit.Axis);
            var scores = new double[plan.Channels];
            foreach (ChannelSegment segment in edit.Layout.Segments.Where(s => groups.Root(s.Space) == plan.Root))
            {
                for (int c = 0; c < segment.Count; c++)
                {
                    double activation = 0, weight = 0;
                    for (int b = 0; b < edit.Block; b++)
                    {
                        int index = ((segment.Offset + c) * edit.Block) + b;
                        activation += energy[index];
                        weight += norms[index] * norms[index];
                    }

                    scores[c] += Math.Sqrt(activation * weight);
                }
            }

            AddNormalized(plan.Scores, scores, readers.Count);
        }

        return readers.Count > 0;
    }

    /// <summary>Adds <paramref name="scores"/> divided by their mean and by <paramref name="parts"/> to <paramref name="total"/>.</summary>
    private static void AddNormalized(double[] total, double[] scores, int parts)
    {
        double mean = scores.Average();
        for (int c = 0; c < scores.Length; c++)
        {
            total[c] += (mean > 0 ? scores[c] / mean : 0) / parts;
        }
    }

    private static SlicedTensor ReadWeight(Value weight) => weight.ReadInitializer(t => new SlicedTensor([.. t.Dims], t.View<float>().Span.ToArray()));

    /// <summary>For <c>wanda</c>: the energy of each input feature of the layers that read a plan's channels, on the calibration samples, in the original model.</summary>
    private static Dictionary<string, ChannelEnergyCollector> RecordEnergies(PassContext context, ChannelGroups groups, List<SpacePlan> plans)
    {
        var collectors = new Dictionary<string, ChannelEnergyCollector>(StringComparer.Ordinal);
        var roots = new HashSet<int>(plans.Where(p => p.Criterion == PruningSettings.Wanda).Select(p => p.Root));
        foreach (ChannelEdit edit in groups.Edits.Where(e => e.Kind == ChannelEditKind.Consumer && e.Layout.Segments.Any(s => roots.Contains(groups.Root(s.Space)))))
        {
            string input = edit.Node.Inputs[0]!.Name;
            collectors.TryAdd(input, new ChannelEnergyCollector(input, edit.Node.OpType == "Conv" ? 1 : -1, edit.Layout.Channels * edit.Block));
        }

        if (collectors.Count > 0)
        {
            ActivationRecorder.Record(context.Model.ToProto().Clone(), context.Calibration!, [.. collectors.Values], context.ModelPath, context.Runner);
        }

        return collectors;
    }

    /// <summary>Picks the channels each plan keeps: per layer, or on one threshold over every plan's normalized scores.</summary>
    private static void Choose(PassContext context, List<SpacePlan> plans)
    {
        int Removable(SpacePlan plan) => Math.Min(plan.Channels - 1, (int)Math.Floor(plan.Fraction * plan.Channels));
        var removed = plans.ToDictionary(p => p, _ => new List<int>());
        if (context.Settings.Get(PruningSettings.PruneScope) == PruningSettings.GlobalScope)
        {
            int total = plans.Sum(Removable);
            var candidates = plans.SelectMany(p => Enumerable.Range(0, p.Channels).Select(c => (Plan: p, Channel: c)))
                .OrderBy(x => x.Plan.Scores[x.Channel]).ThenBy(x => x.Plan.Root).ThenBy(x => x.Channel);
            foreach ((SpacePlan plan, int channel) in candidates)
            {
                if (total == 0)
                {
                    break;
                }

                if (removed[plan].Count < plan.Channels - 1)
                {
                    removed[plan].Add(channel);
                    total--;
                }
            }
        }
        else
        {
            foreach (SpacePlan plan in plans)
            {
                removed[plan].AddRange(Enumerable.Range(0, plan.Channels).OrderBy(c => plan.Scores[c]).ThenBy(c => c).Take(Removable(plan)));
            }
        }

        foreach (SpacePlan plan in plans)
        {
            // A layer of a multiple of 8 channels keeps a multiple of 8: ONNX Runtime's blocked (NCHWc) convolution kernels
            // take channels in blocks of 8 on AVX2, and fall back to a much slower path otherwise (the digits CNN at 30%,
            // batch 32: 4.6x slower with 23/45/90 channels). The channels given back are the best scored of those chosen.
            List<int> chosen = removed[plan];
            if (plan.Channels % ChannelMultiple == 0 && plan.Channels >= 2 * ChannelMultiple)
            {
                int kept = plan.Channels - chosen.Count;
                int rounded = (kept + ChannelMultiple - 1) / ChannelMultiple * ChannelMultiple;
                chosen.RemoveRange(chosen.Count - (rounded - kept), rounded - kept);
            }

            var gone = new HashSet<int>(chosen);
            plan.Kept = Enumerable.Range(0, plan.Channels).Where(c => !gone.Contains(c)).ToArray();
            plan.Removed = [.. removed[plan].Order()];
        }
    }

    private PassResult Rewrite(PassContext context, ChannelGroups groups, List<SpacePlan> plans, List<TensorLeftAlone> leftAlone)
    {
        var byRoot = plans.Where(p => p.Removed.Length > 0).ToDictionary(p => p.Root);
        bool Touches(ChannelLayout layout) => layout.Segments.Any(s => byRoot.ContainsKey(groups.Root(s.Space)));
        int[] KeptOf(ChannelLayout layout, int block, out int[] removedIndices)
        {
            var kept = new List<int>();
            var gone = new List<int>();
            foreach (ChannelSegment segment in layout.Segments)
            {
                SpacePlan? plan = byRoot.GetValueOrDefault(groups.Root(segment.Space));
                for (int c = 0; c < segment.Count; c++)
                {
                    bool keep = plan is null || Array.BinarySearch(plan.Kept, c) >= 0;
                    (keep ? kept : gone).Add(segment.Offset + c);
                }
            }

            removedIndices = SlicedTensor.Expand(gone, block);
            return SlicedTensor.Expand(kept, block);
        }

        List<ChannelEdit> edits = groups.Edits.Where(e => Touches(e.Layout)).ToList();
        var tensors = new Dictionary<Value, (SlicedTensor Tensor, long[] Before, List<string> Roles)>(ReferenceEqualityComparer.Instance);
        SlicedTensor Open(Value value, string? role)
        {
            if (!tensors.TryGetValue(value, out var entry))
            {
                TensorProto proto = value.LoadInitializer();
                long[] dims = [.. proto.Dims];
                entry = (new SlicedTensor(dims, proto.View<float>().Span.ToArray()), dims, []);
                tensors[value] = entry;
            }

            if (role is not null)
            {
                entry.Roles.Add(role);
            }

            return entry.Tensor;
        }

        // The layers distillation refits, and their original weights (the teacher's), read before anything changes.
        List<ChannelEdit> refits = edits.Where(e => e.Kind == ChannelEditKind.Consumer && context.Settings.Get(DistillationSettings.Distill, e.Node)).ToList();
        LayerDistiller? distiller = refits.Count > 0 ? LayerDistiller.Create(context) : null;
        var teachers = new Dictionary<Node, SlicedTensor>(ReferenceEqualityComparer.Instance);
        foreach (ChannelEdit edit in distiller is null ? [] : refits)
        {
            teachers[edit.Node] = ReadWeight(edit.Tensor);
        }

        foreach (ChannelEdit edit in edits)
        {
            int[] kept = KeptOf(edit.Layout, edit.Block, out int[] gone);
            string count = string.Create(CultureInfo.InvariantCulture, $"{gone.Length / edit.Block} of {edit.Layout.Channels}");
            switch (edit.Kind)
            {
                case ChannelEditKind.Producer:
                    SpacePlan plan = byRoot[groups.Root(edit.Layout.Segments[0].Space)];
                    Open(edit.Tensor, $"{count} output channels removed ({plan.Criterion})").Keep(edit.Axis, kept);
                    if (edit.Node.Inputs.Count > 2 && edit.Node.Inputs[2] is { IsInitializer: true } bias && bias.Initializer!.Dims.Any(d => d != 1))
                    {
                        Open(bias, $"{count} output channels removed").Keep(bias.Initializer.Dims.Count - 1, kept);
                    }

                    break;
                case ChannelEditKind.Consumer:
                    Open(edit.Tensor, $"{count} input channels removed").Keep(edit.Axis, kept);
                    break;
                case ChannelEditKind.Constant:
                    Open(edit.Tensor, $"{count} channels removed").Keep(edit.Axis, kept);
                    break;
                case ChannelEditKind.BatchNormalization:
                    for (int i = 1; i < 5; i++)
                    {
                        Open(edit.Node.Inputs[i]!, $"{count} channels removed").Keep(0, kept);
                    }

                    break;
                case ChannelEditKind.Depthwise:
                    Open(edit.Tensor, $"{count} depthwise channels removed").Keep(0, kept);
                    if (edit.Node.Inputs.Count > 2 && edit.Node.Inputs[2] is { IsInitializer: true } depthwiseBias && depthwiseBias.Initializer!.Dims.Any(d => d != 1))
                    {
                        Open(depthwiseBias, $"{count} depthwise channels removed").Keep(0, kept);
                    }

                    edit.Node.Proto.Attribute.First(a => a.Name == "group").I = kept.Length;
                    break;
            }
        }

        foreach ((Value value, var entry) in tensors)
        {
            Store(value, entry.Tensor);
        }

        UpdateDeclaredShapes(groups, byRoot.Keys, (layout, block) => KeptOf(layout, block, out _).Length);
        int distilled = 0;
        var outputErrors = new Dictionary<Value, double>(ReferenceEqualityComparer.Instance);
        if (distiller is not null)
        {
            var keptOutputs = new Dictionary<Node, int[]>(ReferenceEqualityComparer.Instance);
            foreach (ChannelEdit producer in edits.Where(e => e.Kind == ChannelEditKind.Producer))
            {
                keptOutputs[producer.Node] = KeptOf(producer.Layout, 1, out _);
            }

            distilled = Distill(context, distiller, refits, teachers, keptOutputs, Open, leftAlone, outputErrors);
        }

        var changes = new List<TensorChange>();
        foreach (Graph graph in context.Model.Graphs)
        {
            foreach (Value value in graph.Initializers.ToList())
            {
                if (!tensors.TryGetValue(value, out var entry))
                {
                    continue;
                }

                // Kept inline, not spilled to the compressed model's data file: a later pass (quantization) usually replaces
                // the weight, and a spilled copy would stay in the data file; the writer moves what remains there at the end.
                Store(value, entry.Tensor);
                long before = TensorShape.ElementCount(entry.Before) * sizeof(float);
                string roles = string.Join("; ", entry.Roles.Distinct(StringComparer.Ordinal));
                changes.Add(new TensorChange(value.Name, "channel pruned: " + roles, value.Uses.Select(u => u.Node.OpType).Distinct().Order(StringComparer.Ordinal).ToList(),
                    entry.Tensor.Dims, before, entry.Tensor.Values.LongLength * sizeof(float), 0)
                {
                    Nodes = NodeNames(value.Uses.Select(u => u.Node)),
                    Sparsity = ShareOfZeros(entry.Tensor.Values),
                    OutputError = outputErrors.TryGetValue(value, out double error) ? error : null,
                });
            }
        }

        return new PassResult(Name)
        {
            Modified = changes.Count > 0,
            Techniques = Describe(context, byRoot.Values.ToList(), distilled),
            Changed = changes,
            LeftAlone = WithSizes(leftAlone, context.Model),
        };
    }

    /// <summary>
    /// A model before IR 4 lists its initializers among the graph inputs, with their shapes: the declaration of a shrunk one
    /// follows, or ONNX Runtime refuses the model (the declared and the inferred shapes differ).
    /// </summary>
    private static void DeclareInitializerInput(Graph graph, string name, long[] dims)
    {
        foreach (ValueInfoProto input in graph.Proto.Input.Where(i => i.Name == name))
        {
            if (input.Type?.TensorType is { } tensorType)
            {
                tensorType.Shape = new TensorShapeProto();
                foreach (long dim in dims)
                {
                    tensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
                }
            }
        }
    }

    /// <summary>Puts <paramref name="tensor"/>'s values into the model as the initializer <paramref name="value"/> (and its
    /// declaration among the graph inputs, before IR 4).</summary>
    private static void Store(Value value, SlicedTensor tensor)
    {
        value.SetInitializer(TensorValues.Create<float>(value.Name, tensor.Dims, tensor.Values));
        DeclareInitializerInput(value.Graph, value.Name, tensor.Dims);
    }

    /// <summary>
    /// Layer-wise distillation (<c>Distill=true</c> with calibration data): each layer that lost inputs is refit, in the model's
    /// order, so that its outputs on the pruned model's own activations match the original layer's outputs on the original's
    /// (least squares, <see cref="LeastSquares.Refit"/>), pulled toward its pruned weight by the damping; its bias (Gemm's C,
    /// Conv's B, or the constant of the Add that alone reads a MatMul) takes the mean of what the removed inputs gave.
    /// </summary>
    /// <returns>How many layers were refit.</returns>
    private static int Distill(PassContext context, LayerDistiller distiller, List<ChannelEdit> refits, Dictionary<Node, SlicedTensor> teachers,
        Dictionary<Node, int[]> keptOutputs, Func<Value, string?, SlicedTensor> open, List<TensorLeftAlone> leftAlone, Dictionary<Value, double> outputErrors)
    {
        int distilled = 0;
        Graph graph = context.Model.Graph;
        foreach (ChannelEdit edit in refits.DistinctBy(e => e.Node).OrderBy(e => graph.IndexOf(e.Node)))
        {
            Node node = edit.Node;
            string? reason = distiller.Unsupported(node)
                ?? (node.OpType == "Gemm" && (node.Attributes.Any(a => a.Name is "alpha" or "beta" && a.F != 1f)) ? "a Gemm with alpha or beta other than 1" : null);
            if (reason is not null)
            {
                leftAlone.Add(new TensorLeftAlone(edit.Tensor.Name, node.OpType, "not distilled: " + reason) { Nodes = NodeNames([node]) });
                continue;
            }

            // Both weights as [K, N]: a Gemm weight with transB and a Conv weight ([N, C, k...]) are [N, K].
            SlicedTensor teacher = teachers[node];
            int outputAxis = node.OpType == "Conv" ? 0 : node.OpType == "Gemm" && node.GetInt("transB", 0) != 0 ? 0 : 1;
            if (keptOutputs.TryGetValue(node, out int[]? outputs))
            {
                teacher.Keep(outputAxis, outputs);
            }

            SlicedTensor student = open(edit.Tensor, null);
            int n = (int)student.Dims[outputAxis];
            float[] teacherMatrix = AsInputsByOutputs(teacher.Values, n, outputAxis);
            float[] studentMatrix = AsInputsByOutputs(student.Values, n, outputAxis);
            LayerStatistics statistics = distiller.Record(node, withTeacherGram: true);
            if (statistics.StudentFeatures * n != studentMatrix.Length || statistics.TeacherFeatures * n != teacherMatrix.Length)
            {
                leftAlone.Add(new TensorLeftAlone(edit.Tensor.Name, node.OpType, "not distilled: the recorded inputs do not match the weight") { Nodes = NodeNames([node]) });
                continue;
            }

            Value? biasValue = BiasOf(node);
            RefitResult result = distiller.Refit(statistics, teacherMatrix, n, withBias: biasValue is not null, prior: studentMatrix);
            if (!result.Solved)
            {
                leftAlone.Add(new TensorLeftAlone(edit.Tensor.Name, node.OpType, "not distilled: the least-squares system could not be solved") { Nodes = NodeNames([node]) });
                continue;
            }

            // The layer's relative output error on the calibration samples, pruned as it is and refit.
            double before = LeastSquares.OutputError(statistics, teacherMatrix, n, studentMatrix);
            double after = LeastSquares.OutputError(statistics, teacherMatrix, n, result.Weight, result.BiasCorrection);
            open(edit.Tensor, string.Create(CultureInfo.InvariantCulture, $"refit to the original outputs (distilled): output error {before:0.####} -> {after:0.####}"));
            outputErrors[edit.Tensor] = after;
            student.Set(student.Dims, outputAxis == 1 ? result.Weight : Transposed(result.Weight, statistics.StudentFeatures, n));
            Store(edit.Tensor, student);
            if (biasValue is not null && result.BiasCorrection is { } correction)
            {
                SlicedTensor bias = open(biasValue, "refit to the original outputs (distilled)");
                System.Numerics.Tensors.TensorPrimitives.Add(bias.Values, correction, bias.Values);
                Store(biasValue, bias);
            }

            distilled++;
        }

        return distilled;
    }

    /// <summary>A weight as [K, N] row-major: as it is when its outputs are its last axis, else ([N, K...]) transposed.</summary>
    private static float[] AsInputsByOutputs(float[] values, int n, int outputAxis) =>
        outputAxis == 1 ? values : Transposed(values, n, values.Length / n);

    /// <summary>The bias a refit may correct: Gemm's C or Conv's B of one value per output, or the constant [N] of the Add that alone reads a MatMul's output.</summary>
    private static Value? BiasOf(Node node)
    {
        Value? bias = null;
        if (node.OpType is "Gemm" or "Conv")
        {
            bias = node.Inputs.Count > 2 ? node.Inputs[2] : null;
        }
        else if (node.Outputs[0] is { Uses.Count: 1, IsGraphOutput: false } output && output.Uses[0].Node is { OpType: "Add", IsDefaultDomain: true } add
            && add.Inputs.Count == 2)
        {
            bias = add.Inputs[1 - output.Uses[0].Index];
        }

        long n = node.Inputs[1]!.Initializer!.Dims[node.OpType == "Conv" || (node.OpType == "Gemm" && node.GetInt("transB", 0) != 0) ? 0 : ^1];
        return bias is { IsInitializer: true, IsGraphOutput: false, Uses.Count: 1 } && bias.Initializer!.DataType == (int)DataType.Float
            && bias.Initializer.Dims.Count >= 1 && bias.Initializer.Dims[^1] == n && TensorShape.ElementCount(bias.Initializer.Dims) == n
            && !(bias.IsGraphInput && node.Graph!.Model.IrVersion >= 4)
            ? bias
            : null;
    }

    private static float[] Transposed(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                result[(c * rows) + r] = values[(r * columns) + c];
            }
        }

        return result;
    }

    /// <summary>Sets the channel dimension of every declared shape (value_info) whose value lost channels; a size it cannot tell becomes unknown.</summary>
    private static void UpdateDeclaredShapes(ChannelGroups groups, IEnumerable<int> prunedRoots, Func<ChannelLayout, int, int> keptCount)
    {
        var pruned = new HashSet<int>(prunedRoots);
        foreach ((Value value, ChannelLayout layout) in groups.Layouts)
        {
            if (!layout.Segments.Any(s => pruned.Contains(groups.Root(s.Space))))
            {
                continue;
            }

            foreach (ValueInfoProto info in value.Graph.Proto.ValueInfo.Where(i => i.Name == value.Name))
            {
                if (info.Type?.TensorType?.Shape is not { } shape || shape.Dim.Count == 0)
                {
                    continue;
                }

                int axis = layout.Axis < 0 ? shape.Dim.Count - 1 : layout.Axis;
                if (axis >= shape.Dim.Count)
                {
                    continue;
                }

                TensorShapeProto.Types.Dimension dim = shape.Dim[axis];
                if (layout.Block > 0)
                {
                    dim.DimValue = keptCount(layout, layout.Block);
                }
                else
                {
                    dim.ClearValue();
                }
            }
        }
    }

    private static List<string> Describe(PassContext context, List<SpacePlan> plans, int distilled)
    {
        if (plans.Count == 0)
        {
            return [];
        }

        int layers = plans.Sum(p => p.Producers.Count);
        long removed = plans.Sum(p => (long)p.Removed.Length * p.Producers.Count);
        long total = plans.Sum(p => (long)p.Channels * p.Producers.Count);
        string criteria = string.Join("/", plans.Select(p => p.Criterion).Distinct().Order(StringComparer.Ordinal));
        string scope = context.Settings.Get(PruningSettings.PruneScope);
        return
        [
            string.Create(CultureInfo.InvariantCulture,
                $"Channel pruning: {layers} {(layers == 1 ? "layer loses" : "layers lose")} {removed} of {total} output channels ") +
            string.Create(CultureInfo.InvariantCulture, $"({100.0 * removed / total:0.#}%, {criteria}, {scope} scope) and the layers that read them shrink to match") +
            (distilled > 0 ? string.Create(CultureInfo.InvariantCulture, $"; {distilled} of these refit to the original outputs on the calibration data (distilled)") : string.Empty) + ".",
        ];
    }

    private static double ShareOfZeros(float[] values)
    {
        long zeros = 0;
        foreach (float value in values)
        {
            zeros += value == 0 ? 1 : 0;
        }

        return values.Length == 0 ? 0 : (double)zeros / values.Length;
    }

    private static List<string> NodeNames(IEnumerable<Node> nodes) =>
        nodes.Select(n => n.Name).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToList();

    private static List<TensorLeftAlone> WithSizes(List<TensorLeftAlone> leftAlone, Model model)
    {
        var initializers = model.Graphs.SelectMany(g => g.Initializers).GroupBy(v => v.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        return leftAlone.Select(s => initializers.TryGetValue(s.Name, out Value? value) && value.Initializer is { } tensor
            ? s with { Shape = [.. tensor.Dims], Bytes = TensorDataTypes.TryGetSizeInBits((DataType)tensor.DataType, out int bits) ? (TensorShape.ElementCount(tensor.Dims) * bits + 7) / 8 : null }
            : s).ToList();
    }

    /// <summary>What happens to one channel space (with the spaces tied to it).</summary>
    private sealed class SpacePlan(int root, List<int> members, List<Node> producers, int channels, double fraction, string criterion)
    {
        public int Root { get; } = root;

        public List<int> Members { get; } = members;

        public List<Node> Producers { get; } = producers;

        public int Channels { get; } = channels;

        public double Fraction { get; } = fraction;

        public string Criterion { get; } = criterion;

        public double[] Scores { get; set; } = [];

        public int[] Kept { get; set; } = [];

        public int[] Removed { get; set; } = [];
    }
}
