using System.Globalization;
using System.Text.Json;
using Compression.Core.Search;

namespace Compression.Core.Reporting;

/// <summary>One tensor a compression looked at, as the HTML report shows it.</summary>
/// <param name="Name">The tensor's name (taken from the model: hostile input).</param>
/// <param name="OpTypes">The operators that read it.</param>
/// <param name="Nodes">The names of the nodes that read it.</param>
/// <param name="Shape">Its dimensions, or null when the report does not say (a value computed at run time).</param>
/// <param name="BytesBefore">Bytes of its data before, or null when it has none (a value computed at run time).</param>
/// <param name="BytesAfter">Bytes of its data after (the same as before when it was left alone).</param>
/// <param name="Changed">True when a pass changed it.</param>
/// <param name="Technique">What was done, or why it was left alone.</param>
/// <param name="Sparsity">The share of its elements that are zero after the change.</param>
/// <param name="MaxAbsError">The largest difference between an element and what the changed model computes for it.</param>
/// <param name="OutputError">The layer's relative output error, where a pass measured it.</param>
public sealed record TensorView(
    string Name,
    string OpTypes,
    IReadOnlyList<string> Nodes,
    IReadOnlyList<long>? Shape,
    long? BytesBefore,
    long? BytesAfter,
    bool Changed,
    string Technique,
    double Sparsity,
    double? MaxAbsError,
    double? OutputError)
{
    /// <summary>Its elements, or null when its shape is unknown.</summary>
    public long? Elements => Shape?.Aggregate(1L, (product, dim) => product * dim);

    /// <summary>Bits stored per element before, or null when unknown.</summary>
    public double? BitsBefore => Bits(BytesBefore);

    /// <summary>Bits stored per element after, or null when unknown.</summary>
    public double? BitsAfter => Bits(BytesAfter);

    private double? Bits(long? bytes) => bytes is { } b && Elements is > 0 and { } n ? b * 8.0 / n : null;
}

/// <summary>One output's comparison with the original.</summary>
/// <param name="Name">The output's name.</param>
/// <param name="MaxAbsError">The largest absolute difference.</param>
/// <param name="MeanAbsError">The mean absolute difference.</param>
/// <param name="CosineSimilarity">The lowest cosine similarity, for numeric outputs.</param>
/// <param name="Top1Agreement">The share of rows whose highest score agrees, where it applies.</param>
/// <param name="Mismatches">Elements that differ at all.</param>
/// <param name="Elements">Elements compared.</param>
public sealed record OutputView(string Name, double? MaxAbsError, double? MeanAbsError, double? CosineSimilarity, double? Top1Agreement, long? Mismatches, long? Elements);

/// <summary>A gate and how the compressed model measured against it.</summary>
/// <param name="Gate">The setting.</param>
/// <param name="Limit">The limit set.</param>
/// <param name="Measured">The figure measured.</param>
/// <param name="Passed">Whether it was met.</param>
public sealed record GateView(string Gate, double? Limit, double? Measured, bool Passed);

/// <summary>The validation of one compressed model.</summary>
/// <param name="OnnxRuntimeVersion">The ONNX Runtime that ran both models.</param>
/// <param name="Samples">How many input sets ran.</param>
/// <param name="Source"><c>synthesized</c>, or the folder of the samples.</param>
/// <param name="Reference">What the compressed model was compared with.</param>
/// <param name="Outputs">One comparison per output.</param>
/// <param name="Accuracy">Accuracy before and after, in percent, when the samples carry labels.</param>
/// <param name="Gates">The gates checked.</param>
public sealed record ValidationView(
    string OnnxRuntimeVersion,
    long Samples,
    string Source,
    string Reference,
    IReadOnlyList<OutputView> Outputs,
    (double Original, double Compressed, long Samples)? Accuracy,
    IReadOnlyList<GateView> Gates);

