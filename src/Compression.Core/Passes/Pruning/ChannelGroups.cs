using Compression.Onnx;
using Compression.Core.Ir;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Passes.Pruning;

/// <summary>A run of a value's channels that belong to one channel space: channels <c>Offset .. Offset + Count - 1</c> of the value.</summary>
/// <param name="Space">The channel space (resolve with <see cref="ChannelGroups.Root"/>).</param>
/// <param name="Offset">The first of the value's channels the run covers.</param>
/// <param name="Count">How many channels.</param>
internal readonly record struct ChannelSegment(int Space, int Offset, int Count);

/// <summary>
/// Where a value keeps the channels of one or more spaces: along <paramref name="Axis"/> (from the front; -1 for the last axis),
/// each channel a block of <paramref name="Block"/> consecutive indices (1; the features of a flattened feature map: 0 until a
/// reader's weight tells the size), in the runs of <paramref name="Segments"/> (several after a Concat).
/// </summary>
internal sealed record ChannelLayout(ChannelSegment[] Segments, int Axis, int Rank, int Block)
{
    /// <summary>The channels in all.</summary>
    public int Channels => Segments.Sum(s => s.Count);

    /// <summary>True when two layouts keep channels the same way (the spaces aside).</summary>
    public bool SameShape(ChannelLayout other) =>
        Axis == other.Axis && Rank == other.Rank && Block == other.Block && Segments.Length == other.Segments.Length
        && Segments.Zip(other.Segments).All(p => p.First.Offset == p.Second.Offset && p.First.Count == p.Second.Count);
}

/// <summary>What changes in a layer or operator when channels go.</summary>
internal enum ChannelEditKind
{
    /// <summary>A layer whose output channels are the space's: its weight loses output channels (and its bias).</summary>
    Producer,

    /// <summary>A MatMul, Gemm or Conv that reads the channels as its input: its weight loses the matching input rows.</summary>
    Consumer,

    /// <summary>A per-channel constant operand of an elementwise operator (a bias Add, a scale Mul).</summary>
    Constant,

    /// <summary>BatchNormalization: scale, B, mean and variance.</summary>
    BatchNormalization,

    /// <summary>A depthwise Conv (one filter per channel): its weight, bias and group.</summary>
    Depthwise,
}

/// <summary>One tensor edit channel pruning makes.</summary>
/// <param name="Kind">What kind of edit.</param>
/// <param name="Node">The node whose input is edited.</param>
/// <param name="Layout">The channels the edit follows (the producer's own for <see cref="ChannelEditKind.Producer"/>).</param>
/// <param name="Tensor">The initializer edited (the weight; for BatchNormalization the scale, the other three follow).</param>
/// <param name="Axis">The tensor's axis along which channels go.</param>
/// <param name="Block">The indices per channel along that axis.</param>
internal sealed record ChannelEdit(ChannelEditKind Kind, Node Node, ChannelLayout Layout, Value Tensor, int Axis, int Block);

/// <summary>
/// The channel spaces of a graph: each layer with a constant weight (MatMul, Gemm, Conv) opens a space of its output channels,
/// followed forward through operators that keep channels apart (bias Add, BatchNormalization, activations, pooling, Flatten,
/// depthwise Conv, Dropout, Identity) to the layers that read them. A residual Add ties the spaces of its two inputs (they must
/// lose the same channels) and a Concat puts spaces side by side. A space read by anything else (an unknown operator, a graph
/// output, a subgraph, a shape operator) cannot lose channels and gets a reason.
/// </summary>
internal sealed class ChannelGroups
{
    private static readonly HashSet<string> Elementwise = new(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSwish", "HardSigmoid", "Gelu", "Elu", "Selu", "Celu", "Softplus",
        "Softsign", "Mish", "ThresholdedRelu", "Erf", "Abs", "Neg", "Exp", "Sqrt", "Reciprocal", "Identity", "Dropout",
    };

    private static readonly HashSet<string> Pools = new(StringComparer.Ordinal)
    {
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool",
    };

