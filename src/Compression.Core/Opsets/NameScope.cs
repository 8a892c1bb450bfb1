using Compression.Onnx.Protos;

namespace Compression.Core.Opsets;

/// <summary>
/// Every name used in a graph (values, initializers, nodes) and in its subgraphs, so that passes can add names
/// that clash with none of them. New names are derived deterministically from a base name.
/// </summary>
public sealed class NameScope
{
    private readonly HashSet<string> used = new(StringComparer.Ordinal);

    /// <summary>Collects the names of <paramref name="graph"/> and its subgraphs.</summary>
    public NameScope(GraphProto graph)
    {
        Collect(graph);
    }

    /// <summary>True when <paramref name="name"/> is taken.</summary>
    public bool Contains(string name) => used.Contains(name);

    /// <summary>Returns <paramref name="baseName"/>, or it with the smallest numeric suffix that is free, and reserves it.</summary>
    public string Reserve(string baseName)
    {
        string name = baseName;
        for (int suffix = 1; !used.Add(name); suffix++)
        {
            name = $"{baseName}_{suffix}";
        }

        return name;
    }

    private void Collect(GraphProto graph)
    {
        foreach (ValueInfoProto value in graph.Input)
        {
            used.Add(value.Name);
        }

        foreach (ValueInfoProto value in graph.Output)
        {
            used.Add(value.Name);
        }

        foreach (ValueInfoProto value in graph.ValueInfo)
        {
            used.Add(value.Name);
        }

        foreach (TensorProto tensor in graph.Initializer)
        {
            used.Add(tensor.Name);
        }

        foreach (SparseTensorProto tensor in graph.SparseInitializer)
        {
            used.Add(tensor.Values?.Name ?? string.Empty);
        }

        foreach (NodeProto node in graph.Node)
        {
            used.Add(node.Name);
            foreach (string output in node.Output)
            {
                used.Add(output);
            }

            foreach (AttributeProto attribute in node.Attribute)
            {
                if (attribute.G is not null)
                {
                    Collect(attribute.G);
                }

                foreach (GraphProto subgraph in attribute.Graphs)
                {
                    Collect(subgraph);
                }
            }
        }
    }
}
