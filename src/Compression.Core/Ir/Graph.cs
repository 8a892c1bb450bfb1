using Compression.Onnx.Protos;

namespace Compression.Core.Ir;

/// <summary>
/// A graph of the IR: nodes in order, inputs, outputs and initializers as <see cref="Value"/>s. Subgraphs (the bodies of
/// If, Loop and Scan) are graphs too, with the graph of their node as <see cref="Parent"/>; a name a subgraph does not
/// define resolves in the graphs around it. Edits keep producers, uses and graph outputs consistent. A graph read from
/// a model keeps its protobuf message, and <see cref="Model.ToProto"/> writes back only what changed, so that a model
/// nothing changed is written byte for byte as it was read.
/// </summary>
public sealed class Graph
{
    private readonly List<Node> nodes = [];
    private readonly List<Value> initializers = [];
    private readonly Dictionary<string, Value> defined = new(StringComparer.Ordinal);
    // The declarations (name, type, shape) of the inputs and outputs, position by position.
    private readonly List<ValueInfoProto?> inputInfos = [];
    private readonly List<ValueInfoProto?> outputInfos = [];
    private readonly HashSet<string> removedNames = new(StringComparer.Ordinal);
    private Dictionary<string, ValueInfoProto>? valueInfo;

    internal Graph(Model model, GraphProto proto, Graph? parent)
    {
        Model = model;
        Proto = proto;
        Parent = parent;
        Read();
    }

    /// <summary>The model the graph belongs to.</summary>
    public Model Model { get; }

    /// <summary>The graph around this one, or null for the main graph.</summary>
    public Graph? Parent { get; }

    /// <summary>The graph's name.</summary>
    public string Name => Proto.Name;

    /// <summary>The nodes, in the model's order (topological in a valid model).</summary>
    public IReadOnlyList<Node> Nodes => nodes;

    /// <summary>The graph's inputs (for models before IR 4, initializers may be listed here too).</summary>
    public IReadOnlyList<Value> Inputs => InputList;

    /// <summary>The graph's outputs.</summary>
    public IReadOnlyList<Value> Outputs => OutputList;

    /// <summary>The initializers, in the model's order.</summary>
    public IReadOnlyList<Value> Initializers => initializers;

    internal List<Value> InputList { get; } = [];

    internal List<Value> OutputList { get; } = [];

    internal GraphProto Proto { get; }

