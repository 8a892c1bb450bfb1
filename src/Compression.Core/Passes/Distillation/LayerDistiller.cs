using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Runtime;
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
    private const int ChunkRows = 64;

    private readonly PassContext context;

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
    /// of both the original and the current model.
    /// </summary>
    public string? Unsupported(Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (LayerRows.For(node, out string reason) is null)
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

        GraphProto teacher = context.Original.Graph;
        bool inTeacher = teacher.Input.Any(i => i.Name == input.Name) || teacher.Node.Any(n => n.Output.Contains(input.Name));
        return inTeacher ? null : $"the node's input '{input.Name}' is not a value of the original model, to compare with";
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
        var layouts = new LayerRows[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            if (Unsupported(nodes[i]) is { } reason)
            {
                throw new ArgumentException($"Node {nodes[i]} cannot be distilled: {reason}.", nameof(nodes));
            }

            layouts[i] = LayerRows.For(nodes[i], out _)!;
        }

        string[] values = nodes.Select(n => n.Inputs[0]!.Name).Distinct(StringComparer.Ordinal).ToArray();
        var statistics = new LayerStatistics?[nodes.Count];
        using ActivationSession teacher = ActivationRecorder.Open(context.Original, values, Samples.Source, context.ModelPath, context.Runner);
        using ActivationSession student = ActivationRecorder.Open(context.Model.ToProto(), values, Samples.Source, context.ModelPath, context.Runner);
        foreach (SampleBatch batch in Samples.Batches)
        {
            OnnxTensor[] teacherValues = teacher.Run(batch);
            OnnxTensor[] studentValues = student.Run(batch);
            for (int i = 0; i < nodes.Count; i++)
            {
                int index = Array.IndexOf(values, nodes[i].Inputs[0]!.Name);
                statistics[i] = Accumulate(statistics[i], nodes[i], layouts[i], studentValues[index], teacherValues[index], withTeacherGram);
            }
        }

        var result = new LayerStatistics[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            result[i] = statistics[i] ?? throw new InvalidOperationException("There are no calibration samples to record.");
            result[i].Complete();
        }

        return result;
    }

    private static LayerStatistics Accumulate(LayerStatistics? statistics, Node node, LayerRows layout, OnnxTensor studentValue, OnnxTensor teacherValue, bool withTeacherGram)
    {
        string name = node.Inputs[0]!.Name;
        ReadOnlySpan<float> studentFloats = ActivationRecorder.Floats(studentValue, name);
        ReadOnlySpan<float> teacherFloats = ActivationRecorder.Floats(teacherValue, name);
        ReadOnlySpan<long> studentShape = studentValue.Shape, teacherShape = teacherValue.Shape;
        int ks = layout.Features(studentShape), kt = layout.Features(teacherShape);
        long rows = layout.Rows(studentShape);
        if (layout.Rows(teacherShape) != rows)
        {
            throw new InvalidOperationException(
                $"The input '{name}' of {node} has {rows} rows in the compressed model and {layout.Rows(teacherShape)} in the original: " +
                "distillation pairs them row by row.");
        }

        statistics ??= new LayerStatistics(node.Name, name, ks, kt, withTeacherGram);
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
