using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Onnx;

/// <summary>
/// Reads and writes ONNX model files (<c>.onnx</c>): a serialized <see cref="ModelProto"/>, with tensors
/// either inline or in external data files beside the model.
/// </summary>
public static class OnnxModelFile
{
    private const string ModelDescription = "an ONNX model";

    /// <summary>Reads a model file.</summary>
    /// <param name="path">The <c>.onnx</c> file.</param>
    /// <param name="loadExternalData">
    /// Whether to read every tensor kept in an external file (relative to the model's folder) into the tensor's
    /// <c>raw_data</c>, leaving a model that no longer depends on those files. When false, such tensors keep their
    /// <c>external_data</c> references and their values cannot be read until <see cref="LoadExternalData(ModelProto, string)"/> is called.
    /// </param>
    /// <returns>The model.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="OnnxFormatException">
    /// The file is not an ONNX model, or its external data is missing, outside the model's folder, or shorter than the model says.
    /// </exception>
    public static ModelProto Load(string path, bool loadExternalData = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        ModelProto model;
        using (var stream = OnnxProtobuf.OpenForReading(fullPath, ModelDescription))
        {
            model = ParseModel(stream, fullPath);
        }

        if (loadExternalData)
        {
            ExternalDataLoader.LoadAll(model, Path.GetDirectoryName(fullPath)!, fullPath);
        }

        return model;
    }

    /// <summary>
    /// Reads only a model's interface: its IR version, opsets, doc string, and its main graph's name, inputs, outputs and
    /// the names of its initializers. Nodes and weights are skipped without being kept in memory, so that this costs little
    /// even for a large model.
    /// </summary>
    /// <param name="path">The <c>.onnx</c> file.</param>
    /// <returns>A model holding only those fields.</returns>
    /// <exception cref="OnnxFormatException">The file is not an ONNX model, or it has no graph.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static ModelProto LoadInterface(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        ModelInterfaceProto view;
        using (var stream = OnnxProtobuf.OpenForReading(fullPath, ModelDescription))
        {
            CheckSize(stream, fullPath);
            view = OnnxProtobuf.Parse(stream, ModelInterfaceProto.Parser.WithDiscardUnknownFields(true), ModelDescription, fullPath);
        }

        if (view.Graph is null)
        {
            string found = view.CalculateSize() == 0 ? "it is empty" : "it holds no graph";
            throw new OnnxFormatException(
                $"The file '{fullPath}' is not an ONNX model: {found}. Check that it is a .onnx model file and that it was copied completely.",
                fullPath);
        }

