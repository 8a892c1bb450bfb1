using System.Globalization;
using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Settings;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Quantization;

/// <summary>
/// Weight quantization of MatMul, Gemm, Conv and Gather (embedding tables), in the form ONNX Runtime runs fastest on CPU
/// with its default session options:
/// <list type="bullet">
/// <item>8-bit MatMul and Gemm, <c>QuantizeMode=dynamic</c> (the default): DynamicQuantizeLinear and MatMulInteger. The
/// weights are stored unsigned with a zero point (128 when symmetric), because ONNX Runtime's x64 kernels for unsigned
/// inputs times signed weights add pairs of products in 16 bits and saturate without AVX-VNNI. Weights under
/// <c>DynamicThreshold</c> elements are folded instead (below): quantizing their input would cost more than it saves.</item>
/// <item>4-bit, and 8-bit with <c>QuantizeMode=weight-only</c>: com.microsoft.MatMulNBits with <c>accuracy_level=4</c>,
/// which keeps the weights packed in memory.</item>
/// <item>Gather tables read by row: com.microsoft.GatherBlockQuantized.</item>
/// <item>Conv, and weights read by other operators too: integer constants with Cast and Mul, which ONNX Runtime's constant
/// folding turns back into the float weight at load (a smaller file that runs at float speed).</item>
/// <item><c>StandardOps=true</c>: the standard DequantizeLinear, for other runtimes: 8-bit per channel (opset 13), or 4-bit
/// in blocks along the input of MatMul and Gemm weights (opset 21), which ONNX Runtime fuses into MatMulNBits.</item>
/// </list>
/// Settings apply per node (the overrides file); a weight read by several nodes is quantized only when they agree.
/// </summary>
public sealed class WeightQuantizationPass : ICompressionPass
{
    /// <summary>The opset per-axis DequantizeLinear needs.</summary>
    public const long RequiredOpsetVersion = 13;

    /// <summary>The opset 4-bit (and blocked) DequantizeLinear needs.</summary>
    public const long Int4OpsetVersion = 21;

    /// <summary>The opset DynamicQuantizeLinear needs.</summary>
    public const long DynamicOpsetVersion = 11;

    /// <summary>The oldest opset ONNX Runtime runs, which the other forms need.</summary>
    public const long MinimumOpsetVersion = 7;

    /// <summary>The session entry that lets ONNX Runtime fold constant DequantizeLinear nodes.</summary>
    public const string DisableQdqConfigKey = "session.disable_quant_qdq";

    /// <summary>Why a weight computed from integer constants is left alone.</summary>
    private const string AlreadyQuantized = "already quantized (computed from integer constants: DequantizeLinear, or Cast and Mul)";

    /// <inheritdoc />
    public string Name => "weight-quantization";

    /// <inheritdoc />
    public long RequiredOpset(PassContext context) =>
        FindPlans(context, [], scanValues: false).Select(p => p.Form switch
        {
            WeightForm.Standard when p.Bits == 4 => Int4OpsetVersion,
            WeightForm.Standard or WeightForm.Static => RequiredOpsetVersion,
            WeightForm.DynamicMatMul => DynamicOpsetVersion,
            _ => MinimumOpsetVersion,
        }).DefaultIfEmpty(0).Max();

