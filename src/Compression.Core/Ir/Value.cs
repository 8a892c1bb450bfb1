using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Ir;

/// <summary>One place a value is read: an input slot of a node.</summary>
/// <param name="Node">The node that reads the value.</param>
/// <param name="Index">The index of the input slot.</param>
public readonly record struct Use(Node Node, int Index);

/// <summary>
/// A value of a graph: a graph input, an initializer (a constant), or the output of a node. It knows its producer and
/// every place it is read, in nodes of its own graph and of subgraphs nested in it, and whether it is a graph output.
/// </summary>
public sealed class Value
{
    private readonly List<Use> uses = [];
    private TensorProto? initializer;

    internal Value(Graph graph, string name)
    {
        Graph = graph;
        Name = name;
    }

    /// <summary>The value's name, unique in the model.</summary>
    public string Name { get; internal set; }

    /// <summary>The graph the value is defined in (its producer's graph, or the graph it is an input or initializer of).</summary>
    public Graph Graph { get; internal set; }

    /// <summary>The node that computes the value, or null for graph inputs, initializers and undefined values.</summary>
    public Node? Producer { get; internal set; }

    /// <summary>Which output of <see cref="Producer"/> the value is.</summary>
    public int ProducerOutput { get; internal set; }

    /// <summary>Every input slot that reads the value, in node order of the graphs (subgraphs included).</summary>
    public IReadOnlyList<Use> Uses => uses;

    /// <summary>The constant's tensor when the value is an initializer; its external data is read only when a pass asks for it
    /// (<see cref="LoadInitializer"/>).</summary>
    public TensorProto? Initializer => initializer;

    /// <summary>True when the value is a constant initializer.</summary>
    public bool IsInitializer => initializer is not null;

    /// <summary>True when the value is a sparse initializer (kept as the model has it; passes leave it alone).</summary>
    public bool IsSparseInitializer { get; internal set; }

    /// <summary>True when the value is one of its graph's inputs.</summary>
    public bool IsGraphInput => Graph.InputList.Contains(this);

    /// <summary>True when the value is one of its graph's outputs.</summary>
    public bool IsGraphOutput => Graph.OutputList.Contains(this);

    /// <summary>True when a node reads the value but nothing in scope defines it (a malformed model).</summary>
    public bool IsUndefined => Producer is null && initializer is null && !IsSparseInitializer && !IsGraphInput;

    /// <summary>The type and shape the model declares for the value (graph input/output or value_info), or null.</summary>
    public TypeProto? Type => Graph.FindValueInfo(Name)?.Type;

    /// <summary>The initializer's tensor with its external data read, once, from the model's folder.</summary>
    /// <exception cref="InvalidOperationException">The value is not an initializer.</exception>
    /// <exception cref="OnnxFormatException">The external data cannot be read.</exception>
    public TensorProto LoadInitializer()
    {
        TensorProto tensor = initializer ?? throw new InvalidOperationException($"'{Name}' is not an initializer.");
        if (Graph.Model.DataFile is { } dataFile && dataFile.Holds(tensor))
        {
            // A tensor a pass made and moved to the compressed model's data file: read back, and written again at the end.
            dataFile.ReadBack(tensor);
        }
        else if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            OnnxModelFile.LoadExternalData(tensor, Graph.Model.Directory ?? throw new OnnxFormatException(
                $"Initializer '{Name}' keeps its data in an external file, but the model was not read from a file.", null), Graph.Model.Path);
        }

        return tensor;
    }

    /// <summary>
    /// Hands the initializer's tensor, with its data, to <paramref name="read"/> without keeping the data: a tensor in external
    /// data is read into a copy that is dropped afterwards, so that a check of every weight does not hold the whole model.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value is not an initializer.</exception>
    /// <exception cref="OnnxFormatException">The external data cannot be read.</exception>
    public T ReadInitializer<T>(Func<TensorProto, T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        TensorProto tensor = initializer ?? throw new InvalidOperationException($"'{Name}' is not an initializer.");
        if (tensor.DataLocation != TensorProto.Types.DataLocation.External || Graph.Model.DataFile?.Holds(tensor) == true)
        {
            return read(LoadInitializer());
        }

        TensorProto copy = tensor.Clone();
        OnnxModelFile.LoadExternalData(copy, Graph.Model.Directory ?? throw new OnnxFormatException(
            $"Initializer '{Name}' keeps its data in an external file, but the model was not read from a file.", null), Graph.Model.Path);
        return read(copy);
    }

    /// <summary>Makes every reader of this value, and every graph output that is this value, use <paramref name="replacement"/>.</summary>
    public void ReplaceAllUsesWith(Value replacement)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        if (ReferenceEquals(replacement, this))
        {
            return;
        }

        foreach (Use use in uses.ToArray())
        {
            use.Node.SetInput(use.Index, replacement);
        }

        Graph.ReplaceOutput(this, replacement);
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    internal void AddUse(Use use) => uses.Add(use);

    internal void RemoveUse(Use use) => uses.Remove(use);

    internal void SetInitializer(TensorProto? tensor) => initializer = tensor;
}
