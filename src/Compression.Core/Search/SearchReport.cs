using Compression.Core.Evaluation;

namespace Compression.Core.Search;

/// <summary>What the budget search did, for the report: the budget, the sensitivity table, the trials and the choice.</summary>
/// <param name="Goal"><c>size</c> or <c>latency</c>.</param>
/// <param name="Techniques">The techniques it could use.</param>
/// <param name="Budget">The gates the choice had to pass, with where each limit came from.</param>
/// <param name="TimeLimitSeconds">SearchTimeLimit.</param>
/// <param name="Candidates">The candidates tried on each layer, as the table names them.</param>
/// <param name="Layers">Each layer the search chose for, with its row of the sensitivity table.</param>
/// <param name="Trials">The whole-model choices it verified, in the order it verified them.</param>
/// <param name="Chosen">The index in <paramref name="Trials"/> of the choice kept, or -1 when it kept every layer as it was.</param>
/// <param name="Overrides">The choice as an overrides file (JSON), to pin it.</param>
public sealed record SearchReport(
    string Goal,
    IReadOnlyList<string> Techniques,
    IReadOnlyList<SearchBudget> Budget,
    long TimeLimitSeconds,
    IReadOnlyList<string> Candidates,
    IReadOnlyList<SearchLayerReport> Layers,
    IReadOnlyList<SearchTrial> Trials,
    int Chosen,
    string Overrides)
{
    /// <summary>True when the search stopped at SearchTimeLimit (warning OCB0205).</summary>
    public bool TimeLimitReached { get; init; }

    /// <summary>
    /// The floor: the model with every searched layer left alone (the others as their settings say), which each cell's
    /// bytes and damage are counted against; its run time is the baseline of <c>Goal=latency</c>.
    /// </summary>
    public SearchTrial? Floor { get; init; }

    /// <summary>The smallest (fastest) uniform choice that passed, as a trial index, or -1: one candidate on every layer.</summary>
    public int BestUniform { get; init; } = -1;
}

/// <summary>One gate of the budget.</summary>
/// <param name="Gate">The setting (<c>MaxAccuracyDrop</c>).</param>
/// <param name="Limit">Its limit.</param>
/// <param name="Source">Where the limit came from (a property, metadata, or the search's default).</param>
public sealed record SearchBudget(string Gate, double Limit, string Source);

/// <summary>One layer and its row of the sensitivity table.</summary>
/// <param name="Node">The node.</param>
/// <param name="OpType">Its operator.</param>
/// <param name="Weight">Its weight.</param>
/// <param name="Shape">The weight's dimensions.</param>
/// <param name="Chosen">The candidate chosen (<c>none</c>: left alone).</param>
/// <param name="Candidates">Each candidate, scored with only this layer compressed.</param>
public sealed record SearchLayerReport(string Node, string OpType, string Weight, IReadOnlyList<long> Shape, string Chosen, IReadOnlyList<SensitivityEntry> Candidates);

/// <summary>One cell of the sensitivity table: a layer compressed alone with one candidate, and scored.</summary>
/// <param name="Candidate">The candidate.</param>
/// <param name="BytesBefore">Bytes of the original tensors the candidate replaced (the weight, and a bias it refit).</param>
/// <param name="BytesAfter">Bytes of the tensors that replaced them.</param>
/// <param name="ZippedBefore">The same, deflated as a zip stores them.</param>
/// <param name="ZippedAfter">The same, deflated.</param>
/// <param name="Damage">The outputs' relative squared error (mean over outputs): the measure the table adds up over layers.</param>
/// <param name="PassedAlone">True when the model with only this layer compressed passes the budget; a candidate that does not is not chosen.</param>
public sealed record SensitivityEntry(string Candidate, long BytesBefore, long BytesAfter, long ZippedBefore, long ZippedAfter, double Damage, bool PassedAlone)
{
    /// <summary>The gates measured with only this layer compressed.</summary>
    public IReadOnlyList<GateCheck> Gates { get; init; } = [];

    /// <summary>The model's run time with only this layer compressed, in milliseconds (Goal=latency), or null.</summary>
    public double? LatencyMs { get; init; }

    /// <summary>Why the candidate could not be applied to the layer, or null.</summary>
    public string? Failed { get; init; }
}

/// <summary>One whole-model choice the search compressed and validated.</summary>
/// <param name="Kind"><c>path</c> (a step of the per-layer choice) or <c>uniform</c> (one candidate on every layer).</param>
/// <param name="Label">What it is (<c>step 12 of 40</c>, <c>uniform int8</c>).</param>
/// <param name="PredictedDamage">The damage the table predicted (the layers' damages added up).</param>
/// <param name="PredictedCost">The saving (negative) the table predicted, in deployed bytes or milliseconds.</param>
/// <param name="Bytes">The compressed model's bytes.</param>
/// <param name="ZippedBytes">Its deployed (zipped) bytes.</param>
/// <param name="Gates">The budget's gates, measured.</param>
/// <param name="Passed">True when every gate passed.</param>
public sealed record SearchTrial(string Kind, string Label, double PredictedDamage, double PredictedCost, long Bytes, long ZippedBytes, IReadOnlyList<GateCheck> Gates, bool Passed)
{
    /// <summary>Each layer's candidate, by node.</summary>
    public IReadOnlyDictionary<string, string> Choice { get; init; } = new Dictionary<string, string>();

    /// <summary>The model's run time in milliseconds (Goal=latency), or null.</summary>
    public double? LatencyMs { get; init; }

    /// <summary>The outputs' relative squared error, measured (mean over outputs).</summary>
    public double Damage { get; init; }

    /// <summary>Why the choice could not be compressed or run (it counts as not passing), or null.</summary>
    public string? Failed { get; init; }
}
