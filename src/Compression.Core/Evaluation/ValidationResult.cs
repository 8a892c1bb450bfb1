namespace Compression.Core.Evaluation;

/// <summary>An input the validation fed to both models.</summary>
/// <param name="Name">The input's name.</param>
/// <param name="ElementType">Its element type.</param>
/// <param name="Shape">The shape used (symbolic dimensions resolved).</param>
/// <param name="Origin"><c>synthesized</c>, or the file it was read from.</param>
public sealed record ValidationInput(string Name, string ElementType, IReadOnlyList<long> Shape, string Origin);

/// <summary>How far one output of the compressed model moved from the original's, over all samples.</summary>
/// <param name="Name">The output's name.</param>
/// <param name="ElementType">Its element type.</param>
/// <param name="Shape">Its shape in the first sample.</param>
/// <param name="Elements">Elements compared, over all samples.</param>
/// <param name="MaxAbsError">The largest absolute difference.</param>
/// <param name="MeanAbsError">The mean absolute difference.</param>
/// <param name="CosineSimilarity">The lowest cosine similarity of a sample's outputs (1 = same direction);
/// null for non-numeric outputs.</param>
/// <param name="Mismatches">Elements that differ at all (the measure for integer, bool and string outputs).</param>
/// <param name="Top1Agreement">For float outputs whose last axis holds at least two scores: the share of rows whose highest
/// score is at the same index in both models; null otherwise.</param>
public sealed record OutputComparison(
    string Name,
    string ElementType,
    IReadOnlyList<long> Shape,
    long Elements,
    double MaxAbsError,
    double MeanAbsError,
    double? CosineSimilarity,
    long Mismatches,
    double? Top1Agreement = null)
{
    /// <summary>
    /// The squared differences over the squared original values, summed over every element (the error's energy against the
    /// signal's; 0 when equal, NaN differences left out): the smooth measure the budget search adds up over layers. Not in the
    /// report.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double RelativeSquaredError { get; init; }
}

/// <summary>Accuracy on labelled samples, of the original and the compressed model.</summary>
/// <param name="Output">The output read as class scores (its highest score is the prediction).</param>
/// <param name="Labels">Where the labels came from (<c>labels.npy</c>, or the expected outputs' highest scores).</param>
/// <param name="Samples">How many labelled samples.</param>
/// <param name="Original">The original model's accuracy, in percent.</param>
/// <param name="Compressed">The compressed model's accuracy, in percent.</param>
public sealed record AccuracyResult(string Output, string Labels, long Samples, double Original, double Compressed)
{
    /// <summary>The drop in percentage points (negative when the compressed model is more accurate).</summary>
    public double Drop => Math.Round(Original - Compressed, 6);
}

/// <summary>One gate and how the compressed model measured against it.</summary>
/// <param name="Gate">The setting (<c>MinCosineSimilarity</c>).</param>
/// <param name="Limit">The limit set.</param>
/// <param name="Measured">The figure measured.</param>
/// <param name="Passed">True when the measured figure is within the limit.</param>
public sealed record GateCheck(string Gate, double Limit, double Measured, bool Passed);

/// <summary>The outcome of running the original and the compressed model on the same inputs.</summary>
/// <param name="OnnxRuntimeVersion">The ONNX Runtime that ran both.</param>
/// <param name="Samples">How many input sets ran.</param>
/// <param name="Inputs">The inputs of the first set.</param>
/// <param name="Outputs">One comparison per output, in the model's order.</param>
/// <param name="Reference">What the compressed model was compared with: <c>original</c>, or, for a model older than
/// ONNX Runtime runs, <c>original raised to opset N</c> (the same graph, unquantized).</param>
/// <param name="Source"><c>synthesized</c>, or the folder of the samples.</param>
/// <param name="Accuracy">Accuracy on labelled samples, when they carry labels.</param>
public sealed record ValidationResult(
    string OnnxRuntimeVersion,
    int Samples,
    IReadOnlyList<ValidationInput> Inputs,
    IReadOnlyList<OutputComparison> Outputs,
    string Reference,
    string Source = "synthesized",
    AccuracyResult? Accuracy = null)
{
    /// <summary>The gates checked, when any were set.</summary>
    public IReadOnlyList<GateCheck> Gates { get; init; } = [];
}
