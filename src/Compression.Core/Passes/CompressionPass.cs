using Compression.Core.Evaluation;
using Compression.Core.Ir;
using Compression.Core.Opsets;
using Compression.Core.Settings;

namespace Compression.Core.Passes;

/// <summary>A tensor a pass changed, for the report.</summary>
/// <param name="Name">The tensor's (the value's) name.</param>
/// <param name="Technique">What was done (<c>int8 per channel</c>).</param>
/// <param name="OpTypes">The operators that read it.</param>
/// <param name="Shape">Its dimensions.</param>
/// <param name="BytesBefore">Bytes of its data before.</param>
/// <param name="BytesAfter">Bytes of the data that replaces it.</param>
/// <param name="MaxAbsError">The largest difference between an element and what the changed model computes for it.</param>
/// <param name="Axis">The channel axis the technique works along (one scale per index), or null.</param>
public sealed record TensorChange(string Name, string Technique, IReadOnlyList<string> OpTypes, IReadOnlyList<long> Shape, long BytesBefore, long BytesAfter, double MaxAbsError, int? Axis = null)
{
    /// <summary>
    /// The layer's relative output error on the calibration activations (<c>|X (W - Q)|^2 / |X W|^2</c>), where the pass
    /// measured it (GPTQ), or null.
    /// </summary>
    public double? OutputError { get; init; }

    /// <summary>The same error with plain rounding to the nearest level, for comparison, or null.</summary>
    public double? RoundingOutputError { get; init; }

    /// <summary>The names of the nodes that read it, in the model's order (a node without a name is left out).</summary>
    public IReadOnlyList<string> Nodes { get; init; } = [];

    /// <summary>Its elements: the product of <see cref="Shape"/>.</summary>
    public long Elements => Shape.Aggregate(1L, (product, dim) => product * dim);

    /// <summary>Bits stored per element after the change, scales and zero points included (32 for float before).</summary>
    public double BitsPerWeight => Elements == 0 ? 0 : Math.Round(BytesAfter * 8.0 / Elements, 4);

    /// <summary>The share of its elements that are zero after the change (pruning); 0 while no pass prunes.</summary>
    public double Sparsity { get; init; }
}

/// <summary>A tensor a pass looked at and left alone, with the reason, for the report.</summary>
/// <param name="Name">The tensor's (the value's) name.</param>
/// <param name="OpType">The operator that reads it.</param>
/// <param name="Reason">Why it was left alone.</param>
public sealed record TensorLeftAlone(string Name, string OpType, string Reason)
{
    /// <summary>Its dimensions, when it is an initializer; null for a value computed at run time.</summary>
    public IReadOnlyList<long>? Shape { get; init; }

    /// <summary>Bytes of its data, unchanged, when it is an initializer; null for a value computed at run time.</summary>
    public long? Bytes { get; init; }

    /// <summary>The names of the nodes that read it, in the model's order (a node without a name is left out).</summary>
    public IReadOnlyList<string> Nodes { get; init; } = [];
}

/// <summary>What a pass did: for the report, the signature and the session that runs the result.</summary>
/// <param name="Pass">The pass's name.</param>
public sealed record PassResult(string Pass)
{
    /// <summary>True when the model changed.</summary>
    public bool Modified { get; init; }

    /// <summary>One sentence per technique applied, as the signature and the generated class's docs list them.</summary>
    public IReadOnlyList<string> Techniques { get; init; } = [];

    /// <summary>The tensors changed.</summary>
    public IReadOnlyList<TensorChange> Changed { get; init; } = [];

    /// <summary>The tensors looked at and left alone.</summary>
    public IReadOnlyList<TensorLeftAlone> LeftAlone { get; init; } = [];

    /// <summary>Session configuration entries ONNX Runtime needs to run the result well.</summary>
    public IReadOnlyDictionary<string, string> SessionConfig { get; init; } = new Dictionary<string, string>();

    /// <summary>Advice for people who run the model without the generated class.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Warnings for the user.</summary>
    public IReadOnlyList<CompressionWarning> Warnings { get; init; } = [];
}

/// <summary>What a pass works on: the model's IR, its resolved settings, the results of the passes before it, and data.</summary>
public sealed class PassContext
{
    /// <summary>Creates the context.</summary>
    public PassContext(Model model, ResolvedSettings settings, string modelPath)
    {
        Model = model;
        Settings = settings;
        ModelPath = modelPath;
    }

    /// <summary>The model, edited in place by the passes.</summary>
    public Model Model { get; }

    /// <summary>The model's settings, per node where a setting may vary.</summary>
    public ResolvedSettings Settings { get; }

    /// <summary>The model's path, for messages.</summary>
    public string ModelPath { get; }

    private Lazy<SampleSet?> calibration = new(() => null);

    /// <summary>The calibration samples, when the model has <c>CalibrationData</c>; read when a pass first asks for them.</summary>
    /// <exception cref="CompressionException">The samples do not fit the model (OCB0103).</exception>
    public SampleSet? Calibration => calibration.Value;

    /// <summary>Where passes run the model in ONNX Runtime (calibration): the compression's worker process, or in process.</summary>
    public Runtime.ModelRunner Runner { get; init; } = Runtime.ModelRunner.InProcess;

    /// <summary>How to read the calibration samples (only passes that use them make it run).</summary>
    public Func<SampleSet?> CalibrationSource { init => calibration = new Lazy<SampleSet?>(value); }

    /// <summary>The opset change made as the model was read (a model older than ONNX Runtime runs is raised to its oldest
    /// opset), or null: the output is then not the original byte for byte even when no pass changes anything.</summary>
    public Opsets.OpsetChange? OpsetRaisedAtLoad { get; init; }