    /// <inheritdoc />
    public PassResult Run(PassContext context)
    {
        var skipped = new List<TensorLeftAlone>();
        var warnings = new List<CompressionWarning>();
        List<WeightPlan> plans = FindPlans(context, skipped, scanValues: true);
        Dictionary<string, ChannelStatisticsCollector> hessians = RecordHessians(context, plans);
        StaticQuantizer? activations = StaticQuantizer.Calibrate(context, plans.Where(p => p.Form == WeightForm.Static).ToList());
        // The model's own initializers: the scales and levels the writer adds are float tensors too, but not ones left alone.
        var originals = new HashSet<Value>(context.Model.Graphs.SelectMany(g => g.Initializers), ReferenceEqualityComparer.Instance);
        var writer = new QuantizedWeightWriter(context.Model);
        var written = new TensorChange[plans.Count];

        // Static plans first, then their activations' pairs, while the values still have the names their ranges were
        // recorded under; the other forms then replace nodes around the pairs.
        foreach (bool staticForm in new[] { true, false })
        {
            for (int i = 0; i < plans.Count; i++)
            {
                if ((plans[i].Form == WeightForm.Static) == staticForm)
                {
                    written[i] = writer.Write(plans[i], plans[i].UsesGptq ? SumOfGrams(plans[i], hessians) : null);
                }
            }

            if (staticForm)
            {
                activations?.Insert();
            }
        }

        // The readers' names, taken from the plans: the writer replaced some of the nodes that read the weight.
        var changed = written.Select((change, i) => change with { Nodes = NodeNames(plans[i].Slots.Select(s => s.Node)) }).ToList();

        ListFloatTensorsLeftAlone(context, originals, plans, skipped);
        // A model whose weights an earlier pass clustered is compressed already: nothing to warn about.
        if (changed.Count == 0 && plans.Count == 0 && WantsQuantization(context)
            && !skipped.Any(s => s.Reason.StartsWith(Clustering.ClusteringPass.AlreadyClustered, StringComparison.Ordinal)))
        {
            long threshold = context.Settings.Get(QuantizationSettings.WeightThreshold);
            string copied = context.OpsetRaisedAtLoad is { } raised
                ? $"is copied with only its opset raised from {raised.From} to {raised.To} (ONNX Runtime runs no older opset)"
                : "is copied unchanged";
            string[] quantizedOperators = context.Model.Nodes.Where(IsQuantizedOperator).Select(n => n.OpType)
                .Concat(skipped.Any(s => s.Reason.StartsWith(AlreadyQuantized, StringComparison.Ordinal)) ? ["integer constants"] : [])
                .Distinct().Order(StringComparer.Ordinal).ToArray();
            warnings.Add(new CompressionWarning(DiagnosticCodes.NothingCompressed, quantizedOperators.Length > 0
                ? $"Quantize={context.Settings.Get(QuantizationSettings.Quantize)} found no float weight to quantize: the model is already quantized " +
                  $"({string.Join(", ", quantizedOperators)}) and {copied}. Compress the float original instead."
                : $"Quantize={context.Settings.Get(QuantizationSettings.Quantize)} found no MatMul, Gemm, Conv or Gather weight to quantize " +
                  $"(constant float weights of at least {threshold} elements); the model {copied}. " +
                  "Lower WeightThreshold to include smaller weights."));
        }

        var result = new PassResult(Name)
        {
            Modified = changed.Count > 0,
            Techniques = Describe(plans, changed),
            Changed = changed,
            LeftAlone = WithSizes(context.Model, skipped),
            Warnings = warnings,
        };
        if (activations is not null)
        {
            result = result with
            {
                Notes =
                [
                    "Static quantization keeps the sensitive paths in float: LayerNormalization, Softmax, residual Adds and the nodes " +
                    "whose outputs are model outputs (the final classifier) read and write float values; only Conv, MatMul and Gemm " +
                    "(with a Relu that follows them) run on quantized inputs and outputs.",
                ],
            };
        }

        // The entry that folds DequantizeLinear weights would also stop ONNX Runtime from fusing the static pairs. It also
        // stops the fusion of blocked 4-bit DequantizeLinear into MatMulNBits, but ONNX Runtime 1.31 does not fuse a MatMul
        // that a Relu follows (its selector then wants a QuantizeLinear after the Relu), and without the entry each such
        // weight is dequantized at every run: 4.4x slower than float on the benchmark's 1 GB MLP.
        if (!plans.Any(p => p.Form == WeightForm.Standard) || activations is not null)
        {
            return result;
        }

        return result with
        {
            SessionConfig = new SortedDictionary<string, string>(StringComparer.Ordinal) { [DisableQdqConfigKey] = "1" },
            Notes =
            [
                .. result.Notes,
                $"Run this model with the ONNX Runtime session option {DisableQdqConfigKey}=1 (the generated class sets it). " +
                "ONNX Runtime then folds the DequantizeLinear weights (StandardOps=true) back to float when it loads the model and runs it at float speed; " +
                "without it ONNX Runtime keeps the DequantizeLinear nodes and runs the model several times slower.",
            ],
        };
    }