    private static readonly HashSet<string> Binary = new(StringComparer.Ordinal) { "Add", "Sub", "Mul", "Div" };

    private readonly List<int> parent = [];
    private readonly List<int> channels = [];
    private readonly Dictionary<int, string> failures = [];
    private readonly Dictionary<Value, ChannelLayout> layouts = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Node, ChannelLayout?[]> joins = new(ReferenceEqualityComparer.Instance);

    private ChannelGroups()
    {
    }

    /// <summary>Every space's producer (index = space).</summary>
    public List<Node> Producers { get; } = [];

    /// <summary>Every edit, in the order found (producers first, in model order).</summary>
    public List<ChannelEdit> Edits { get; } = [];

    /// <summary>The values whose channel count changes with their layout: their declared shapes are updated.</summary>
    public IReadOnlyDictionary<Value, ChannelLayout> Layouts => layouts;

    /// <summary>The layers that could open a space but cannot, with the reason (their weight, the reason).</summary>
    public List<(Node Node, Value? Weight, string Reason)> Refused { get; } = [];

    /// <summary>The space count.</summary>
    public int Count => parent.Count;

    /// <summary>The representative of <paramref name="space"/>'s tied spaces.</summary>
    public int Root(int space)
    {
        while (parent[space] != space)
        {
            parent[space] = parent[parent[space]];
            space = parent[space];
        }

        return space;
    }

    /// <summary>The channels of a space.</summary>
    public int Channels(int space) => channels[Root(space)];

    /// <summary>Why a space (with its tied spaces) cannot lose channels, or null.</summary>
    public string? Failure(int space) => failures.GetValueOrDefault(Root(space));

    /// <summary>Finds the spaces of the main graph of <paramref name="model"/>.</summary>
    public static ChannelGroups Find(Model model)
    {
        var groups = new ChannelGroups();
        Graph graph = model.Graph;
        var pending = new Queue<Value>();
        foreach (Node node in graph.Nodes)
        {
            if (groups.OpenSpace(model, node) is { } layout && node.Outputs[0] is { } output)
            {
                groups.layouts[output] = layout;
                pending.Enqueue(output);
            }
        }

        while (pending.Count > 0)
        {
            Value value = pending.Dequeue();
            foreach (Value next in groups.Follow(model, value, groups.layouts[value]))
            {
                pending.Enqueue(next);
            }
        }

        // A residual Add or a Concat some of whose inputs are not channels of a space: its spaces cannot change.
        foreach ((Node node, ChannelLayout?[] arrived) in groups.joins)
        {
            if (arrived.Any(a => a is null))
            {
                foreach (ChannelLayout layout in arrived.OfType<ChannelLayout>())
                {
                    groups.Fail(layout, $"{Describe(node)} also reads a value that is not the output channels of a prunable layer");
                }
            }
        }

        return groups;
    }

    private static string Describe(Node node) => $"'{(node.Name.Length > 0 ? node.Name : node.Outputs[0]?.Name)}' ({node.OpType})";

