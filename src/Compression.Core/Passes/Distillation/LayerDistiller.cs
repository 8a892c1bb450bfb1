using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Runtime;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Passes.Distillation;

/// <summary>
/// Layer-wise distillation's recorder: runs the original model (the teacher, <see cref="PassContext.Original"/>) and the
/// model as the passes have changed it so far (the student, <see cref="PassContext.Model"/>) side by side over the
/// calibration samples, batch by batch, and sums what least squares needs of a layer's input in both
/// (<see cref="LayerStatistics"/>), so that <see cref="LeastSquares.Refit"/> can fit the compressed layer's free weights to
/// reproduce the original layer's outputs from the inputs the compressed model really gives it. Layers are refit in the
/// model's order, each recorded after the layers before it were compressed and refit, so that each corrects what the
/// earlier ones left.
/// </summary>
public sealed class LayerDistiller
{
    /// <summary>Rows copied out of a batch at a time: the copies, not the samples, bound the memory a recording holds.</summary>
    private const int ChunkRows = 128;

    private readonly PassContext context;

    /// <summary>SHA-256 of the teacher as serialized, once, for the keys of <see cref="PassContext.DistillationCache"/>.</summary>
    private byte[]? teacherHash;

    private LayerDistiller(PassContext context, SampleSet samples)
    {
        this.context = context;
        Samples = samples;
    }

    /// <summary>The calibration samples both models run on.</summary>
    public SampleSet Samples { get; }

    /// <summary>
    /// The distiller of <paramref name="context"/>'s model, or null when the model has no calibration data (distillation then
    /// does nothing). Takes the teacher's copy (<see cref="PassContext.Original"/>) if the pipeline did not: call it before
    /// changing the model.
    /// </summary>
    /// <exception cref="CompressionException">The calibration samples do not fit the model (OCB0103).</exception>
    public static LayerDistiller? Create(PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Calibration is not { } samples)
        {
            return null;
        }