    /// <summary>
    /// Records X^T X of the input of every node whose weight GPTQ quantizes, over the calibration samples, with the model
    /// as it is before any weight changes.
    /// </summary>
    private static Dictionary<string, ChannelStatisticsCollector> RecordHessians(PassContext context, IReadOnlyList<WeightPlan> plans)
    {
        var collectors = new Dictionary<string, ChannelStatisticsCollector>(StringComparer.Ordinal);
        List<WeightPlan> gptq = plans.Where(p => p.UsesGptq).ToList();
        if (gptq.Count == 0)
        {
            return collectors;
        }

        SampleSet samples = context.Calibration ?? throw new CompressionException(DiagnosticCodes.InvalidSetting, context.ModelPath,
            $"Algorithm={QuantizationSettings.GptqAlgorithm} ({context.Settings.OriginOf(QuantizationSettings.Algorithm, gptq[0].Slots[0].Node)}) needs " +
            "calibration data: GPTQ compensates each rounding error from the layer's input activations. Set CalibrationData to a folder of " +
            "input samples (.npy or ONNX tensor files, as for ValidationData), or use Algorithm=rtn.");
        foreach (Value input in gptq.SelectMany(p => p.Slots).Select(s => s.Node.Inputs[0]).OfType<Value>())
        {
            collectors.TryAdd(input.Name, new ChannelStatisticsCollector(input.Name, withGram: true));
        }

        ActivationRecorder.Record(context.Model.ToProto().Clone(), samples, collectors.Values.ToList(), context.ModelPath, context.Runner);
        return collectors;
    }

    /// <summary>The input Hessian of a weight: the sum of X^T X over the inputs of the nodes that read it.</summary>
    private static double[] SumOfGrams(WeightPlan plan, Dictionary<string, ChannelStatisticsCollector> hessians)
    {
        double[]? sum = null;
        foreach (string input in plan.Slots.Select(s => s.Node.Inputs[0]!.Name).Distinct(StringComparer.Ordinal))
        {
            ReadOnlySpan<double> gram = hessians[input].Gram;
            sum ??= new double[gram.Length];
            System.Numerics.Tensors.TensorPrimitives.Add(sum, gram, sum);
        }

        return sum!;
    }

    /// <summary>One line per form and levels, as the signature and the generated class's docs list the techniques.</summary>
    private static IReadOnlyList<string> Describe(IReadOnlyList<WeightPlan> plans, IReadOnlyList<TensorChange> changed) =>
        plans.Zip(changed).GroupBy(p => (p.First.FormText, p.First.LevelsText)).OrderBy(g => g.Key.FormText, StringComparer.Ordinal).ThenBy(g => g.Key.LevelsText, StringComparer.Ordinal).Select(group =>
        {
            long values = group.Sum(p => TensorShape.ElementCount(p.Second.Shape));
            int count = group.Count();
            string operators = string.Join("/", group.SelectMany(p => p.Second.OpTypes).Distinct().Order(StringComparer.Ordinal));
            return string.Create(CultureInfo.InvariantCulture,
                $"{group.Key.FormText}: {count} {operators} weight {(count == 1 ? "tensor" : "tensors")} ({values:N0} values), {group.Key.LevelsText}");
        }).ToList();

    private static bool WantsQuantization(PassContext context) =>
        context.Settings.Get(QuantizationSettings.Quantize) != QuantizationSettings.None
        || context.Model.Nodes.Any(n => context.Settings.Get(QuantizationSettings.Quantize, n) != QuantizationSettings.None);