    /// <summary>Opens the space of <paramref name="node"/>'s output channels, or says why it cannot (null).</summary>
    private ChannelLayout? OpenSpace(Model model, Node node)
    {
        if (!node.IsDefaultDomain || node.OpType is not ("MatMul" or "Gemm" or "Conv") || node.Inputs.Count < 2 || node.Inputs[1] is not { } weight)
        {
            return null;
        }

        if (WeightProblem(model, weight) is { } problem)
        {
            Refused.Add((node, weight, problem));
            return null;
        }

        IList<long> dims = weight.Initializer!.Dims;
        int count;
        int axis;
        int rank = 0;
        switch (node.OpType)
        {
            case "MatMul" when dims.Count == 2:
                count = (int)dims[1];
                axis = 1;
                rank = node.Inputs[0]?.Type?.TensorType?.Shape?.Dim.Count ?? 0;
                break;
            case "Gemm" when dims.Count == 2:
                bool transB = node.GetInt("transB", 0) != 0;
                count = (int)(transB ? dims[0] : dims[1]);
                axis = transB ? 0 : 1;
                rank = 2;
                if (node.Inputs.Count > 2 && node.Inputs[2] is { } bias && BiasProblem(model, bias, count, allowRow: true) is { } biasProblem)
                {
                    Refused.Add((node, weight, biasProblem));
                    return null;
                }

                break;
            case "Conv" when dims.Count >= 3 && node.GetInt("group", 1) == 1:
                count = (int)dims[0];
                axis = 0;
                rank = dims.Count;
                if (node.Inputs.Count > 2 && node.Inputs[2] is { } convBias && BiasProblem(model, convBias, count, allowRow: false) is { } convProblem)
                {
                    Refused.Add((node, weight, convProblem));
                    return null;
                }

                break;
            default:
                Refused.Add((node, weight, node.OpType == "Conv" && node.GetInt("group", 1) != 1
                    ? "a grouped Conv: its output channels go in groups"
                    : $"a {dims.Count}-D weight, not the layout channel pruning edits"));
                return null;
        }

        if (count < 2)
        {
            Refused.Add((node, weight, "one output channel"));
            return null;
        }

        int space = parent.Count;
        parent.Add(space);
        channels.Add(count);
        Producers.Add(node);
        var layout = new ChannelLayout([new ChannelSegment(space, 0, count)], node.OpType == "Conv" ? 1 : -1, rank, 1);
        Edits.Add(new ChannelEdit(ChannelEditKind.Producer, node, layout, weight, axis, 1));
        return layout;
    }

    /// <summary>Why a weight cannot be edited, or null.</summary>
    private static string? WeightProblem(Model model, Value weight)
    {
        if (!weight.IsInitializer)
        {
            return "not a constant initializer (computed at run time)";
        }

        if (weight.IsGraphInput && model.IrVersion >= 4)
        {
            return "a graph input with a default value: the caller may pass its own";
        }

        if (weight.Initializer!.DataType != (int)DataType.Float)
        {
            return "not a float tensor";
        }

        if (weight.Uses.Count != 1 || weight.IsGraphOutput)
        {
            return $"shared: read by {weight.Uses.Count} inputs{(weight.IsGraphOutput ? " and a graph output" : string.Empty)}";
        }

        return null;
    }

    private static string? BiasProblem(Model model, Value bias, int count, bool allowRow)
    {
        if (WeightProblem(model, bias) is { } problem)
        {
            return "its bias is " + problem;
        }

        IList<long> dims = bias.Initializer!.Dims;
        bool perChannel = (dims.Count == 1 && dims[0] == count) || (allowRow && dims.Count == 2 && dims[0] == 1 && dims[1] == count);
        bool shared = dims.All(d => d == 1);
        return perChannel || shared ? null : $"its bias has the shape [{string.Join(", ", dims)}], not one value per output channel";
    }

    /// <summary>Follows the readers of <paramref name="value"/>; returns the values that carry its channels on.</summary>
    private IEnumerable<Value> Follow(Model model, Value value, ChannelLayout layout)
    {
        var next = new List<Value>();
        if (value.IsGraphOutput)
        {
            Fail(layout, $"'{value.Name}' is a model output, whose shape cannot change");
        }

        foreach (Use use in value.Uses.ToArray())
        {
            Node node = use.Node;
            if (!ReferenceEquals(node.Graph, value.Graph))
            {
                Fail(layout, $"'{value.Name}' is read inside a subgraph ({Describe(node)})");
                continue;
            }

            if (!node.IsDefaultDomain)
            {
                Fail(layout, $"'{value.Name}' is read by {Describe(node)} of domain '{node.Domain}', which channel pruning cannot follow");
                continue;
            }

            string? problem = FollowThrough(model, node, use.Index, layout, next);
            if (problem is not null)
            {
                Fail(layout, $"'{value.Name}' is read by {Describe(node)}: {problem}");
            }
        }

        return next;
    }