/// <summary>One gate of the search's budget.</summary>
/// <param name="Gate">The setting (<c>MaxAccuracyDrop</c>).</param>
/// <param name="Limit">Its limit.</param>
/// <param name="Source">Where the limit came from.</param>
public sealed record SearchBudgetView(string Gate, double Limit, string Source);

/// <summary>One cell of the search's sensitivity table: a layer compressed alone with one candidate.</summary>
/// <param name="Candidate">The candidate.</param>
/// <param name="ZippedBefore">Deployed bytes of the tensors it replaced.</param>
/// <param name="ZippedAfter">Deployed bytes of the tensors that replaced them.</param>
/// <param name="Damage">The outputs' relative squared error with only this layer compressed (above the floor's).</param>
/// <param name="PassedAlone">Whether the model with only this layer compressed passed the budget.</param>
/// <param name="LatencyMs">The model's run time with only this layer compressed (Goal=latency), or null.</param>
/// <param name="Failed">Why the candidate could not be applied, or null.</param>
public sealed record SearchCellView(string Candidate, long ZippedBefore, long ZippedAfter, double Damage, bool PassedAlone, double? LatencyMs, string? Failed)
{
    /// <summary>Deployed bytes saved (positive when smaller).</summary>
    public long ZippedSaved => ZippedBefore - ZippedAfter;
}

/// <summary>One layer the search chose for.</summary>
/// <param name="Node">The node (taken from the model: hostile input).</param>
/// <param name="OpType">Its operator.</param>
/// <param name="Shape">Its weight's dimensions, or null.</param>
/// <param name="Chosen">The candidate chosen (<c>none</c>: left alone).</param>
/// <param name="Cells">Its row of the sensitivity table.</param>
public sealed record SearchLayerView(string Node, string OpType, IReadOnlyList<long>? Shape, string Chosen, IReadOnlyList<SearchCellView> Cells);

/// <summary>One whole-model choice the search verified.</summary>
/// <param name="Kind"><c>path</c> or <c>uniform</c>.</param>
/// <param name="Label">What it is (<c>step 4 of 17</c>, <c>uniform int8</c>).</param>
/// <param name="PredictedDamage">The damage the sensitivity table predicted.</param>
/// <param name="Damage">The damage measured, or null.</param>
/// <param name="Bytes">The compressed model's bytes.</param>
/// <param name="ZippedBytes">Its deployed (zipped) bytes.</param>
/// <param name="LatencyMs">Its run time (Goal=latency), or null.</param>
/// <param name="Gates">The budget's gates, measured.</param>
/// <param name="Passed">Whether every gate passed.</param>
public sealed record SearchTrialView(string Kind, string Label, double? PredictedDamage, double? Damage, long Bytes, long ZippedBytes, double? LatencyMs, IReadOnlyList<GateView> Gates, bool Passed);

/// <summary>What the budget search (<c>Compress=auto</c>) did, as the HTML report shows it.</summary>
/// <param name="Goal"><c>size</c> or <c>latency</c>.</param>
/// <param name="Techniques">The techniques it could use.</param>
/// <param name="Budget">The gates it kept to.</param>
/// <param name="TimeLimitSeconds">SearchTimeLimit.</param>
/// <param name="Candidates">Every candidate, in the table's order.</param>
/// <param name="Layers">The layers, each with its row of the table.</param>
/// <param name="Trials">The choices verified, in order.</param>
/// <param name="Chosen">The index of the trial kept, or -1 (every layer left as it was).</param>
/// <param name="BestUniform">The index of the best uniform trial that passed, or -1.</param>
/// <param name="TimeLimitReached">Whether it stopped at the time limit.</param>
/// <param name="Floor">The model with every searched layer left alone, or null (a report from before it was recorded).</param>
public sealed record SearchView(
    string Goal,
    IReadOnlyList<string> Techniques,
    IReadOnlyList<SearchBudgetView> Budget,
    long? TimeLimitSeconds,
    IReadOnlyList<string> Candidates,
    IReadOnlyList<SearchLayerView> Layers,
    IReadOnlyList<SearchTrialView> Trials,
    int Chosen,
    int BestUniform,
    bool TimeLimitReached,
    SearchTrialView? Floor)
{
    /// <summary>True when the search minimized run time rather than deployed size.</summary>
    public bool IsLatency => Goal == SearchSettings.Latency;
}