    /// <summary>
    /// The plan of every weight, and what is left alone with its reason. Without <paramref name="scanValues"/> (for the
    /// opset the plans need) the weights' values are not read: a weight holding NaN is then planned, not refused.
    /// </summary>
    private static List<WeightPlan> FindPlans(PassContext context, List<TensorLeftAlone> skipped, bool scanValues)
    {
        ResolvedSettings settings = context.Settings;

        // Every weight slot of every MatMul, Gemm, Conv and Gather, in every graph, grouped by the value it reads.
        var slots = new Dictionary<Value, List<WeightSlot>>(ReferenceEqualityComparer.Instance);
        foreach (Node node in context.Model.Nodes)
        {
            if (!node.IsDefaultDomain || SlotOf(node) is not { } slot || node.Inputs.Count <= slot.Input || node.Inputs[slot.Input] is not { } value)
            {
                continue;
            }

            if (!value.IsInitializer)
            {
                if (slot.Kind != SlotKind.Gather)
                {
                    skipped.Add(new TensorLeftAlone(value.Name, node.OpType, IsQuantized(value)
                        ? AlreadyQuantized
                        : Clustering.ClusteringPass.IsClustered(value) ? Clustering.ClusteringPass.AlreadyClustered
                        : "not a constant initializer (computed at run time)"));
                }

                continue;
            }

            // The codebook of a clustered weight (a Gather by codes that are constants) is not an embedding table.
            if (slot.Kind == SlotKind.Gather && Clustering.ClusteringPass.ReadsCodebook(node))
            {
                skipped.Add(new TensorLeftAlone(value.Name, node.OpType, "the codebook of a clustered weight"));
                continue;
            }

            // From IR version 4 on, an initializer that is also a graph input is only a default: the caller may pass another
            // value, which a quantized copy would ignore (and the input would vanish from the compressed model's interface).
            if (value.IsGraphInput && context.Model.IrVersion >= 4)
            {
                skipped.Add(new TensorLeftAlone(value.Name, node.OpType, "a graph input with a default value: the caller may pass its own"));
                continue;
            }

            if (!slots.TryGetValue(value, out List<WeightSlot>? list))
            {
                slots[value] = list = [];
            }

            list.Add(new WeightSlot(node, slot.Kind, SlotAxis(node, slot.Kind, value.Initializer!.Dims.Count)));
        }

        var plans = new List<WeightPlan>();
        foreach (Value weight in context.Model.Graphs.SelectMany(g => g.Initializers))
        {
            if (!slots.TryGetValue(weight, out List<WeightSlot>? list))
            {
                continue;
            }

            string opTypes = string.Join("/", list.Select(s => s.Node.OpType).Distinct().Order(StringComparer.Ordinal));
            WeightChoice choice = Agree(weight, list, settings, context.ModelPath);
            if (choice.Quantize == QuantizationSettings.None)
            {
                skipped.Add(new TensorLeftAlone(weight.Name, opTypes, $"Quantize=none ({settings.OriginOf(QuantizationSettings.Quantize, list[0].Node)})"));
                continue;
            }

            if (choice.Quantize == QuantizationSettings.Fp16)
            {
                if (CheckWeight(weight, choice.Threshold, scanValues) is { } reason)
                {
                    skipped.Add(new TensorLeftAlone(weight.Name, opTypes, reason));
                }
                else
                {
                    plans.Add(new WeightPlan(weight, list, choice, WeightForm.Half, -1, 0, 16, null));
                }

                continue;
            }

            string? problem = CheckWeight(weight, choice.Threshold, scanValues);
            if (problem is not null && list.All(s => s.Kind == SlotKind.Gather) && weight.Initializer!.DataType != (int)DataType.Float)
            {
                // A lookup in a constant table of integers or strings is not a weight.
                continue;
            }

            if (problem is not null)
            {
                skipped.Add(new TensorLeftAlone(weight.Name, opTypes, problem));
                continue;
            }

            WeightPlan? plan = Plan(weight, list, choice, out string? refusal);
            if (plan is null)
            {
                skipped.Add(new TensorLeftAlone(weight.Name, opTypes, refusal!));
                continue;
            }

            plans.Add(plan);
        }

        plans.AddRange(HalfPlansForOtherReaders(context, slots, scanValues));
        return plans;
    }