    /// <summary>Follows one reader; null when it could be followed, or the reason it cannot.</summary>
    private string? FollowThrough(Model model, Node node, int index, ChannelLayout layout, List<Value> next)
    {
        switch (node.OpType)
        {
            case "MatMul" or "Gemm":
                return Consume(model, node, index, layout);
            case "Conv":
                return ConvReader(model, node, index, layout, next);
            case "BatchNormalization":
                return index != 0 ? "it reads the channels as a parameter" : BatchNorm(model, node, layout, next);
            case "Flatten":
                if (layout.Axis != 1 || layout.Block != 1 || node.GetInt("axis", 1) != 1)
                {
                    return "only a Flatten at axis 1 of a feature map is followed";
                }

                return Pass(node, layout.Rank == 2 ? layout with { Axis = -1 } : layout with { Axis = -1, Rank = 2, Block = 0 }, next);
            case "Reshape":
                if (index != 0 || layout.Axis != 1 || layout.Block != 1 || layout.Rank < 2 || node.GetInt("allowzero", 0) != 0 || !FlattensBatchFirst(node))
                {
                    return "only a Reshape to [0, -1] (a Flatten at axis 1) is followed: other shapes may mix channels";
                }

                return Pass(node, layout.Rank == 2 ? layout with { Axis = -1 } : layout with { Axis = -1, Rank = 2, Block = 0 }, next);
            case "Concat":
                return Join(node, index, layout, next);
            case var op when Binary.Contains(op):
                return BinaryReader(model, node, index, layout, next);
            case var op when Elementwise.Contains(op):
                if (index != 0)
                {
                    return "it reads the channels as a parameter";
                }

                if (node.OpType == "Clip" && node.Inputs.Skip(1).Any(v => v is not null && !(v.IsInitializer && v.Initializer!.Dims.All(d => d == 1))))
                {
                    return "its bounds are not constant scalars";
                }

                return Pass(node, layout, next);
            case var op when Pools.Contains(op):
                return layout.Axis != 1 || index != 0 ? "a pooling that does not keep channels on axis 1" : Pass(node, layout, next);
            default:
                return "an operator channel pruning cannot follow";
        }
    }

    /// <summary>True for a Reshape whose shape is the constant [0, -1]: the batch axis kept, everything else flattened.</summary>
    private static bool FlattensBatchFirst(Node node)
    {
        if (node.Inputs.Count < 2 || node.Inputs[1] is not { IsInitializer: true } shape || shape.Initializer!.DataType != (int)DataType.Int64
            || shape.Initializer.Dims.Count != 1 || shape.Initializer.Dims[0] != 2)
        {
            return false;
        }

        long[] values = shape.Initializer.ToArray<long>();
        return values[0] == 0 && values[1] == -1;
    }

    /// <summary>Carries the channels to the node's first output; every other output must be unread.</summary>
    private string? Pass(Node node, ChannelLayout layout, List<Value> next)
    {
        if (node.Outputs.Skip(1).Any(o => o is not null && (o.Uses.Count > 0 || o.IsGraphOutput)))
        {
            return "its second output is read";
        }

        if (node.Outputs[0] is not { } output)
        {
            return "it has no output";
        }

        if (layouts.TryGetValue(output, out ChannelLayout? known))
        {
            return Tie(known, layout) ? null : "it meets channels of another layout";
        }

        layouts[output] = layout;
        next.Add(output);
        return null;
    }

