namespace Compression.Core.Validation;

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
public sealed record OutputComparison(
    string Name,
    string ElementType,
    IReadOnlyList<long> Shape,
    long Elements,
    double MaxAbsError,
    double MeanAbsError,
    double? CosineSimilarity,
    long Mismatches);

/// <summary>The outcome of running the original and the compressed model on the same inputs.</summary>
/// <param name="OnnxRuntimeVersion">The ONNX Runtime that ran both.</param>
/// <param name="Samples">How many input sets ran.</param>
/// <param name="Inputs">The inputs of the first set.</param>
/// <param name="Outputs">One comparison per output, in the model's order.</param>
/// <param name="Reference">What the compressed model was compared with: <c>original</c>, or, for a model older than
/// ONNX Runtime runs, <c>original raised to opset N</c> (the same graph, unquantized).</param>
public sealed record ValidationResult(
    string OnnxRuntimeVersion,
    int Samples,
    IReadOnlyList<ValidationInput> Inputs,
    IReadOnlyList<OutputComparison> Outputs,
    string Reference);