    /// <summary>fp16 stores every float initializer of at least the threshold, also those no weight slot reads (biases, norms).</summary>
    private static IEnumerable<WeightPlan> HalfPlansForOtherReaders(PassContext context, Dictionary<Value, List<WeightSlot>> slots, bool scanValues)
    {
        foreach (Value value in context.Model.Graphs.SelectMany(g => g.Initializers).ToList())
        {
            if (slots.ContainsKey(value) || value.Uses.Count == 0 || value.IsGraphOutput || value.Initializer!.DataType != (int)DataType.Float)
            {
                continue;
            }

            var readers = value.Uses.Select(u => u.Node).Distinct().Select(n => new WeightSlot(n, SlotKind.Other, -1)).ToList();
            if (!readers.Any(r => context.Settings.Get(QuantizationSettings.Quantize, r.Node) == QuantizationSettings.Fp16))
            {
                continue;
            }

            WeightChoice choice = Agree(value, readers, context.Settings, context.ModelPath);
            if (choice.Quantize == QuantizationSettings.Fp16 && CheckWeight(value, choice.Threshold, scanValues) is null)
            {
                yield return new WeightPlan(value, readers, choice, WeightForm.Half, -1, 0, 16, null);
            }
        }
    }

    /// <summary>Chooses the form of a weight from its readers and settings, or says why it stays float.</summary>
    private static WeightPlan? Plan(Value weight, List<WeightSlot> slots, WeightChoice choice, out string? refusal)
    {
        refusal = null;
        int rank = weight.Initializer!.Dims.Count;
        bool allMatrix = slots.All(s => s.Kind is SlotKind.MatMul or SlotKind.Gemm);
        bool allTable = slots.All(s => s.Kind == SlotKind.Gather);
        if (!allTable && slots.Any(s => s.Kind == SlotKind.Gather))
        {
            refusal = "read as a Gather table and by other operators";
            return null;
        }

        // The packed and integer forms replace the nodes that read the weight; a weight that is also a graph output keeps
        // its float values under its name, which only the folded form (or DequantizeLinear) gives.
        string? kernelProblem = slots.Select(s => s.KernelProblem(rank)).FirstOrDefault(p => p is not null);
        if (choice.Mode == QuantizationSettings.Static && choice.Bits == 8 && !weight.IsGraphOutput && kernelProblem is null
            && slots.All(s => s.Kind != SlotKind.Gather && s.Axis == slots[0].Axis && StaticQuantizer.Takes(s.Node)))
        {
            return new WeightPlan(weight, slots, choice, WeightForm.Static, choice.PerChannel ? slots[0].Axis : -1, 0, 8, null);
        }

        if (choice.StandardOps && choice.Bits == 4)
        {
            return StandardPlan4Bit(weight, slots, choice, allMatrix, allTable, out refusal);
        }

        if (!choice.StandardOps && !weight.IsGraphOutput && kernelProblem is null)
        {
            if (allMatrix && slots.All(s => s.Axis == slots[0].Axis))
            {
                int axis = slots[0].Axis;
                if (choice.Bits == 4 || choice.Mode == QuantizationSettings.WeightOnly)
                {
                    return new WeightPlan(weight, slots, choice, WeightForm.PackedMatMul, axis, BlockSize(choice, weight.Initializer.Dims[1 - axis]), choice.Bits, null);
                }

                if (TensorShape.ElementCount(weight.Initializer.Dims) >= choice.DynamicThreshold)
                {
                    return new WeightPlan(weight, slots, choice, WeightForm.DynamicMatMul, choice.PerChannel ? axis : -1, 0, 8, null);
                }

                return new WeightPlan(weight, slots, choice, WeightForm.Folded, choice.PerChannel ? axis : -1, 0, 8,
                    $"below the dynamic threshold of {choice.DynamicThreshold} elements, where quantizing the input at run time costs more than it saves");
            }

            if (allTable && FitBlock(weight.Initializer.Dims[1], BlockSize(choice, weight.Initializer.Dims[1])) is int block)
            {
                return new WeightPlan(weight, slots, choice, WeightForm.PackedGather, 0, block, choice.Bits, null);
            }
        }

        if (!allTable && slots.FirstOrDefault(s => s.Axis < 0) is { } misfit)
        {
            refusal = $"a {rank}-D weight is not the weight layout {misfit.Node.OpType} quantization expects";
            return null;
        }

        // Folded or standard: one scale per output channel (per table row) where every reader agrees on the axis.
        int foldedAxis = choice.PerChannel && slots.All(s => s.Axis == slots[0].Axis) ? slots[0].Axis : -1;
        var notes = new List<string>();
        if (choice.Bits == 4)
        {
            notes.Add($"8 bits: ONNX Runtime has no 4-bit kernel for {string.Join("/", slots.Select(s => s.Node.OpType).Distinct().Order(StringComparer.Ordinal))} here");
        }

        if (!choice.StandardOps && (allMatrix || allTable))
        {
            notes.Add(weight.IsGraphOutput ? "also a graph output" : kernelProblem ?? (allTable ? "no block size of 16 or more divides the table's width" : "readers with different output-channel axes"));
        }

        WeightForm form = choice.StandardOps ? WeightForm.Standard : WeightForm.Folded;
        return new WeightPlan(weight, slots, choice, form, foldedAxis, 0, 8, notes.Count == 0 ? null : string.Join("; ", notes));
    }

