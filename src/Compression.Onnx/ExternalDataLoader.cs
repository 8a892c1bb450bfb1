using Compression.Onnx.Protos;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Compression.Onnx;

/// <summary>
/// Reads the external data of a model's tensors into the tensors themselves (<c>raw_data</c>), so that the
/// model no longer depends on the files beside it.
/// </summary>
internal sealed class ExternalDataLoader : IDisposable
{
    private readonly string _modelDirectory;
    private readonly string? _modelPath;
    private readonly Dictionary<string, SafeFileHandle> _openFiles = new(StringComparer.Ordinal);

    private ExternalDataLoader(string modelDirectory, string? modelPath)
    {
        _modelDirectory = modelDirectory;
        _modelPath = modelPath;
    }

    /// <summary>Loads every external tensor of the model; the model is unchanged when this throws before the first one.</summary>
    /// <param name="model">The model whose tensors to load.</param>
    /// <param name="modelDirectory">The folder that external data locations are relative to.</param>
    /// <param name="modelPath">The model's file, for messages, or null.</param>
    public static void LoadAll(ModelProto model, string modelDirectory, string? modelPath)
    {
        ExternalDataLoader? loader = null;
        try
        {
            foreach (var tensor in ModelTensors.Enumerate(model))
            {
                if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
                {
                    loader ??= new ExternalDataLoader(modelDirectory, modelPath);
                    loader.Load(tensor);
                }
            }
        }
        finally
        {
            loader?.Dispose();
        }
    }

    /// <summary>Loads one tensor's external data into its <c>raw_data</c>; a tensor whose data is inline is left as it is.</summary>
    public static void LoadOne(TensorProto tensor, string modelDirectory, string? modelPath)
    {
        if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
        {
            return;
        }

        using var loader = new ExternalDataLoader(modelDirectory, modelPath);
        loader.Load(tensor);
    }

    public void Dispose()
    {
        foreach (var handle in _openFiles.Values)
        {
            handle.Dispose();
        }

        _openFiles.Clear();
    }

    private void Load(TensorProto tensor)
    {
        var reference = ExternalDataReference.FromTensor(tensor, _modelPath);
        string dataPath = reference.ResolvePath(_modelDirectory, tensor.Name, _modelPath);
        string subject = ExternalDataReference.Describe(tensor.Name, _modelPath);
        var file = Open(dataPath, subject);
        long fileLength = RandomAccess.GetLength(file);
        long length = reference.CheckRange(fileLength, dataPath, tensor.Name, _modelPath);
        if (length > Array.MaxLength)
        {
            throw new OnnxFormatException(
                $"{subject} has {length} bytes of external data in '{dataPath}', more than one tensor can hold in memory (2 GiB), so its values cannot be read. " +
                "Leave the tensor as it is (Quantize=none for the nodes that read it, in an overrides file): tensors left alone are copied " +
                "to the compressed model's external data file without being read whole.",
                dataPath);
        }

        byte[] data = GC.AllocateUninitializedArray<byte>((int)length);
        ReadExactly(file, data, reference.Offset);
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(data);
        tensor.ExternalData.Clear();
        tensor.ClearDataLocation();
    }

    private SafeFileHandle Open(string dataPath, string subject)
    {
        if (_openFiles.TryGetValue(dataPath, out var open))
        {
            return open;
        }

        if (!File.Exists(dataPath))
        {
            throw new OnnxFormatException(
                $"{subject} keeps its data in the external file '{dataPath}', which does not exist. " +
                "Copy the model together with the data files beside it.",
                dataPath,
                new FileNotFoundException($"The external data file '{dataPath}' does not exist.", dataPath));
        }

        var handle = File.OpenHandle(dataPath, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        _openFiles.Add(dataPath, handle);
        return handle;
    }

    private static void ReadExactly(SafeFileHandle file, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(file, destination, offset);
            if (read == 0)
            {
                throw new EndOfStreamException("The external data file ended while it was being read; it may have been truncated meanwhile.");
            }

            destination = destination[read..];
            offset += read;
        }
    }
}