    /// <summary>The value named <paramref name="name"/> in this graph's scope (its own values, then the graphs around it), or null.</summary>
    public Value? Find(string name)
    {
        for (Graph? graph = this; graph is not null; graph = graph.Parent)
        {
            if (graph.defined.TryGetValue(name, out Value? value))
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>This graph and every graph nested in it, outermost first.</summary>
    public IEnumerable<Graph> SelfAndSubgraphs()
    {
        var pending = new Stack<Graph>();
        pending.Push(this);
        while (pending.Count > 0)
        {
            Graph graph = pending.Pop();
            yield return graph;
            foreach (Node node in graph.nodes.AsEnumerable().Reverse())
            {
                foreach (Graph subgraph in node.Subgraphs.Reverse())
                {
                    pending.Push(subgraph);
                }
            }
        }
    }

    /// <summary>A new value of this graph with a name no other value, node or initializer of the model has, derived from <paramref name="baseName"/>.</summary>
    public Value CreateValue(string baseName)
    {
        var value = new Value(this, Model.Names.Reserve(baseName));
        defined[value.Name] = value;
        return value;
    }

    /// <summary>
    /// Creates a node (not yet in the graph; add it with <see cref="Insert"/>) that reads <paramref name="inputs"/> and
    /// computes <paramref name="outputs"/>: values that no node computes yet, such as new ones from <see cref="CreateValue"/>.
    /// </summary>
    /// <param name="opType">The operator type.</param>
    /// <param name="domain">The domain; empty for ONNX's default domain.</param>
    /// <param name="baseName">The node's name, made unique in the model.</param>
    /// <param name="inputs">The values read; null leaves an optional input out.</param>
    /// <param name="outputs">The values computed.</param>
    /// <param name="attributes">The attributes.</param>
    public Node CreateNode(string opType, string domain, string baseName, IEnumerable<Value?> inputs, IEnumerable<Value> outputs, IEnumerable<AttributeProto>? attributes = null)
    {
        var proto = new NodeProto { Name = Model.Names.Reserve(baseName), OpType = opType, Domain = domain };
        if (attributes is not null)
        {
            proto.Attribute.AddRange(attributes);
        }

        var node = new Node(proto);
        foreach (Value? input in inputs)
        {
            node.AddInput(input);
        }

        foreach (Value output in outputs)
        {
            if (output.Producer is not null || output.IsInitializer || output.IsGraphInput)
            {
                throw new InvalidOperationException($"'{output.Name}' is already defined; a new node can compute only values that nothing defines.");
            }

            node.AddOutput(output);
            output.Graph = this;
            defined[output.Name] = output;
        }

        return node;
    }

    /// <summary>Puts <paramref name="node"/> at position <paramref name="index"/> of the node list.</summary>
    public void Insert(int index, Node node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.Graph is not null)
        {
            throw new InvalidOperationException($"Node {node} is already in a graph.");
        }

        nodes.Insert(index, node);
        node.Graph = this;
    }

    /// <summary>Puts <paramref name="node"/> just before <paramref name="anchor"/>.</summary>
    public void InsertBefore(Node anchor, Node node) => Insert(IndexOf(anchor), node);

    /// <summary>Puts <paramref name="node"/> at the end of the node list.</summary>
    public void Append(Node node) => Insert(nodes.Count, node);

    /// <summary>Removes <paramref name="node"/>; its outputs must no longer be read nor be graph outputs.</summary>
    /// <exception cref="InvalidOperationException">An output is still read or is a graph output.</exception>
    public void Remove(Node node)
    {
        int index = IndexOf(node);
        foreach (Value? output in node.Outputs)
        {
            if (output is not null && (output.Uses.Count > 0 || output.IsGraphOutput))
            {
                throw new InvalidOperationException($"Node {node} cannot be removed: its output '{output.Name}' is still used.");
            }
        }

        nodes.RemoveAt(index);
        node.DetachInputs();
        node.Graph = null;
        foreach (Value? output in node.Outputs)
        {
            if (output is not null && ReferenceEquals(output.Producer, node))
            {
                output.Producer = null;
                defined.Remove(output.Name);
                removedNames.Add(output.Name);
            }
        }
    }

    /// <summary>
    /// Replaces <paramref name="node"/> by <paramref name="replacement"/> (created with <see cref="CreateNode"/>, not yet in a
    /// graph): it takes the node's place, every reader of the node's i-th output reads the replacement's i-th output
    /// instead (graph outputs included), and the node is removed.
    /// </summary>
    public void ReplaceNode(Node node, Node replacement)
    {
        if (replacement.Outputs.Count < node.Outputs.Count)
        {
            throw new ArgumentException($"The replacement of {node} computes {replacement.Outputs.Count} values, not {node.Outputs.Count}.", nameof(replacement));
        }

        InsertBefore(node, replacement);
        for (int i = 0; i < node.Outputs.Count; i++)
        {
            if (node.Outputs[i] is { } output)
            {
                output.ReplaceAllUsesWith(replacement.Outputs[i] ?? throw new ArgumentException($"The replacement leaves output {i} out.", nameof(replacement)));
            }
        }

        Remove(node);
    }

    /// <summary>
    /// Inserts <paramref name="node"/>, which reads <paramref name="value"/>, on the edges out of it: every other reader of
    /// <paramref name="value"/> (and a graph output that is it) reads the node's first output instead. The node goes just
    /// before the first node that read the value, or at the end when none did.
    /// </summary>
    public void InsertOnEdge(Value value, Node node)
    {
        Value output = node.Outputs[0] ?? throw new ArgumentException("The node must compute a value.", nameof(node));
        Node? first = value.Uses.Select(u => u.Node).Where(n => ReferenceEquals(n.Graph, this)).OrderBy(IndexOf).FirstOrDefault();
        if (first is null)
        {
            Append(node);
        }
        else
        {
            InsertBefore(first, node);
        }

        foreach (Use use in value.Uses.ToArray())
        {
            if (!ReferenceEquals(use.Node, node))
            {
                use.Node.SetInput(use.Index, output);
            }
        }

        ReplaceOutput(value, output);
    }

    /// <summary>Adds a new initializer holding <paramref name="tensor"/> (its name is made unique and set on the tensor),
    /// at <paramref name="position"/> of the initializer list, or at the end.</summary>
    public Value AddInitializer(TensorProto tensor, int? position = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        Value value = CreateValue(tensor.Name.Length > 0 ? tensor.Name : "initializer");
        tensor.Name = value.Name;
        value.SetInitializer(tensor);
        initializers.Insert(position ?? initializers.Count, value);
        return value;
    }

    /// <summary>
    /// Turns the initializer <paramref name="value"/> into a value that a node will compute: its tensor leaves the
    /// initializer list (and the graph inputs, where a model before IR 4 lists it there), and its position in the list is
    /// returned for the initializers that replace it.
    /// </summary>
    public int DetachInitializer(Value value)
    {
        int position = initializers.IndexOf(value);
        if (position < 0)
        {
            throw new InvalidOperationException($"'{value.Name}' is not an initializer of this graph.");
        }

        initializers.RemoveAt(position);
        value.SetInitializer(null);
        int input = InputList.IndexOf(value);
        if (input >= 0)
        {
            InputList.RemoveAt(input);
            inputInfos.RemoveAt(input);
        }

        return position;
    }

    /// <summary>Removes an initializer that nothing reads.</summary>
    public void RemoveInitializer(Value value)
    {
        if (value.Uses.Count > 0 || value.IsGraphOutput)
        {
            throw new InvalidOperationException($"Initializer '{value.Name}' is still used.");
        }

        DetachInitializer(value);
        defined.Remove(value.Name);
        removedNames.Add(value.Name);
    }

    /// <summary>The position of <paramref name="node"/> in the node list.</summary>
    public int IndexOf(Node node)
    {
        int index = nodes.IndexOf(node);
        return index >= 0 ? index : throw new InvalidOperationException($"Node {node} is not in graph '{Name}'.");
    }

    internal ValueInfoProto? FindValueInfo(string name)
    {
        if (valueInfo is null)
        {
            valueInfo = new Dictionary<string, ValueInfoProto>(StringComparer.Ordinal);
            foreach (ValueInfoProto info in Proto.ValueInfo.Concat(Proto.Output).Concat(Proto.Input))
            {
                valueInfo[info.Name] = info;
            }
        }

        return valueInfo.TryGetValue(name, out ValueInfoProto? found) ? found : Parent?.FindValueInfo(name);
    }

    internal void ReplaceOutput(Value value, Value replacement)
    {
        if (!OutputList.Contains(value))
        {
            return;
        }

        // Callers know a model's outputs by name: the replacement takes the name, where it is a computed value of
        // its own (an input's or initializer's name is part of the model's interface too and stays).
        if (replacement.Producer is not null && !replacement.IsGraphOutput && !value.IsGraphInput && !value.IsInitializer)
        {
            string name = value.Name;
            Rename(value, Model.Names.Reserve(name + "_replaced"));
            Rename(replacement, name);
        }

        for (int i = 0; i < OutputList.Count; i++)
        {
            // The output keeps its declaration (name aside): the replacement computes the same tensor.
            if (ReferenceEquals(OutputList[i], value))
            {
                OutputList[i] = replacement;
            }
        }
    }

    /// <summary>Writes the graph back into its protobuf message, changing only the lists that differ.</summary>
    internal GraphProto ToProto()
    {
        foreach (Node node in nodes)
        {
            node.ToProto();
        }

        Sync(Proto.Node, nodes.Select(n => n.Proto).ToList());
        Sync(Proto.Initializer, initializers.Select(v => v.Initializer!).ToList());
        Sync(Proto.Input, Declarations(InputList, inputInfos));
        Sync(Proto.Output, Declarations(OutputList, outputInfos));
        if (removedNames.Count > 0)
        {
            var kept = Proto.ValueInfo.Where(info => !removedNames.Contains(info.Name) || defined.ContainsKey(info.Name)).ToList();
            Sync(Proto.ValueInfo, kept);
        }

        return Proto;
    }

    private static List<ValueInfoProto> Declarations(List<Value> values, List<ValueInfoProto?> infos)
    {
        var result = new List<ValueInfoProto>(values.Count);
        for (int i = 0; i < values.Count; i++)
        {
            while (infos.Count <= i)
            {
                infos.Add(null);
            }

            ValueInfoProto info = infos[i] ??= new ValueInfoProto { Name = values[i].Name };
            if (info.Name != values[i].Name)
            {
                info.Name = values[i].Name;
            }

            result.Add(info);
        }

        return result;
    }

    private static void Sync<T>(Google.Protobuf.Collections.RepeatedField<T> field, List<T> items) where T : class
    {
        bool same = field.Count == items.Count;
        for (int i = 0; same && i < items.Count; i++)
        {
            same = ReferenceEquals(field[i], items[i]);
        }

        if (!same)
        {
            field.Clear();
            field.AddRange(items);
        }
    }

    private void Read()
    {
        foreach (TensorProto tensor in Proto.Initializer)
        {
            Value value = Define(tensor.Name);
            value.SetInitializer(tensor);
            initializers.Add(value);
        }

        foreach (SparseTensorProto sparse in Proto.SparseInitializer)
        {
            Define(sparse.Values?.Name ?? string.Empty).IsSparseInitializer = true;
        }

        foreach (ValueInfoProto input in Proto.Input)
        {
            // Before IR 4 initializers are listed among the inputs too: the input is the initializer's value.
            Value value = defined.TryGetValue(input.Name, out Value? existing) && existing.IsInitializer ? existing : Define(input.Name);
            InputList.Add(value);
            inputInfos.Add(input);
        }

        foreach (NodeProto proto in Proto.Node)
        {
            var node = new Node(proto) { Graph = this };
            foreach (string name in proto.Input)
            {
                node.AddInput(name.Length == 0 ? null : Resolve(name));
            }

            foreach (AttributeProto attribute in proto.Attribute)
            {
                if (attribute.G is not null)
                {
                    node.SetSubgraphs(attribute, [new Graph(Model, attribute.G, this)]);
                }
                else if (attribute.Graphs.Count > 0)
                {
                    node.SetSubgraphs(attribute, attribute.Graphs.Select(g => new Graph(Model, g, this)).ToList());
                }
            }

            foreach (string name in proto.Output)
            {
                node.AddOutput(name.Length == 0 ? null : Define(name));
            }

            nodes.Add(node);
        }

        foreach (ValueInfoProto output in Proto.Output)
        {
            Value value = Resolve(output.Name);
            OutputList.Add(value);
            outputInfos.Add(output);
        }
    }

    private static void Rename(Value value, string name)
    {
        Graph graph = value.Graph;
        if (graph.defined.TryGetValue(value.Name, out Value? current) && ReferenceEquals(current, value))
        {
            graph.defined.Remove(value.Name);
        }

        value.Name = name;
        graph.defined[name] = value;
    }

    private Value Define(string name)
    {
        var value = new Value(this, name);
        defined[name] = value;
        return value;
    }

    /// <summary>The value a name refers to here; a name nothing defines gets an undefined value of this graph.</summary>
    private Value Resolve(string name) => Find(name) ?? Define(name);
}