    /// <summary>
    /// 4-bit DequantizeLinear (opset 21): blocks along the input axis of a 2-D MatMul or Gemm weight (which ONNX Runtime fuses
    /// into MatMulNBits for MatMul), one scale per output channel for any other weight.
    /// </summary>
    private static WeightPlan? StandardPlan4Bit(Value weight, List<WeightSlot> slots, WeightChoice choice, bool allMatrix, bool allTable, out string? refusal)
    {
        refusal = null;
        bool sameAxis = slots.All(s => s.Axis == slots[0].Axis);
        if (allMatrix && sameAxis && weight.Initializer!.Dims.Count == 2)
        {
            return new WeightPlan(weight, slots, choice, WeightForm.Standard, slots[0].Axis, BlockSize(choice, weight.Initializer.Dims[1 - slots[0].Axis]), 4, null);
        }

        if (!allTable && slots.FirstOrDefault(s => s.Axis < 0) is { } misfit)
        {
            refusal = $"a {weight.Initializer!.Dims.Count}-D weight is not the weight layout {misfit.Node.OpType} quantization expects";
            return null;
        }

        return new WeightPlan(weight, slots, choice, WeightForm.Standard, choice.PerChannel && sameAxis ? slots[0].Axis : -1, 0, 4,
            "one scale per output channel: blocks are for 2-D MatMul and Gemm weights");
    }

    /// <summary>The block size for blocks along <paramref name="length"/> values (resolving <c>BlockSize=auto</c>).</summary>
    private static int BlockSize(WeightChoice choice, long length) => QuantizationSettings.BlockSizeFor(choice.BlockSize, choice.Bits, length);

    /// <summary>The largest power of two from 16 to <paramref name="block"/> that divides <paramref name="width"/>, or null.</summary>
    private static int? FitBlock(long width, int block)
    {
        for (; block >= 16; block /= 2)
        {
            if (width % block == 0)
            {
                return block;
            }
        }

        return null;
    }

