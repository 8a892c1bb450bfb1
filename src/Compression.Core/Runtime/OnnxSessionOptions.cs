using Microsoft.ML.OnnxRuntime;

namespace Compression.Core.Runtime;

/// <summary>Settings of an <see cref="OnnxSession"/>.</summary>
public sealed class OnnxSessionOptions
{
    /// <summary>Threads for parallelism inside an operator; 0 lets ONNX Runtime choose (one per physical core).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Threads for running independent operators in parallel; 0 lets ONNX Runtime choose.
    /// Only used when <see cref="ParallelExecution"/> is true.</summary>
    public int InterOpThreads { get; set; }

    /// <summary>Run independent branches of the graph in parallel. Off by default.</summary>
    public bool ParallelExecution { get; set; }

    /// <summary>The graph optimization level; <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/> by default.</summary>
    public GraphOptimizationLevel OptimizationLevel { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>Where ONNX Runtime writes the model as it runs it (after constant folding and fusions), or null: to see
    /// what a session made of a model, such as which constant subgraphs it folded at load.</summary>
    public string? OptimizedModelPath { get; set; }

    /// <summary>Session configuration entries (<c>AddSessionConfigEntry</c>), such as
    /// <c>session.disable_quant_qdq</c> = <c>1</c>, which models compressed with StandardOps record in their signature.</summary>
    public IDictionary<string, string> ConfigEntries { get; } = new SortedDictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Fixed sizes for symbolic dimensions, by name (<c>AddFreeDimensionOverrideByName</c>).</summary>
    public IDictionary<string, long> FreeDimensionOverrides { get; } = new SortedDictionary<string, long>(StringComparer.Ordinal);

    /// <summary>Copies these options.</summary>
    public OnnxSessionOptions Clone()
    {
        var copy = new OnnxSessionOptions
        {
            IntraOpThreads = IntraOpThreads,
            InterOpThreads = InterOpThreads,
            ParallelExecution = ParallelExecution,
            OptimizationLevel = OptimizationLevel,
            OptimizedModelPath = OptimizedModelPath,
        };
        foreach (KeyValuePair<string, string> entry in ConfigEntries)
        {
            copy.ConfigEntries[entry.Key] = entry.Value;
        }

        foreach (KeyValuePair<string, long> entry in FreeDimensionOverrides)
        {
            copy.FreeDimensionOverrides[entry.Key] = entry.Value;
        }

        return copy;
    }
}