        // The same field numbers: the interface reads back as a model with only these fields.
        return ModelProto.Parser.ParseFrom(view.ToByteString());
    }

    /// <summary>Reads a model from its serialized bytes.</summary>
    /// <param name="bytes">The bytes of a <c>.onnx</c> file.</param>
    /// <param name="externalDataDirectory">
    /// The folder that external data locations are relative to (the model's folder); its external data is read into
    /// the tensors. When null, tensors with external data keep their references.
    /// </param>
    /// <returns>The model.</returns>
    /// <exception cref="OnnxFormatException">The bytes are not an ONNX model, or its external data cannot be read.</exception>
    public static ModelProto Parse(byte[] bytes, string? externalDataDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        return Parse(stream, externalDataDirectory);
    }

    /// <summary>Reads a model from a stream, to the stream's end.</summary>
    /// <param name="stream">The bytes of a <c>.onnx</c> file; read to its end and left open.</param>
    /// <param name="externalDataDirectory">
    /// The folder that external data locations are relative to (the model's folder); its external data is read into
    /// the tensors. When null, tensors with external data keep their references.
    /// </param>
    /// <returns>The model.</returns>
    /// <exception cref="OnnxFormatException">The bytes are not an ONNX model, or its external data cannot be read.</exception>
    public static ModelProto Parse(Stream stream, string? externalDataDirectory = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var model = ParseModel(stream, filePath: null);
        if (externalDataDirectory is not null)
        {
            ExternalDataLoader.LoadAll(model, externalDataDirectory, modelPath: null);
        }

        return model;
    }

    /// <summary>
    /// Reads the data of every tensor the model keeps in external files into the tensor's <c>raw_data</c>, and marks
    /// the tensor as holding its data inline. Tensors whose data is already inline are left as they are.
    /// </summary>
    /// <param name="model">The model, as read with external data left in place.</param>
    /// <param name="modelDirectory">The folder that external data locations are relative to: the model file's folder.</param>
    /// <exception cref="OnnxFormatException">An external file is missing, outside <paramref name="modelDirectory"/>, or too short.</exception>
    public static void LoadExternalData(ModelProto model, string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        ExternalDataLoader.LoadAll(model, modelDirectory, modelPath: null);
    }

    /// <summary>
    /// Reads the external data of one tensor into its <c>raw_data</c>, as <see cref="LoadExternalData(ModelProto, string)"/>
    /// does for all of them; for readers that load weights one at a time, when they need them.
    /// </summary>
    /// <param name="tensor">The tensor; left as it is when its data is inline.</param>
    /// <param name="modelDirectory">The folder that external data locations are relative to: the model file's folder.</param>
    /// <param name="modelPath">The model file, for messages, or null.</param>
    /// <exception cref="OnnxFormatException">The external file is missing, outside <paramref name="modelDirectory"/>, or too short.</exception>
    public static void LoadExternalData(TensorProto tensor, string modelDirectory, string? modelPath = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        ExternalDataLoader.LoadOne(tensor, modelDirectory, modelPath);
    }

    /// <summary>
    /// Writes the model to a file atomically: the bytes go to a temporary file in the same folder, which then replaces
    /// <paramref name="path"/>. On failure the destination is unchanged and the temporary file is removed.
    /// </summary>
    /// <param name="model">The model; tensors with external data keep their references, and their files are not written.</param>
    /// <param name="path">The destination file; an existing file is replaced.</param>
    /// <exception cref="OnnxFormatException">The serialized model would be 2 GiB or more, protobuf's limit.</exception>
    /// <exception cref="DirectoryNotFoundException">The destination's folder does not exist.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The folder or the destination is not writable.</exception>
    public static void Save(ModelProto model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        SerializedSizeLimit.Measure(model, fullPath);
        AtomicFile.Write(fullPath, "the ONNX model", model.WriteTo);
    }

    /// <summary>The serialized bytes of the model, as a <c>.onnx</c> file holds them.</summary>
    /// <param name="model">The model.</param>
    /// <exception cref="OnnxFormatException">The serialized model would be 2 GiB or more, protobuf's limit.</exception>
    public static byte[] ToBytes(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        SerializedSizeLimit.Measure(model, destinationPath: null);
        return model.ToByteArray();
    }

    private static ModelProto ParseModel(Stream stream, string? filePath)
    {
        CheckSize(stream, filePath);
        var model = OnnxProtobuf.Parse<ModelProto>(stream, ModelDescription, filePath);
        if (model.Graph is null && model.Functions.Count == 0)
        {
            // Random bytes can parse as a message of unknown fields, and other ONNX messages (a TensorProto .pb file)
            // parse as a model with stray fields; neither has a graph.
            string source = filePath is null ? "The data" : $"The file '{filePath}'";
            string found = model.CalculateSize() == 0 ? "it is empty" : "it holds no graph (nor functions)";
            throw new OnnxFormatException(
                $"{source} is not an ONNX model: {found}. Check that it is a .onnx model file and that it was copied completely.",
                filePath);
        }

        return model;
    }

    private static void CheckSize(Stream stream, string? filePath)
    {
        if (stream.CanSeek && stream.Length - stream.Position > OnnxProtobuf.MaxMessageBytes)
        {
            string source = filePath is null ? "The data" : $"The file '{filePath}'";
            throw new OnnxFormatException(
                $"{source} is {stream.Length - stream.Position} bytes, over protobuf's 2 GiB limit, so it cannot be an ONNX model: " +
                "models this large keep their weights in external data files beside a small .onnx file. Export the model with external data.",
                filePath);
        }
    }
}