    /// <summary>The settings every reader of a weight gives it; an error when they differ.</summary>
    private static WeightChoice Agree(Value weight, IReadOnlyList<WeightSlot> readers, ResolvedSettings settings, string modelPath)
    {
        WeightChoice Of(Node node) => new(
            settings.Get(QuantizationSettings.Quantize, node),
            settings.Get(QuantizationSettings.QuantizeMode, node),
            settings.Get(QuantizationSettings.WeightThreshold, node),
            settings.Get(QuantizationSettings.DynamicThreshold, node),
            settings.Get(QuantizationSettings.PerChannel, node),
            settings.Get(QuantizationSettings.BlockSize, node),
            settings.Get(QuantizationSettings.Symmetric, node),
            settings.Get(QuantizationSettings.StandardOps, node),
            settings.Get(QuantizationSettings.Algorithm, node));
        WeightChoice first = Of(readers[0].Node);
        foreach (WeightSlot reader in readers.Skip(1))
        {
            WeightChoice other = Of(reader.Node);
            if (other != first)
            {
                throw new CompressionException(DiagnosticCodes.SharedWeightConflict, modelPath,
                    $"The weight '{weight.Name}' is read by {readers[0].Node} and {reader.Node}, whose settings differ: " +
                    $"{first} ({settings.OriginOf(QuantizationSettings.Quantize, readers[0].Node)}) against " +
                    $"{other} ({settings.OriginOf(QuantizationSettings.Quantize, reader.Node)}). " +
                    "One tensor can be stored only one way: give every node that reads it the same settings in the overrides file.");
            }
        }

        return first;
    }

    /// <summary>Lists every float initializer of the model's (of <paramref name="originals"/>) no plan changed, with the reason,
    /// unless a weight slot already listed it.</summary>
    private static void ListFloatTensorsLeftAlone(PassContext context, HashSet<Value> originals, IReadOnlyList<WeightPlan> plans, List<TensorLeftAlone> skipped)
    {
        var listed = new HashSet<string>(skipped.Select(s => s.Name), StringComparer.Ordinal);
        var planned = new HashSet<Value>(plans.Select(p => p.Weight), ReferenceEqualityComparer.Instance);
        foreach (Value value in context.Model.Graphs.SelectMany(g => g.Initializers))
        {
            if (!originals.Contains(value) || planned.Contains(value) || listed.Contains(value.Name) || value.Initializer!.DataType != (int)DataType.Float)
            {
                continue;
            }

            string readers = string.Join("/", value.Uses.Select(u => u.Node.OpType).Distinct().Order(StringComparer.Ordinal));
            long count = TensorShape.ElementCount(value.Initializer.Dims);
            Node? reader = value.Uses.Select(u => u.Node).FirstOrDefault();
            long threshold = reader is null ? context.Settings.Get(QuantizationSettings.WeightThreshold) : context.Settings.Get(QuantizationSettings.WeightThreshold, reader);
            string reason = value.Uses.Count == 0 ? "read by no node"
                : count < threshold ? $"{count} elements, below the weight threshold of {threshold}"
                : $"read by {readers}, which has no quantized form";
            skipped.Add(new TensorLeftAlone(value.Name, readers.Length == 0 ? "-" : readers, reason));
        }
    }

    /// <summary>The names of <paramref name="nodes"/>, each once, in order; unnamed nodes are left out.</summary>
    private static List<string> NodeNames(IEnumerable<Node> nodes) =>
        nodes.Select(n => n.Name).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// Each tensor left alone with its shape and bytes (when it is an initializer) and the names of the nodes that read it,
    /// for the report: the tensors are unchanged, so the model after the pass still holds them.
    /// </summary>
    private static List<TensorLeftAlone> WithSizes(Model model, List<TensorLeftAlone> skipped)
    {
        var values = new Dictionary<string, Value>(StringComparer.Ordinal);
        foreach (Graph graph in model.Graphs)
        {
            foreach (Value value in graph.Initializers)
            {
                values.TryAdd(value.Name, value);
            }

            foreach (Value value in graph.Nodes.SelectMany(n => n.Inputs).OfType<Value>())
            {
                values.TryAdd(value.Name, value);
            }
        }

        return skipped.Select(s =>
        {
            if (!values.TryGetValue(s.Name, out Value? value))
            {
                return s;
            }

            TensorLeftAlone described = s with { Nodes = NodeNames(value.Uses.Select(u => u.Node)) };
            if (value.Initializer is not { } tensor)
            {
                return described;
            }

            long[] dims = [.. tensor.Dims];
            long? bytes = TensorDataTypes.TryGetSizeInBits((DataType)tensor.DataType, out int bits)
                ? (TensorShape.ElementCount(dims) * bits + 7) / 8
                : null;
            return described with { Shape = dims, Bytes = bytes };
        }).ToList();
    }