    private string? Consume(Model model, Node node, int index, ChannelLayout layout)
    {
        if (index != 0)
        {
            return "it reads the channels as a weight";
        }

        if (node.Inputs.Count < 2 || node.Inputs[1] is not { } weight)
        {
            return "it has no weight";
        }

        if (WeightProblem(model, weight) is { } problem)
        {
            return "its weight is " + problem;
        }

        IList<long> dims = weight.Initializer!.Dims;
        if (dims.Count != 2 || layout.Axis != -1 && !(layout.Axis == 1 && layout.Rank == 2))
        {
            return "it does not read the channels along the last axis of a 2-D weight's input";
        }

        int axis = 0;
        if (node.OpType == "Gemm")
        {
            if (node.GetInt("transA", 0) != 0)
            {
                return "a Gemm with transA";
            }

            axis = node.GetInt("transB", 0) != 0 ? 1 : 0;
        }

        long inputs = dims[axis];
        int block = layout.Block;
        if (block == 0)
        {
            if (inputs % layout.Channels != 0)
            {
                return $"its {inputs} inputs are not a whole number of features per channel of the {layout.Channels} flattened channels";
            }

            block = (int)(inputs / layout.Channels);
        }

        if ((long)layout.Channels * block != inputs)
        {
            return $"its weight has {inputs} inputs, not {layout.Channels * block}";
        }

        Edits.Add(new ChannelEdit(ChannelEditKind.Consumer, node, layout, weight, axis, block));
        return null;
    }

    private string? ConvReader(Model model, Node node, int index, ChannelLayout layout, List<Value> next)
    {
        if (index != 0)
        {
            return "it reads the channels as a weight";
        }

        if (node.Inputs.Count < 2 || node.Inputs[1] is not { } weight)
        {
            return "it has no weight";
        }

        if (WeightProblem(model, weight) is { } problem)
        {
            return "its weight is " + problem;
        }

        IList<long> dims = weight.Initializer!.Dims;
        if (layout.Axis != 1 || layout.Block != 1 || dims.Count < 3)
        {
            return "it does not read the channels on axis 1";
        }

        long group = node.GetInt("group", 1);
        if (group == 1)
        {
            if (dims[1] != layout.Channels)
            {
                return $"its weight reads {dims[1]} channels, not {layout.Channels}";
            }

            Edits.Add(new ChannelEdit(ChannelEditKind.Consumer, node, layout, weight, 1, 1));
            return null;
        }

        // Depthwise: one filter per channel; the channels pass through.
        if (group != layout.Channels || dims[0] != group || dims[1] != 1)
        {
            return "a grouped Conv that is not depthwise (one filter per channel)";
        }

        if (node.Inputs.Count > 2 && node.Inputs[2] is { } bias && BiasProblem(model, bias, layout.Channels, allowRow: false) is { } biasProblem)
        {
            return biasProblem;
        }

        Edits.Add(new ChannelEdit(ChannelEditKind.Depthwise, node, layout, weight, 0, 1));
        return Pass(node, layout, next);
    }

    private string? BatchNorm(Model model, Node node, ChannelLayout layout, List<Value> next)
    {
        if (layout.Axis != 1 || layout.Block != 1)
        {
            return "it normalizes axis 1, not the channels' axis";
        }

        if (node.GetInt("training_mode", 0) != 0 || node.Inputs.Count < 5)
        {
            return "training mode";
        }

        for (int i = 1; i < 5; i++)
        {
            if (node.Inputs[i] is not { } parameter || WeightProblem(model, parameter) is not null
                || parameter.Initializer!.Dims.Count != 1 || parameter.Initializer.Dims[0] != layout.Channels)
            {
                return "its scale, bias, mean and variance are not float initializers of one value per channel read by it alone";
            }
        }

        Edits.Add(new ChannelEdit(ChannelEditKind.BatchNormalization, node, layout, node.Inputs[1]!, 0, 1));
        return Pass(node, layout, next);
    }

