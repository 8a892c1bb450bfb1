using Compression.Core.Opsets;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Ir;

/// <summary>
/// An ONNX model as the compression passes see it: the main <see cref="Graph"/> with its subgraphs, values that know
/// their producer and uses, and initializers whose external data is read only when a pass asks for it. Passes edit
/// this IR, never the protobuf messages; <see cref="ToProto"/> writes the edits back into the model's messages, and a
/// model nothing changed serializes byte for byte as it was read.
/// </summary>
public sealed class Model
{
    private Model(ModelProto proto, string? path)
    {
        Proto = proto;
        Path = path is null ? null : System.IO.Path.GetFullPath(path);
        Directory = Path is null ? null : System.IO.Path.GetDirectoryName(Path);
        Names = new NameScope(proto.Graph ?? new GraphProto());
        Graph = new Graph(this, proto.Graph ??= new GraphProto(), parent: null);
    }

    /// <summary>The model file, or null for a model not read from a file.</summary>
    public string? Path { get; }

    /// <summary>The folder external data is read from, or null.</summary>
    public string? Directory { get; }

    /// <summary>The main graph.</summary>
    public Graph Graph { get; private set; }

    /// <summary>Every graph of the model, the main graph first, then the subgraphs nested in it.</summary>
    public IEnumerable<Graph> Graphs => Graph.SelfAndSubgraphs();

    /// <summary>Every node of every graph.</summary>
    public IEnumerable<Node> Nodes => Graphs.SelectMany(g => g.Nodes);

    /// <summary>The version of the default ONNX operator set the model imports, or null when it imports none.</summary>
    public long? Opset => OpsetVersions.DefaultDomainVersion(Proto);

    /// <summary>The model's IR version.</summary>
    public long IrVersion => Proto.IrVersion;

    /// <summary>The model's names, from which new values and nodes take names that clash with none.</summary>
    internal NameScope Names { get; private set; }

    internal ModelProto Proto { get; }

    /// <summary>
    /// The compressed model's external data file, when the compressor knows before the passes that the model keeps its
    /// weights there: the tensors passes add go to it as they are made (<see cref="Spill"/>), so that the passes never hold
    /// all the new weights in memory. Null otherwise.
    /// </summary>
    internal ExternalDataWriter? DataFile { get; set; }

    /// <summary>The fewest bytes a tensor must hold to go to <see cref="DataFile"/> (the ExternalDataThreshold setting).</summary>
    internal long DataFileThreshold { get; set; }

    /// <summary>Moves the data of <paramref name="tensor"/>, an initializer a pass has just finished, to <see cref="DataFile"/>
    /// when there is one and the tensor is large enough; otherwise leaves it as it is.</summary>
    internal void Spill(TensorProto tensor)
    {
        if (DataFile is null || tensor.RawData.Length == 0 || tensor.RawData.Length < DataFileThreshold)
        {
            return;
        }

        try
        {
            DataFile.Append(tensor);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCodes.OutputNotWritten, Path ?? string.Empty,
                $"Could not write the compressed model's external data: {e.Message} Check that the output folder is writable " +
                "and has room for the data file. Nothing was written.", e);
        }
    }

    /// <summary>Reads a model, leaving external data in its files until a pass reads a tensor.</summary>
    /// <exception cref="OnnxFormatException">The file is not a readable ONNX model.</exception>
    public static Model Load(string path) => new(OnnxModelFile.Load(path, loadExternalData: false), path);

    /// <summary>Wraps a model read elsewhere; <paramref name="path"/> locates its external data, if any.</summary>
    public static Model FromProto(ModelProto proto, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(proto);
        return new Model(proto, path);
    }

    /// <summary>Imports <paramref name="domain"/> at <paramref name="version"/> or newer, for nodes of that domain a pass adds.</summary>
    public void ImportOperatorSet(string domain, long version)
    {
        OperatorSetIdProto? import = Proto.OpsetImport.FirstOrDefault(o => o.Domain == domain);
        if (import is null)
        {
            Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }
        else if (import.Version < version)
        {
            import.Version = version;
        }
    }

    /// <summary>Writes the IR's edits into the model's messages and returns the model message.</summary>
    public ModelProto ToProto()
    {
        Graph.ToProto();
        return Proto;
    }

    /// <summary>
    /// Runs <paramref name="rewrite"/> over the model's messages and reads the graph again: for rewrites written against
    /// the protobuf messages (the opset upgrade's per-operator rules), applied before passes hold IR objects.
    /// </summary>
    internal T RewriteProto<T>(Func<ModelProto, T> rewrite)
    {
        ToProto();
        T result = rewrite(Proto);
        Names = new NameScope(Proto.Graph ?? new GraphProto());
        Graph = new Graph(this, Proto.Graph ??= new GraphProto(), parent: null);
        return result;
    }
}
