using Compression.Onnx.Protos;

namespace Compression.Core.Opsets;

/// <summary>
/// One run of <see cref="OpsetUpgrade"/>: carries every default-domain node of a graph and of its subgraphs through
/// the versions between the model's opset and the target, one <see cref="OpsetSteps"/> converter per operator and
/// version, and collects what it adds (constants) and what it refuses. Works on copies of the nodes, so that the
/// caller can drop everything when a node is refused.
/// </summary>
internal sealed class OpsetConversion
{
    private readonly Dictionary<string, string> constantNames = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, SortedSet<string>> refusals = new(StringComparer.Ordinal);
    private readonly HashSet<string> read = new(StringComparer.Ordinal);

    /// <summary>Prepares a conversion of <paramref name="model"/> from <paramref name="from"/> to <paramref name="target"/>.</summary>
    public OpsetConversion(ModelProto model, long from, long target)
    {
        From = from;
        Target = target;
        Names = new NameScope(model.Graph ?? new GraphProto());
        CollectReads(model.Graph);
    }

    /// <summary>The model's opset.</summary>
    public long From { get; }

    /// <summary>The opset the model is raised to.</summary>
    public long Target { get; }

    /// <summary>Every name of the model, and the names added so far.</summary>
    public NameScope Names { get; }

    /// <summary>The constants the converters added, in the order they were added, for the main graph.</summary>
    public List<TensorProto> NewInitializers { get; } = [];

    /// <summary>How many of the model's nodes were rewritten (subgraphs included).</summary>
    public int ConvertedNodes { get; private set; }

    /// <summary>The operators refused, each with its reasons, sorted.</summary>
    public IReadOnlyDictionary<string, SortedSet<string>> Refusals => refusals;

    /// <summary>True when a node of the model (subgraphs included) reads <paramref name="name"/> or a graph outputs it.</summary>
    public bool IsRead(string name) => read.Contains(name);

    /// <summary>Records that <paramref name="opType"/> cannot be converted, and why.</summary>
    public void Refuse(string opType, string reason)
    {
        if (!refusals.TryGetValue(opType, out SortedSet<string>? reasons))
        {
            refusals[opType] = reasons = new SortedSet<string>(StringComparer.Ordinal);
        }

        reasons.Add(reason);
    }

    /// <summary>
    /// Names <paramref name="value"/> (a tensor without a name) and adds it to the new initializers, or returns the
    /// name of an equal constant added before.
    /// </summary>
    public string Constant(TensorProto value, string baseName)
    {
        string key = $"{value.DataType}|{string.Join(",", value.Dims)}|{value.RawData.ToBase64()}";
        if (constantNames.TryGetValue(key, out string? existing))
        {
            return existing;
        }

        value.Name = Names.Reserve(baseName);
        NewInitializers.Add(value);
        constantNames[key] = value.Name;
        return value.Name;
    }

    /// <summary>
    /// Converts <paramref name="nodes"/>, the nodes of <paramref name="graph"/> or copies of them, and returns the
    /// converted list in a valid order. Subgraphs of the nodes are converted in place.
    /// </summary>
    /// <param name="graph">The graph the nodes belong to, for the types and ranks of its values.</param>
    /// <param name="nodes">The nodes to convert; they are edited in place.</param>
    /// <param name="outer">The lookup of the enclosing graph when <paramref name="graph"/> is a subgraph.</param>
    public List<NodeProto> ConvertGraph(GraphProto graph, IReadOnlyList<NodeProto> nodes, ValueTypes? outer)
    {
        ValueTypes types = ValueTypes.Infer(graph, outer, From);
        var converted = new List<NodeProto>(nodes.Count);
        foreach (NodeProto node in nodes)
        {
            ConvertSubgraphs(node, types);
            if (!OpsetVersions.IsDefaultDomain(node.Domain))
            {
                converted.Add(node);
                continue;
            }

            string? blocked = OpsetSteps.Unconvertible(node.OpType, From, Target);
            if (blocked is not null)
            {
                Refuse(node.OpType, blocked);
                converted.Add(node);
                continue;
            }

            NodeProto? original = OpsetSteps.HasSteps(node.OpType, From, Target) ? node.Clone() : null;
            int count = converted.Count;
            ConvertNode(node, From, types, converted);
            if (original is not null && (converted.Count != count + 1 || !original.Equals(node)))
            {
                ConvertedNodes++;
            }
        }

        return converted;
    }

    private void CollectReads(GraphProto? graph)
    {
        if (graph is null)
        {
            return;
        }

        foreach (ValueInfoProto output in graph.Output)
        {
            read.Add(output.Name);
        }

        foreach (NodeProto node in graph.Node)
        {
            read.UnionWith(node.Input);
            foreach (AttributeProto attribute in node.Attribute)
            {
                CollectReads(attribute.G);
                foreach (GraphProto subgraph in attribute.Graphs)
                {
                    CollectReads(subgraph);
                }
            }
        }
    }

    private void ConvertSubgraphs(NodeProto node, ValueTypes types)
    {
        foreach (AttributeProto attribute in node.Attribute)
        {
            if (attribute.G is { } graph)
            {
                ConvertSubgraph(graph, types);
            }

            foreach (GraphProto subgraph in attribute.Graphs)
            {
                ConvertSubgraph(subgraph, types);
            }
        }
    }

    private void ConvertSubgraph(GraphProto graph, ValueTypes outer)
    {
        List<NodeProto> converted = ConvertGraph(graph, [.. graph.Node], outer);
        graph.Node.Clear();
        graph.Node.AddRange(converted);
    }

    // Carries one node from version `from` to the target, then appends it to `output` with the nodes the converters
    // placed before and after it (themselves carried on from the version they were written at).
    private void ConvertNode(NodeProto node, long from, ValueTypes types, List<NodeProto> output)
    {
        var rewrite = new NodeRewrite(this, node, types);
        var before = new List<NodeProto>();
        var after = new List<NodeProto>();
        for (long version = from + 1; version <= Target && !rewrite.Refused; version++)
        {
            NodeConverter? converter = OpsetSteps.Find(node.OpType, version);
            if (converter is null)
            {
                continue;
            }

            rewrite.Version = version;
            try
            {
                converter(rewrite);
            }
            catch (NotSupportedException e)
            {
                rewrite.Refuse(e.Message);
            }

            (List<NodeProto> newBefore, List<NodeProto> newAfter) = rewrite.TakeNewNodes();
            foreach (NodeProto added in newBefore)
            {
                ConvertNode(added, version, types, before);
            }

            var carried = new List<NodeProto>();
            foreach (NodeProto added in newAfter)
            {
                ConvertNode(added, version, types, carried);
            }

            // Nodes added later run closer to the node: after it, ahead of those added at earlier versions.
            after.InsertRange(0, carried);
        }

        output.AddRange(before);
        output.Add(node);
        output.AddRange(after);
    }
}