    private string? BinaryReader(Model model, Node node, int index, ChannelLayout layout, List<Value> next)
    {
        Value? other = node.Inputs.Count == 2 ? node.Inputs[1 - index] : null;
        if (other is null)
        {
            return "it does not have two inputs";
        }

        if (!other.IsInitializer)
        {
            // A residual connection: both inputs must be channels of spaces, which lose the same channels.
            return Join(node, index, layout, next);
        }

        IList<long> dims = other.Initializer!.Dims;
        if (other.Initializer.DataType != (int)DataType.Float)
        {
            return "its constant operand is not float";
        }

        // The constant's axis that meets the channels (broadcasting aligns the last axes).
        int position = layout.Axis == -1 ? dims.Count - 1 : layout.Rank == 0 ? -2 : dims.Count - (layout.Rank - 1);
        if (position == -2)
        {
            return "the rank of the channels' value is not known";
        }

        if (position >= 0 && dims.Count > 0 && layout.Rank > 0 && dims.Count > layout.Rank)
        {
            return "its constant operand has a higher rank than the channels' value";
        }

        if (position < 0 || dims[position] == 1)
        {
            return Pass(node, layout, next);
        }

        if (layout.Block == 0 || dims[position] != (long)layout.Channels * layout.Block)
        {
            return $"its constant operand has {dims[position]} values along the channels, not {layout.Channels}";
        }

        if (WeightProblem(model, other) is { } problem)
        {
            return "its constant operand is " + problem;
        }

        Edits.Add(new ChannelEdit(ChannelEditKind.Constant, node, layout, other, position, layout.Block));
        return Pass(node, layout, next);
    }

    /// <summary>A node all of whose inputs must carry channels (residual Add, Concat); it carries them on once they all arrived.</summary>
    private string? Join(Node node, int index, ChannelLayout layout, List<Value> next)
    {
        if (!joins.TryGetValue(node, out ChannelLayout?[]? arrived))
        {
            joins[node] = arrived = new ChannelLayout?[node.Inputs.Count];
        }

        if (arrived[index] is not null)
        {
            // The same value on both inputs (x + x): already counted.
            return null;
        }

        arrived[index] = layout;
        if (arrived.Any(a => a is null))
        {
            return null;
        }

        if (node.OpType != "Concat")
        {
            foreach (ChannelLayout other in arrived.Skip(1)!)
            {
                if (!Tie(arrived[0]!, other))
                {
                    return "its inputs keep their channels differently";
                }
            }

            return Pass(node, arrived[0]!, next);
        }

        long axis = node.GetInt("axis", 0);
        bool channelAxis = arrived.All(a => a!.Block == 1 && a.Axis == arrived[0]!.Axis && a.Rank == arrived[0]!.Rank)
            && (layout.Axis == -1 ? axis == -1 || (layout.Rank > 0 && axis == layout.Rank - 1) : axis == layout.Axis || (layout.Rank > 0 && axis == layout.Axis - layout.Rank));
        if (!channelAxis)
        {
            return "a Concat along another axis than the channels'";
        }

        var segments = new List<ChannelSegment>();
        int offset = 0;
        foreach (ChannelLayout part in arrived!)
        {
            foreach (ChannelSegment segment in part!.Segments)
            {
                segments.Add(segment with { Offset = offset + segment.Offset });
            }

            offset += part.Channels;
        }

        return Pass(node, arrived[0]! with { Segments = [.. segments] }, next);
    }

    /// <summary>Ties the spaces of two layouts run by run; false (and both fail) when their runs differ.</summary>
    private bool Tie(ChannelLayout a, ChannelLayout b)
    {
        if (!a.SameShape(b))
        {
            Fail(a, "a residual connection adds channels kept in different ways");
            Fail(b, "a residual connection adds channels kept in different ways");
            return false;
        }

        for (int i = 0; i < a.Segments.Length; i++)
        {
            int x = Root(a.Segments[i].Space), y = Root(b.Segments[i].Space);
            if (x != y)
            {
                // The smaller index stays the root: the order of the model decides, not the order of the search.
                (int keep, int join) = x < y ? (x, y) : (y, x);
                parent[join] = keep;
                if (failures.Remove(join, out string? reason))
                {
                    failures.TryAdd(keep, reason);
                }
            }
        }

        return true;
    }

    private void Fail(ChannelLayout layout, string reason)
    {
        foreach (ChannelSegment segment in layout.Segments)
        {
            failures.TryAdd(Root(segment.Space), reason);
        }
    }
}
