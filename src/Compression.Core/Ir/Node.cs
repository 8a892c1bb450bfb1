using Compression.Onnx.Protos;

namespace Compression.Core.Ir;

/// <summary>
/// An operator application: its type and domain, the values it reads and computes, its attributes, and the subgraphs of
/// its graph attributes (If, Loop, Scan). A node read from a model keeps its protobuf message, so that everything the IR
/// does not model (doc strings, unknown fields) is written back as it was.
/// </summary>
public sealed class Node
{
    private readonly List<Value?> inputs = [];
    private readonly List<Value?> outputs = [];
    private readonly Dictionary<AttributeProto, IReadOnlyList<Graph>> subgraphs = new(ReferenceEqualityComparer.Instance);

    internal Node(NodeProto proto)
    {
        Proto = proto;
    }

    /// <summary>The graph the node belongs to, or null once removed.</summary>
    public Graph? Graph { get; internal set; }

    /// <summary>The operator type (<c>MatMul</c>).</summary>
    public string OpType => Proto.OpType;

    /// <summary>The operator's domain; empty for the default ONNX domain.</summary>
    public string Domain => Proto.Domain;

    /// <summary>The node's name, possibly empty.</summary>
    public string Name => Proto.Name;

    /// <summary>True for an operator of the default ONNX domain (<c>""</c> or <c>ai.onnx</c>).</summary>
    public bool IsDefaultDomain => Domain.Length == 0 || Domain == "ai.onnx";

    /// <summary>The values read, by slot; null where an optional input is left out.</summary>
    public IReadOnlyList<Value?> Inputs => inputs;

    /// <summary>The values computed, by slot; null where an optional output is left out.</summary>
    public IReadOnlyList<Value?> Outputs => outputs;

    /// <summary>The attributes, as the model gives them.</summary>
    public IReadOnlyList<AttributeProto> Attributes => Proto.Attribute;

    /// <summary>The subgraphs of the node's graph attributes, in attribute order.</summary>
    public IEnumerable<Graph> Subgraphs => Proto.Attribute.Where(subgraphs.ContainsKey).SelectMany(a => subgraphs[a]);

    internal NodeProto Proto { get; }

    /// <summary>The integer attribute <paramref name="name"/>, or <paramref name="fallback"/> when the node has none.</summary>
    public long GetInt(string name, long fallback)
    {
        foreach (AttributeProto attribute in Proto.Attribute)
        {
            if (attribute.Name == name)
            {
                return attribute.I;
            }
        }

        return fallback;
    }

    /// <summary>Makes input slot <paramref name="index"/> read <paramref name="value"/> (null leaves the optional input out).</summary>
    public void SetInput(int index, Value? value)
    {
        Value? old = inputs[index];
        if (ReferenceEquals(old, value))
        {
            return;
        }

        old?.RemoveUse(new Use(this, index));
        inputs[index] = value;
        value?.AddUse(new Use(this, index));
    }

    /// <inheritdoc />
    public override string ToString() => $"{(Name.Length > 0 ? Name : "(unnamed)")} ({OpType})";

    internal void AddInput(Value? value)
    {
        inputs.Add(value);
        value?.AddUse(new Use(this, inputs.Count - 1));
    }

    internal void AddOutput(Value? value)
    {
        outputs.Add(value);
        if (value is not null)
        {
            value.Producer = this;
            value.ProducerOutput = outputs.Count - 1;
        }
    }

    internal void SetSubgraphs(AttributeProto attribute, IReadOnlyList<Graph> graphs) => subgraphs[attribute] = graphs;

    /// <summary>Stops reading every input (before the node leaves the graph).</summary>
    internal void DetachInputs()
    {
        for (int i = 0; i < inputs.Count; i++)
        {
            inputs[i]?.RemoveUse(new Use(this, i));
        }
    }

    /// <summary>Writes the names of the values back into the protobuf message, changing only what differs.</summary>
    internal NodeProto ToProto()
    {
        Sync(Proto.Input, inputs);
        Sync(Proto.Output, outputs);
        foreach (Graph graph in Subgraphs)
        {
            graph.ToProto();
        }

        return Proto;
    }

    private static void Sync(Google.Protobuf.Collections.RepeatedField<string> names, List<Value?> values)
    {
        bool same = names.Count == values.Count;
        for (int i = 0; same && i < values.Count; i++)
        {
            same = names[i] == (values[i]?.Name ?? string.Empty);
        }

        if (!same)
        {
            names.Clear();
            names.AddRange(values.Select(v => v?.Name ?? string.Empty));
        }
    }
}