/// <summary>
/// What the HTML report shows of one model's JSON report (<see cref="CompressionReport"/>), read leniently: the fields the
/// report must have (<c>source</c>, <c>size</c>, <c>passes</c>) are checked, the others are shown when present, so that a
/// report written by an older compressor still reads.
/// </summary>
/// <param name="ReportPath">The JSON file it was read from.</param>
/// <param name="Source">The original model as the build names it.</param>
/// <param name="Output">The compressed model's file name.</param>
/// <param name="Tool">The compressor and its version.</param>
/// <param name="OriginalBytes">Bytes of the original model.</param>
/// <param name="CompressedBytes">Bytes of the compressed model.</param>
/// <param name="Techniques">One sentence per technique applied.</param>
/// <param name="Opset">The opset change, as text, or null.</param>
/// <param name="Tensors">Every tensor the passes looked at: changed, then left alone.</param>
/// <param name="Validation">The validation, when it ran.</param>
/// <param name="Notes">Advice for people who run the model without the generated class.</param>
/// <param name="Warnings">Warnings, as <c>CODE: message</c>.</param>
/// <param name="Settings">Every setting's value and where it came from.</param>
/// <param name="SessionConfig">Session entries the compressed model needs.</param>
/// <param name="Timing">How long it took, when the report says.</param>
public sealed record ReportView(
    string ReportPath,
    string Source,
    string Output,
    string Tool,
    long OriginalBytes,
    long CompressedBytes,
    IReadOnlyList<string> Techniques,
    string? Opset,
    IReadOnlyList<TensorView> Tensors,
    ValidationView? Validation,
    IReadOnlyList<string> Notes,
    IReadOnlyList<string> Warnings,
    IReadOnlyList<(string Name, string Value, string Source)> Settings,
    IReadOnlyList<(string Key, string Value)> SessionConfig,
    ReportTiming? Timing)
{
    /// <summary>Compressed size over original size.</summary>
    public double Ratio => OriginalBytes == 0 ? 1 : (double)CompressedBytes / OriginalBytes;

    /// <summary>The original's deployed (zipped) size, when the report gives it.</summary>
    public long? ZippedOriginalBytes { get; init; }

    /// <summary>The compressed model's deployed (zipped) size, when the report gives it.</summary>
    public long? ZippedCompressedBytes { get; init; }

    /// <summary>What the budget search did, when the report has one (<c>Compress=auto</c>).</summary>
    public SearchView? Search { get; init; }

    /// <summary>Reads the JSON report at <paramref name="path"/>.</summary>
    /// <exception cref="CompressionException">The file cannot be read, is not JSON, or is not a compression report (OCB0010).</exception>
    public static ReportView Read(string path)
    {
        string fullPath = Path.GetFullPath(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Invalid(fullPath, $"it cannot be read ({e.Message})", e);
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = false, MaxDepth = 64 });
            return FromJson(fullPath, document.RootElement);
        }
        catch (JsonException e)
        {
            throw Invalid(fullPath, $"it is not valid JSON ({e.Message})", e);
        }
    }

    private static ReportView FromJson(string path, JsonElement root)
    {
        var reader = new FieldReader(path);
        reader.Expect(root, JsonValueKind.Object, "the report");
        JsonElement size = reader.Required(root, "size", JsonValueKind.Object);
        JsonElement passes = reader.Required(root, "passes", JsonValueKind.Array);
        var techniques = new List<string>();
        var changed = new List<TensorView>();
        var leftAlone = new List<TensorView>();
        foreach (JsonElement pass in passes.EnumerateArray())
        {
            reader.Expect(pass, JsonValueKind.Object, "an entry of 'passes'");
            techniques.AddRange(reader.Strings(pass, "techniques"));
            foreach (JsonElement tensor in reader.Array(pass, "changed"))
            {
                reader.Expect(tensor, JsonValueKind.Object, "an entry of 'changed'");
                changed.Add(new TensorView(
                    reader.RequiredString(tensor, "name"),
                    string.Join("/", reader.Strings(tensor, "opTypes")),
                    reader.Strings(tensor, "nodes"),
                    reader.Longs(tensor, "shape"),
                    reader.RequiredLong(tensor, "bytesBefore"),
                    reader.RequiredLong(tensor, "bytesAfter"),
                    Changed: true,
                    reader.String(tensor, "technique") ?? string.Empty,
                    reader.Double(tensor, "sparsity") ?? 0,
                    reader.Double(tensor, "maxAbsError"),
                    reader.Double(tensor, "outputError")));
            }

            foreach (JsonElement tensor in reader.Array(pass, "leftAlone"))
            {
                reader.Expect(tensor, JsonValueKind.Object, "an entry of 'leftAlone'");
                long? bytes = reader.Long(tensor, "bytes");
                leftAlone.Add(new TensorView(
                    reader.RequiredString(tensor, "name"),
                    reader.String(tensor, "opType") ?? string.Empty,
                    reader.Strings(tensor, "nodes"),
                    reader.Longs(tensor, "shape"),
                    bytes,
                    bytes,
                    Changed: false,
                    reader.String(tensor, "reason") ?? string.Empty,
                    0,
                    null,
                    null));
            }
        }

        string? opset = null;
        if (reader.Object(root, "opset") is { } change)
        {
            opset = string.Create(CultureInfo.InvariantCulture,
                $"raised from {reader.Long(change, "from")} to {reader.Long(change, "to")} ({reader.Long(change, "convertedNodes") ?? 0} nodes converted)");
        }

        ReportTiming? timing = null;
        if (reader.Object(root, CompressionReport.TimingProperty) is { } time)
        {
            timing = new ReportTiming(
                reader.Long(time, "durationMilliseconds") ?? 0,
                reader.Array(time, "phases").Select(p => new PhaseTiming(reader.String(p, "name") ?? "?", reader.Long(p, "durationMilliseconds") ?? 0)).ToList());
        }

        var settings = reader.Array(root, "settings")
            .Select(s => (reader.String(s, "name") ?? string.Empty, reader.String(s, "value") ?? string.Empty, reader.String(s, "source") ?? string.Empty))
            .ToList();
        var session = new List<(string, string)>();
        if (reader.Object(root, "sessionConfig") is { } entries)
        {
            session.AddRange(entries.EnumerateObject().Select(e => (e.Name, e.Value.ValueKind == JsonValueKind.String ? e.Value.GetString()! : e.Value.GetRawText())));
        }

        return new ReportView(
            path,
            reader.RequiredString(root, "source"),
            reader.String(root, "output") ?? string.Empty,
            reader.String(root, "tool") ?? string.Empty,
            reader.RequiredLong(size, "original"),
            reader.RequiredLong(size, "compressed"),
            techniques,
            opset,
            [.. changed, .. leftAlone],
            reader.Object(root, "validation") is { } validation ? ReadValidation(reader, validation) : null,
            reader.Strings(root, "notes"),
            reader.Strings(root, "warnings"),
            settings,
            session,
            timing)
        {
            ZippedOriginalBytes = reader.Long(size, "zippedOriginal"),
            ZippedCompressedBytes = reader.Long(size, "zippedCompressed"),
            Search = reader.Object(root, "search") is { } search ? ReadSearch(reader, search) : null,
        };
    }

    private static SearchView ReadSearch(FieldReader reader, JsonElement search)
    {
        IReadOnlyList<GateView> Gates(JsonElement parent) => reader.Array(parent, "gates").Select(g => new GateView(
            reader.String(g, "gate") ?? string.Empty,
            reader.Double(g, "limit"),
            reader.Double(g, "measured"),
            reader.Bool(g, "passed") ?? false)).ToList();

        int trialCount = reader.Array(search, "trials").Count();
        int Index(string name)
        {
            long index = reader.Long(search, name) ?? -1;
            return index >= -1 && index < trialCount ? (int)index : throw Invalid(reader.Path, $"'{name}' is {index}, expected -1 or the index of one of the {trialCount} trials");
        }

        return new SearchView(
            reader.String(search, "goal") ?? SearchSettings.Size,
            reader.Strings(search, "techniques"),
            reader.Array(search, "budget").Select(b => new SearchBudgetView(reader.String(b, "gate") ?? string.Empty, reader.Double(b, "limit") ?? double.NaN, reader.String(b, "source") ?? string.Empty)).ToList(),
            reader.Long(search, "timeLimitSeconds"),
            reader.Strings(search, "candidates"),
            reader.Array(search, "layers").Select(l => new SearchLayerView(
                reader.RequiredString(l, "node"),
                reader.String(l, "opType") ?? string.Empty,
                reader.Longs(l, "shape"),
                reader.String(l, "chosen") ?? SearchCandidate.None.Name,
                reader.Array(l, "candidates").Select(c => new SearchCellView(
                    reader.RequiredString(c, "candidate"),
                    reader.Long(c, "zippedBefore") ?? 0,
                    reader.Long(c, "zippedAfter") ?? 0,
                    reader.Double(c, "damage") ?? double.NaN,
                    reader.Bool(c, "passedAlone") ?? false,
                    reader.Double(c, "latencyMs"),
                    reader.String(c, "failed"))).ToList())).ToList(),
            reader.Array(search, "trials").Select(Trial).ToList(),
            Index("chosen"),
            Index("bestUniform"),
            reader.Bool(search, "timeLimitReached") ?? false,
            search.TryGetProperty("floor", out JsonElement floor) && floor.ValueKind == JsonValueKind.Object ? Trial(floor) : null);

        SearchTrialView Trial(JsonElement t) => new(
            reader.String(t, "kind") ?? string.Empty,
            reader.String(t, "label") ?? string.Empty,
            reader.Double(t, "predictedDamage"),
            reader.Double(t, "damage"),
            reader.Long(t, "bytes") ?? 0,
            reader.Long(t, "zippedBytes") ?? 0,
            reader.Double(t, "latencyMs"),
            Gates(t),
            reader.Bool(t, "passed") ?? false);
    }

    private static ValidationView ReadValidation(FieldReader reader, JsonElement validation)
    {
        var outputs = reader.Array(validation, "outputs").Select(o => new OutputView(
            reader.RequiredString(o, "name"),
            reader.Double(o, "maxAbsError"),
            reader.Double(o, "meanAbsError"),
            reader.Double(o, "cosineSimilarity"),
            reader.Double(o, "top1Agreement"),
            reader.Long(o, "mismatches"),
            reader.Long(o, "elements"))).ToList();
        var gates = reader.Array(validation, "gates").Select(g => new GateView(
            reader.String(g, "gate") ?? string.Empty,
            reader.Double(g, "limit"),
            reader.Double(g, "measured"),
            reader.Bool(g, "passed") ?? false)).ToList();
        (double, double, long)? accuracy = reader.Object(validation, "accuracy") is { } a
            ? (reader.Double(a, "original") ?? double.NaN, reader.Double(a, "compressed") ?? double.NaN, reader.Long(a, "samples") ?? 0)
            : null;
        return new ValidationView(
            reader.String(validation, "onnxRuntimeVersion") ?? string.Empty,
            reader.Long(validation, "samples") ?? 0,
            reader.String(validation, "source") ?? string.Empty,
            reader.String(validation, "reference") ?? string.Empty,
            outputs,
            accuracy,
            gates);
    }

    private static CompressionException Invalid(string path, string problem, Exception? inner = null) =>
        new(DiagnosticCodes.InvalidReport, path,
            $"'{path}' is not a compression report as onnx-compress writes it (--report): {problem}. Expected the JSON report of one model; " +
            "delete the file and build again (or run onnx-compress with --report) to write it anew.", inner);

    /// <summary>Reads the report's fields, with an OCB0010 error naming the field for one of the wrong kind.</summary>
    private sealed class FieldReader(string path)
    {
        public string Path => path;

        public void Expect(JsonElement element, JsonValueKind kind, string what)
        {
            if (element.ValueKind != kind)
            {
                throw Invalid(path, $"{what} is {Describe(element.ValueKind)}, expected {Describe(kind)}");
            }
        }

        public JsonElement Required(JsonElement parent, string name, JsonValueKind kind)
        {
            if (!parent.TryGetProperty(name, out JsonElement value))
            {
                throw Invalid(path, $"it has no '{name}' ({Describe(kind)})");
            }

            Expect(value, kind, $"'{name}'");
            return value;
        }

        public string RequiredString(JsonElement parent, string name) => Required(parent, name, JsonValueKind.String).GetString()!;

        public long RequiredLong(JsonElement parent, string name) =>
            Required(parent, name, JsonValueKind.Number).TryGetInt64(out long value) && value >= 0
                ? value
                : throw Invalid(path, $"'{name}' is {parent.GetProperty(name).GetRawText()}, expected a whole number of at least 0");

        public JsonElement? Optional(JsonElement parent, string name, JsonValueKind kind)
        {
            if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            Expect(value, kind, $"'{name}'");
            return value;
        }

        public JsonElement? Object(JsonElement parent, string name) => Optional(parent, name, JsonValueKind.Object);

        public IEnumerable<JsonElement> Array(JsonElement parent, string name) =>
            Optional(parent, name, JsonValueKind.Array) is { } array ? array.EnumerateArray().ToList() : [];

        public string? String(JsonElement parent, string name) => Optional(parent, name, JsonValueKind.String)?.GetString();

        public bool? Bool(JsonElement parent, string name) =>
            parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out JsonElement value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? value.GetBoolean()
                : null;

        public long? Long(JsonElement parent, string name) =>
            Optional(parent, name, JsonValueKind.Number) is { } value
                ? value.TryGetInt64(out long number) ? number : throw Invalid(path, $"'{name}' is {value.GetRawText()}, expected a whole number")
                : null;

        /// <summary>A number; the report writes NaN and infinities as the strings <c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>.</summary>
        public double? Double(JsonElement parent, string name)
        {
            if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out JsonElement value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            return value.ValueKind switch
            {
                JsonValueKind.Number => value.GetDouble(),
                JsonValueKind.String when value.GetString() is "NaN" => double.NaN,
                JsonValueKind.String when value.GetString() is "Infinity" => double.PositiveInfinity,
                JsonValueKind.String when value.GetString() is "-Infinity" => double.NegativeInfinity,
                _ => throw Invalid(path, $"'{name}' is {value.GetRawText()}, expected a number"),
            };
        }

        public IReadOnlyList<string> Strings(JsonElement parent, string name) =>
            Array(parent, name).Select(e =>
            {
                Expect(e, JsonValueKind.String, $"an entry of '{name}'");
                return e.GetString()!;
            }).ToList();

        public IReadOnlyList<long>? Longs(JsonElement parent, string name) =>
            Optional(parent, name, JsonValueKind.Array) is { } array
                ? array.EnumerateArray().Select(e =>
                {
                    Expect(e, JsonValueKind.Number, $"an entry of '{name}'");
                    return e.TryGetInt64(out long value) ? value : throw Invalid(path, $"an entry of '{name}' is {e.GetRawText()}, expected a whole number");
                }).ToList()
                : null;

        private static string Describe(JsonValueKind kind) => kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null",
            _ => "missing",
        };
    }
}