    /// <summary>
    /// Distillation's recordings and refits kept from earlier compressions of the same model (the budget search's cells), or
    /// null: each is then done afresh. A kept one is served only where everything it read is the same, so the result is too.
    /// </summary>
    internal Distillation.DistillationCache? DistillationCache { get; init; }

    /// <summary>What the passes before this one did.</summary>
    public IReadOnlyList<PassResult> Earlier { get; internal set; } = [];

    private Compression.Onnx.Protos.ModelProto? original;

    /// <summary>
    /// The model as it was before the first pass changed it: the teacher that distillation refits compressed layers to. The
    /// pipeline takes this copy before the first pass when distillation may run (<see cref="KeepOriginal"/>); otherwise it is
    /// taken when first asked for, so ask before changing the model. The copy shares the weights' bytes with the model as
    /// read (protobuf bytes are immutable), and weights in external data stay references to the original's files.
    /// </summary>
    public Compression.Onnx.Protos.ModelProto Original => original ??= Model.ToProto().Clone();

    /// <summary>Takes the copy of the model <see cref="Original"/> gives, now, if it was not taken yet.</summary>
    public void KeepOriginal() => _ = Original;
}

/// <summary>
/// One compression technique over the IR. A pass reads its options from <see cref="PassContext.Settings"/> (per node
/// where they may vary), edits <see cref="PassContext.Model"/>, and says what it changed. The pipeline raises the model's
/// opset once, to the highest version the passes need, before any of them runs.
/// </summary>
public interface ICompressionPass
{
    /// <summary>The pass's name in the report (<c>int8-weights</c>).</summary>
    string Name { get; }

    /// <summary>The default-domain opset the pass's output needs for this model and settings, or 0 when it adds nothing.</summary>
    long RequiredOpset(PassContext context);

    /// <summary>Applies the technique.</summary>
    /// <exception cref="CompressionException">The settings or the model do not allow it.</exception>
    PassResult Run(PassContext context);
}

/// <summary>What the pipeline did to a model.</summary>
/// <param name="Opset">The opset change made for the passes, if any.</param>
/// <param name="Passes">Each pass's result, in order.</param>
public sealed record PipelineResult(OpsetChange? Opset, IReadOnlyList<PassResult> Passes)
{
    /// <summary>The techniques of every pass, in order.</summary>
    public IReadOnlyList<string> Techniques => Passes.SelectMany(p => p.Techniques).ToList();

    /// <summary>The session entries of every pass; a later pass's value for a key wins.</summary>
    public IReadOnlyDictionary<string, string> SessionConfig
    {
        get
        {
            var merged = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, string> entry in Passes.SelectMany(p => p.SessionConfig))
            {
                merged[entry.Key] = entry.Value;
            }

            return merged;
        }
    }

    /// <summary>The notes of every pass, each once.</summary>
    public IReadOnlyList<string> Notes => Passes.SelectMany(p => p.Notes).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The warnings of every pass.</summary>
    public IReadOnlyList<CompressionWarning> Warnings => Passes.SelectMany(p => p.Warnings).ToList();
}

/// <summary>Runs passes in order over a model: raises the opset once for all of them, then applies each.</summary>
public static class CompressionPipeline
{
    /// <summary>
    /// The passes of a compression, in the order they run: channel pruning, low-rank factorization, pruning (unstructured,
    /// N:M), clustering, weight quantization.
    /// </summary>
    public static IReadOnlyList<ICompressionPass> DefaultPasses { get; } = [new Pruning.ChannelPruningPass(), new LowRank.LowRankPass(), new Pruning.PruningPass(), new Clustering.ClusteringPass(), new Quantization.WeightQuantizationPass()];

    /// <summary>Runs <paramref name="passes"/> (by default <see cref="DefaultPasses"/>) over <paramref name="context"/>'s model.</summary>
    /// <exception cref="CompressionException">The opset cannot be raised (OCB0005), or a pass refused.</exception>
    public static PipelineResult Run(PassContext context, IReadOnlyList<ICompressionPass>? passes = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        passes ??= DefaultPasses;
        long required = passes.Select(p => p.RequiredOpset(context)).DefaultIfEmpty(0).Max();
        OpsetChange? opset = required > 0 ? OpsetUpgradePass.Raise(context.Model, required, context.ModelPath) : null;

        if (Distillation.LayerDistiller.MayRun(context))
        {
            context.KeepOriginal();
        }

        var results = new List<PassResult>();
        foreach (ICompressionPass pass in passes)
        {
            context.Earlier = results.ToList();
            PassResult result = pass.Run(context);
            if (SaysAnything(result))
            {
                // A pass whose settings are off for every node is not listed in the report.
                results.Add(result);
            }
        }

        return new PipelineResult(opset, results);
    }

    private static bool SaysAnything(PassResult result) => result.Modified || result.Techniques.Count > 0 || result.Changed.Count > 0
        || result.LeftAlone.Count > 0 || result.SessionConfig.Count > 0 || result.Notes.Count > 0 || result.Warnings.Count > 0;
}

/// <summary>Raises a model's default opset: the upgrade's per-operator rewrites over the model (see <see cref="OpsetUpgrade"/>).</summary>
public static class OpsetUpgradePass
{
    /// <summary>Raises <paramref name="model"/>'s default opset to <paramref name="target"/> when it is lower.</summary>
    /// <returns>What changed, or null when the model already imports <paramref name="target"/> or newer.</returns>
    /// <exception cref="CompressionException">The model uses operators that cannot be rewritten (OCB0005); the model is unchanged.</exception>
    public static OpsetChange? Raise(Model model, long target, string? modelPath)
    {
        if ((model.Opset ?? target) >= target)
        {
            return null;
        }

        return model.RewriteProto(proto => OpsetUpgrade.Apply(proto, target, modelPath));
    }
}