        context.KeepOriginal();
        return new LayerDistiller(context, samples);
    }

    /// <summary>
    /// Whether distillation may run on the model: it has CalibrationData and <c>Distill</c> is on for a node whose weight it
    /// can refit (MatMul, Gemm, Conv). The pipeline then keeps a copy of the original before the first pass.
    /// </summary>
    public static bool MayRun(PassContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Settings.Get(EvaluationSettings.CalibrationData).Length > 0 &&
            context.Model.Graph.Nodes.Any(n => n.IsDefaultDomain && n.OpType is "MatMul" or "Gemm" or "Conv" && context.Settings.Get(DistillationSettings.Distill, n));
    }

    /// <summary>Whether the <c>Distill</c> setting is on for <paramref name="node"/> (the overrides file may turn it off per node).</summary>
    public bool Enabled(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return context.Settings.Get(DistillationSettings.Distill, node);
    }

    /// <summary>
    /// Why <paramref name="node"/>'s input cannot be recorded (for the report), or null when it can: the node must be a
    /// MatMul (2-D weight), Gemm or Conv (group 1, 1 or 2 spatial axes) of the main graph whose data input is a float value
    /// of both the original and the current model. A Conv with <c>group</c> &gt; 1 is recorded per group
    /// (<see cref="RecordGroups"/>).
    /// </summary>
    public string? Unsupported(Node node) => Check(node, -1);

    /// <summary>The groups of a Conv (its <c>group</c> attribute); 1 for any other node.</summary>
    public static int Groups(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return node.OpType == "Conv" && node.IsDefaultDomain ? (int)Math.Clamp(node.GetInt("group", 1), 1, int.MaxValue) : 1;
    }

    /// <summary>Records the statistics of <paramref name="node"/>'s data input (one run of each model over the samples).</summary>
    /// <param name="node">A node <see cref="Unsupported"/> accepts.</param>
    /// <param name="withTeacherGram">Also sum the teacher's Gram (<c>K_t^2</c> doubles), for <see cref="LeastSquares.OutputError"/>.</param>
    /// <exception cref="ArgumentException">The node is one <see cref="Unsupported"/> refuses.</exception>
    /// <exception cref="CompressionException">A model fails on the samples (OCB0101).</exception>
    public LayerStatistics Record(Node node, bool withTeacherGram = false) => RecordMany([node], withTeacherGram)[0];

    /// <summary>
    /// Records the statistics of several nodes' inputs in one run of each model over the samples: for layers whose inputs do
    /// not depend on each other's compression (the layers of one block, before any of them is changed). One
    /// <see cref="LayerStatistics"/> per node, in order; nodes reading the same value share nothing but the run.
    /// </summary>
    /// <exception cref="ArgumentException">A node is one <see cref="Unsupported"/> refuses.</exception>
    /// <exception cref="CompressionException">A model fails on the samples (OCB0101).</exception>
    public IReadOnlyList<LayerStatistics> RecordMany(IReadOnlyList<Node> nodes, bool withTeacherGram = false)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        var requests = new List<(Node Node, LayerRows Rows, int Group)>();
        foreach (Node node in nodes)
        {
            if (Check(node, -1) is { } reason)
            {
                throw new ArgumentException($"Node {node} cannot be distilled: {reason}.", nameof(nodes));
            }

            requests.Add((node, LayerRows.For(node, out _)!, 0));
        }

        return RecordRequests(requests, withTeacherGram);
    }

    /// <summary>
    /// Records a Conv with <c>group</c> &gt; 1 group by group (one run of each model): statistics per group, in order, whose
    /// features are the patches of that group's input channels; group <c>g</c>'s outputs are the output channels
    /// <c>g * M / group</c> to <c>(g + 1) * M / group - 1</c>, whose weights (<c>[M / group, K_g]</c> in the Conv's weight)
    /// are refit with that group's statistics. Any other layer gives one statistics, as <see cref="Record"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The node cannot be recorded (the reason says why).</exception>
    /// <exception cref="CompressionException">A model fails on the samples (OCB0101).</exception>
    public IReadOnlyList<LayerStatistics> RecordGroups(Node node, bool withTeacherGram = false)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (Check(node, 0) is { } reason)
        {
            throw new ArgumentException($"Node {node} cannot be distilled: {reason}.", nameof(node));
        }

        var requests = new List<(Node Node, LayerRows Rows, int Group)>();
        for (int group = 0; group < Groups(node); group++)
        {
            requests.Add((node, LayerRows.For(node, out _, group)!, group));
        }

        return RecordRequests(requests, withTeacherGram);
    }

    private string? Check(Node node, int group)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (LayerRows.For(node, out string reason, group) is null)
        {
            return reason;
        }

        if (node.Graph is null || !ReferenceEquals(node.Graph, context.Model.Graph))
        {
            return "distillation records layers of the main graph, not of a subgraph";
        }

        if (node.Inputs.Count == 0 || node.Inputs[0] is not { } input)
        {
            return "the node has no data input";
        }

        if (input.IsInitializer)
        {
            return "the node's data input is a constant: there is nothing to record";
        }

        if (node.Inputs.Count > 1 && node.Inputs[1]?.Initializer is { } weight && weight.DataType is not
            ((int)TensorProto.Types.DataType.Float or (int)TensorProto.Types.DataType.Float16 or (int)TensorProto.Types.DataType.Double or (int)TensorProto.Types.DataType.Bfloat16))
        {
            return $"the node's weight holds {(TensorProto.Types.DataType)weight.DataType}, not floating-point numbers";
        }

        GraphProto teacher = context.Original.Graph;
        bool inTeacher = teacher.Input.Any(i => i.Name == input.Name) || teacher.Node.Any(n => n.Output.Contains(input.Name));
        return inTeacher ? null : $"the node's input '{input.Name}' is not a value of the original model, to compare with";
    }

    /// <summary>
    /// <see cref="LeastSquares.Refit"/>, or, where the context keeps a <see cref="DistillationCache"/> (the budget search), the
    /// result it gave the same arguments in an earlier compression.
    /// </summary>
    /// <exception cref="ArgumentException">The sizes do not agree with the statistics.</exception>
    public RefitResult Refit(LayerStatistics statistics, ReadOnlySpan<float> teacherWeight, int n, ReadOnlySpan<bool> free = default, bool withBias = false,
        ReadOnlySpan<float> prior = default) =>
        context.DistillationCache is { } cache
            ? cache.Refit(statistics, teacherWeight, n, free, withBias, prior)
            : LeastSquares.Refit(statistics, teacherWeight, n, free, withBias, prior);

    private IReadOnlyList<LayerStatistics> RecordRequests(List<(Node Node, LayerRows Rows, int Group)> requests, bool withTeacherGram)
    {
        ModelProto studentProto = StudentProto();
        if (context.DistillationCache is not { } cache)
        {
            return RecordRequests(requests, withTeacherGram, studentProto);
        }

        // Everything the recording reads: both models as they are now, the nodes and groups, whether the teacher's Gram is summed.
        teacherHash ??= DistillationCache.HashOf(context.Original);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        hash.AppendData(teacherHash);
        hash.AppendData(DistillationCache.HashOf(studentProto));
        foreach ((Node node, _, int group) in requests)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(FormattableString.Invariant(
                $"\n{context.Model.Graph.IndexOf(node)} {group} {node.Name.Length}:{node.Name} {node.Inputs[0]!.Name}")));
        }

        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(withTeacherGram ? "\nteacher gram" : "\n"));
        return cache.Recording(Convert.ToHexString(hash.GetHashAndReset()), Samples, () => RecordRequests(requests, withTeacherGram, studentProto));
    }

    private IReadOnlyList<LayerStatistics> RecordRequests(List<(Node Node, LayerRows Rows, int Group)> requests, bool withTeacherGram, ModelProto studentProto)
    {
        string[] values = requests.Select(r => r.Node.Inputs[0]!.Name).Distinct(StringComparer.Ordinal).ToArray();
        var statistics = new LayerStatistics?[requests.Count];
        using ActivationSession teacher = ActivationRecorder.Open(context.Original, values, Samples.Source, context.ModelPath, context.Runner);
        using ActivationSession student = ActivationRecorder.Open(studentProto, values, Samples.Source, context.ModelPath, context.Runner);
        foreach (SampleBatch batch in Samples.Batches)
        {
            OnnxTensor[] teacherValues = teacher.Run(batch);
            OnnxTensor[] studentValues = student.Run(batch);
            for (int i = 0; i < requests.Count; i++)
            {
                int index = Array.IndexOf(values, requests[i].Node.Inputs[0]!.Name);
                statistics[i] = Accumulate(statistics[i], requests[i].Node, requests[i].Rows, requests[i].Group, studentValues[index], teacherValues[index], withTeacherGram);
            }
        }

        var result = new LayerStatistics[requests.Count];
        for (int i = 0; i < requests.Count; i++)
        {
            result[i] = statistics[i] ?? throw new InvalidOperationException("There are no calibration samples to record.");
            result[i].Complete();
        }

        return result;
    }

    /// <summary>
    /// The current model's messages, to run: tensors the passes already moved to the compressed model's data file (a model
    /// with external data) are read back into memory first, since that file is not beside the original; they go to the file
    /// again when the model is written.
    /// </summary>
    private ModelProto StudentProto()
    {
        ModelProto proto = context.Model.ToProto();
        if (context.Model.DataFile is { } dataFile)
        {
            foreach (TensorProto tensor in ModelTensors.Enumerate(proto))
            {
                if (dataFile.Holds(tensor))
                {
                    dataFile.ReadBack(tensor);
                }
            }
        }

        return proto;
    }

    /// <summary>A recorded value's elements as float: float as it is; double, float16 and bfloat16 widened or narrowed.</summary>
    private static ReadOnlySpan<float> Floats(OnnxTensor value, string name)
    {
        switch (value)
        {
            case OnnxTensor<float> floats:
                return floats.Span;
            case OnnxTensor<double> doubles:
            {
                var result = new float[doubles.Span.Length];
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = (float)doubles.Span[i];
                }

                return result;
            }

            case OnnxTensor<Half> halves:
            {
                var result = new float[halves.Span.Length];
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(halves.Span, result);
                return result;
            }

            case OnnxTensor<ushort> bits when value.ElementType == TensorElementType.Float16:
            {
                var result = new float[bits.Span.Length];
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, Half>(bits.Span), result);
                return result;
            }

            case OnnxTensor<ushort> bits when value.ElementType == TensorElementType.BFloat16:
            {
                var result = new float[bits.Span.Length];
                for (int i = 0; i < result.Length; i++)
                {
                    result[i] = BitConverter.Int32BitsToSingle(bits.Span[i] << 16);
                }

                return result;
            }

            default:
                return ActivationRecorder.Floats(value, name);
        }
    }

    private static LayerStatistics Accumulate(LayerStatistics? statistics, Node node, LayerRows layout, int group, OnnxTensor studentValue, OnnxTensor teacherValue, bool withTeacherGram)
    {
        string name = node.Inputs[0]!.Name;
        ReadOnlySpan<float> studentFloats = Floats(studentValue, name);
        ReadOnlySpan<float> teacherFloats = Floats(teacherValue, name);
        ReadOnlySpan<long> studentShape = studentValue.Shape, teacherShape = teacherValue.Shape;
        int ks = layout.Features(studentShape), kt = layout.Features(teacherShape);
        long rows = layout.Rows(studentShape);
        if (layout.Rows(teacherShape) != rows)
        {
            throw new InvalidOperationException(
                $"The input '{name}' of {node} has {rows} rows in the compressed model and {layout.Rows(teacherShape)} in the original: " +
                "distillation pairs them row by row.");
        }

        statistics ??= new LayerStatistics(node.Name, name, ks, kt, withTeacherGram) { Group = group };
        if (statistics.StudentFeatures != ks || statistics.TeacherFeatures != kt)
        {
            throw new InvalidOperationException($"The input '{name}' of {node} changed its features between batches.");
        }

        var studentRows = new double[ChunkRows * ks];
        var teacherRows = new double[ChunkRows * kt];
        for (long first = 0; first < rows; first += ChunkRows)
        {
            int count = (int)Math.Min(ChunkRows, rows - first);
            layout.Fill(studentFloats, studentShape, first, count, studentRows);
            layout.Fill(teacherFloats, teacherShape, first, count, teacherRows);
            statistics.Add(studentRows, teacherRows, count);
        }

        return statistics;
    }
}
