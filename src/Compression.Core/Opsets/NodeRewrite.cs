using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Opsets;

/// <summary>Rewrites one node of a model from one version of the default opset to the next.</summary>
/// <param name="rewrite">The node, with what the converter may read and add.</param>
internal delegate void NodeConverter(NodeRewrite rewrite);

/// <summary>
/// One node on its way from the model's opset to the target: what a <see cref="NodeConverter"/> sees and the
/// changes it may make. Converters edit <see cref="Node"/> in place, add constants (initializers of the main graph)
/// and nodes placed right before or after it, or refuse with a reason.
/// </summary>
internal sealed class NodeRewrite
{
    private readonly OpsetConversion conversion;
    private readonly List<NodeProto> before = [];
    private readonly List<NodeProto> after = [];

    internal NodeRewrite(OpsetConversion conversion, NodeProto node, ValueTypes types)
    {
        this.conversion = conversion;
        Node = node;
        Types = types;
        OriginalOpType = node.OpType;
    }

    /// <summary>The node; converters edit it in place.</summary>
    public NodeProto Node { get; }

    /// <summary>Types and ranks of the values the node can see.</summary>
    public ValueTypes Types { get; }

    /// <summary>The node's operator before any conversion (Upsample for a Resize made from one).</summary>
    public string OriginalOpType { get; }

    /// <summary>The version the running converter converts to.</summary>
    public long Version { get; internal set; }

    /// <summary>The version the whole model is raised to.</summary>
    public long Target => conversion.Target;

    /// <summary>True once a converter refused the node.</summary>
    public bool Refused { get; private set; }

    /// <summary>The rank of input <paramref name="index"/>, or null when it is absent or cannot be told.</summary>
    public int? InputRank(int index) => HasInput(index) ? Types.Rank(Node.Input[index]) : null;

    /// <summary>The element type of input <paramref name="index"/>, or null when it is absent or cannot be told.</summary>
    public DataType? InputType(int index) => HasInput(index) ? Types.ElementType(Node.Input[index]) : null;

    /// <summary>True when input <paramref name="index"/> is given (present and not empty).</summary>
    public bool HasInput(int index) => index < Node.Input.Count && Node.Input[index].Length > 0;

    /// <summary>True when a node of the model or a graph output reads <paramref name="name"/>.</summary>
    public bool IsRead(string name) => conversion.IsRead(name);

    /// <summary>Sets input <paramref name="index"/>, padding skipped optional inputs with empty names.</summary>
    public void SetInput(int index, string name)
    {
        while (Node.Input.Count <= index)
        {
            Node.Input.Add(string.Empty);
        }

        Node.Input[index] = name;
    }

    /// <summary>Refuses the conversion of this node; the model stays unchanged and the reason reaches the user.</summary>
    public void Refuse(string reason)
    {
        Refused = true;
        conversion.Refuse(OriginalOpType, reason);
    }

    /// <summary>A new 1-D int64 constant, named after the node and <paramref name="role"/>.</summary>
    public string Int64Constant(string role, IReadOnlyList<long> values) =>
        conversion.Constant(TensorValues.Create<long>(string.Empty, [values.Count], [.. values]), BaseName(role));

    /// <summary>A new float constant of the given shape, named after the node and <paramref name="role"/>.</summary>
    public string FloatConstant(string role, long[] dims, IReadOnlyList<float> values) =>
        conversion.Constant(TensorValues.Create<float>(string.Empty, dims, [.. values]), BaseName(role));

    /// <summary>A new scalar constant of element type <paramref name="type"/> holding <paramref name="value"/>.</summary>
    /// <exception cref="NotSupportedException"><paramref name="type"/> is not a numeric type.</exception>
    public string ScalarConstant(string role, DataType type, double value) =>
        conversion.Constant(Scalar(type, value), BaseName(role));

    /// <summary>Reserves a new value name derived from the node's name and <paramref name="role"/>.</summary>
    public string NewValue(string role) => conversion.Names.Reserve(BaseName(role));

    /// <summary>Adds a node that runs right before this one, written at <see cref="Version"/>; returns it.</summary>
    public NodeProto InsertBefore(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        NodeProto node = NewNode(opType, inputs, outputs, attributes);
        before.Add(node);
        return node;
    }

    /// <summary>Adds a node that runs right after this one, written at <see cref="Version"/>; returns it.</summary>
    public NodeProto InsertAfter(string opType, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        NodeProto node = NewNode(opType, inputs, outputs, attributes);
        after.Add(node);
        return node;
    }

    /// <summary>Takes the nodes the last converter added, to carry them through the later versions too.</summary>
    internal (List<NodeProto> Before, List<NodeProto> After) TakeNewNodes()
    {
        var taken = (new List<NodeProto>(before), new List<NodeProto>(after));
        before.Clear();
        after.Clear();
        return taken;
    }

    private NodeProto NewNode(string opType, string[] inputs, string[] outputs, AttributeProto[] attributes)
    {
        var node = new NodeProto
        {
            Name = conversion.Names.Reserve(BaseName(opType)),
            OpType = opType,
            Domain = string.Empty,
        };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private string BaseName(string role)
    {
        string owner = Node.Name.Length > 0 ? Node.Name
            : Node.Output.Count > 0 && Node.Output[0].Length > 0 ? Node.Output[0]
            : OriginalOpType;
        return $"{owner}_{role}";
    }

    private static TensorProto Scalar(DataType type, double value) => type switch
    {
        DataType.Float => TensorValues.Create<float>(string.Empty, [], [(float)value]),
        DataType.Double => TensorValues.Create<double>(string.Empty, [], [value]),
        DataType.Float16 => TensorValues.Create<Half>(string.Empty, [], [(Half)value]),
        DataType.Bfloat16 => TensorValues.Create<BFloat16>(string.Empty, [], [BFloat16.FromSingle((float)value)]),
        DataType.Int8 => TensorValues.Create<sbyte>(string.Empty, [], [(sbyte)Math.Clamp(value, sbyte.MinValue, sbyte.MaxValue)]),
        DataType.Uint8 => TensorValues.Create<byte>(string.Empty, [], [(byte)Math.Clamp(value, byte.MinValue, byte.MaxValue)]),
        DataType.Int16 => TensorValues.Create<short>(string.Empty, [], [(short)Math.Clamp(value, short.MinValue, short.MaxValue)]),
        DataType.Uint16 => TensorValues.Create<ushort>(string.Empty, [], [(ushort)Math.Clamp(value, ushort.MinValue, ushort.MaxValue)]),
        DataType.Int32 => TensorValues.Create<int>(string.Empty, [], [(int)Math.Clamp(value, int.MinValue, int.MaxValue)]),
        DataType.Uint32 => TensorValues.Create<uint>(string.Empty, [], [(uint)Math.Clamp(value, uint.MinValue, uint.MaxValue)]),
        DataType.Int64 => TensorValues.Create<long>(string.Empty, [], [(long)Math.Clamp(value, long.MinValue, long.MaxValue)]),
        DataType.Uint64 => TensorValues.Create<ulong>(string.Empty, [], [(ulong)Math.Clamp(value, ulong.MinValue, ulong.MaxValue)]),
        _ => throw new NotSupportedException($"No numeric constant of element type {TensorDataTypes.Describe(type)}."),
    };
}