    private static (SlotKind Kind, int Input)? SlotOf(Node node) => node.OpType switch
    {
        "MatMul" => (SlotKind.MatMul, 1),
        "Gemm" => (SlotKind.Gemm, 1),
        "Conv" => (SlotKind.Conv, 1),
        "Gather" => (SlotKind.Gather, 0),
        _ => null,
    };

    /// <summary>The axis of the output channels in a weight of rank <paramref name="rank"/>, or -1 when the layout does not fit.</summary>
    private static int SlotAxis(Node node, SlotKind kind, int rank) => kind switch
    {
        // [..., K, N]: N output features.
        SlotKind.MatMul => rank >= 2 ? rank - 1 : -1,
        // B is [K, N], or [N, K] with transB.
        SlotKind.Gemm => rank != 2 ? -1 : node.GetInt("transB", 0) != 0 ? 0 : 1,
        // [M, C/group, k1, k2, ...]: M output channels.
        SlotKind.Conv => rank >= 3 ? 0 : -1,
        // [rows, width]: one row per index.
        _ => rank == 2 ? 0 : -1,
    };

    private static bool IsQuantizedOperator(Node node) => node.OpType is "MatMulInteger" or "ConvInteger" or "DequantizeLinear" or "QLinearMatMul" or "QLinearConv"
        || (node.Domain == QuantizedWeightWriter.MicrosoftDomain && node.OpType is "MatMulNBits" or "GatherBlockQuantized" or "DynamicQuantizeMatMul");

    /// <summary>
    /// True for a weight computed from integer constants: DequantizeLinear of an initializer, or the folded form
    /// (Cast of an integer initializer, then Sub of a zero point and Mul by the scales).
    /// </summary>
    private static bool IsQuantized(Value value)
    {
        Node? producer = value.Producer;
        if (producer is { OpType: "DequantizeLinear", IsDefaultDomain: true })
        {
            return producer.Inputs.Count > 0 && producer.Inputs[0] is { IsInitializer: true };
        }

        for (int depth = 0; depth < 3 && producer is { IsDefaultDomain: true, OpType: "Mul" or "Sub" or "Cast" }; depth++)
        {
            if (producer.OpType == "Cast")
            {
                return producer.Inputs.Count > 0 && producer.Inputs[0] is { IsInitializer: true } levels
                    && levels.Initializer!.DataType is (int)DataType.Int8 or (int)DataType.Uint8 or (int)DataType.Int4 or (int)DataType.Uint4;
            }

            producer = producer.Inputs.Count > 0 ? producer.Inputs[0]?.Producer : null;
        }

        return false;
    }

    private static string? CheckWeight(Value weight, long weightThreshold, bool scanValues)
    {
        TensorProto tensor = weight.Initializer!;
        if (tensor.DataType != (int)DataType.Float)
        {
            return $"element type {TensorDataTypes.Describe((DataType)tensor.DataType)}, not float";
        }

        long count = TensorShape.ElementCount(tensor.Dims);
        if (count < weightThreshold)
        {
            return $"{count} elements, below the weight threshold of {weightThreshold}";
        }

        if (count == 0 || tensor.Dims.Any(d => d == 0))
        {
            return "an empty tensor";
        }

        if (!scanValues)
        {
            return null;
        }

        // The largest magnitude is NaN when any value is, infinite when any value is. External data is read and dropped:
        // the weight is read again when it is quantized, so that the model is never in memory whole.
        return weight.ReadInitializer(t => float.IsFinite(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(t.View<float>().Span)))
            ? null
            : "holds NaN or infinite values";
    }
}
