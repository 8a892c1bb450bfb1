using Compression.Onnx.Protos;
using Microsoft.Win32.SafeHandles;

namespace Compression.Onnx;

/// <summary>
/// Moves a model's tensors into one external data file, as <c>onnx.save_model(..., save_as_external_data=True)</c>
/// does: each tensor's bytes start at an offset aligned to <see cref="Alignment"/> bytes (zeros between), and the tensor
/// keeps only its <c>location</c>, <c>offset</c> and <c>length</c>. Tensors whose data is still in the original model's
/// external files are copied from those files in chunks, never read whole, so that writing a model of any size takes
/// memory for one chunk.
/// </summary>
public static class ExternalDataWriter
{
    /// <summary>Where each tensor's data starts: a multiple of this many bytes (a page), so that readers can map it.</summary>
    public const int Alignment = 4096;

    private const int CopyChunkBytes = 1 << 20;

    /// <summary>
    /// Writes to <paramref name="data"/> the data of every tensor of <paramref name="model"/> that keeps its data in an
    /// external file of the original, and of every other tensor with at least <paramref name="threshold"/> bytes of
    /// <c>raw_data</c>, in the order of <see cref="ModelTensors.Enumerate(ModelProto)"/>, and points each at
    /// <paramref name="location"/>; its <c>raw_data</c> is dropped as soon as it is written.
    /// </summary>
    /// <param name="model">The model to change.</param>
    /// <param name="data">The data file's stream, empty, positioned at its start.</param>
    /// <param name="location">The data file's name relative to the folder the model will be saved in.</param>
    /// <param name="threshold">The fewest bytes of inline data a tensor must hold to go to the data file.</param>
    /// <param name="sourceDirectory">The folder the original's external data locations are relative to, or null when it has none.</param>
    /// <param name="sourceModelPath">The original model's file, for messages, or null.</param>
    /// <returns>The number of bytes written to <paramref name="data"/>.</returns>
    /// <exception cref="OnnxFormatException">The original's external data is missing, outside its folder, or shorter than the model says.</exception>
    public static long Write(ModelProto model, Stream data, string location, long threshold, string? sourceDirectory, string? sourceModelPath)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(location);
        var sources = new Dictionary<string, SafeFileHandle>(StringComparer.Ordinal);
        byte[] buffer = [];
        long position = 0;
        try
        {
            foreach (TensorProto tensor in ModelTensors.Enumerate(model))
            {
                bool external = tensor.DataLocation == TensorProto.Types.DataLocation.External;
                if (!external && (tensor.RawData.Length == 0 || tensor.RawData.Length < threshold))
                {
                    continue;
                }

                long offset = (position + Alignment - 1) / Alignment * Alignment;
                data.Write(new byte[offset - position]);
                long length;
                if (external)
                {
                    if (buffer.Length == 0)
                    {
                        buffer = new byte[CopyChunkBytes];
                    }

                    length = CopyFromSource(tensor, data, buffer, sources, sourceDirectory, sourceModelPath);
                }
                else
                {
                    length = tensor.RawData.Length;
                    data.Write(tensor.RawData.Span);
                }

                new ExternalDataReference(location, offset, length).ApplyTo(tensor);
                position = offset + length;
            }
        }
        finally
        {
            foreach (SafeFileHandle handle in sources.Values)
            {
                handle.Dispose();
            }
        }

        return position;
    }

    private static long CopyFromSource(TensorProto tensor, Stream data, byte[] buffer, Dictionary<string, SafeFileHandle> sources, string? sourceDirectory, string? sourceModelPath)
    {
        string subject = ExternalDataReference.Describe(tensor.Name, sourceModelPath);
        string what = tensor.Name.Length == 0 ? "a tensor" : $"tensor '{tensor.Name}'";
        if (sourceDirectory is null)
        {
            throw new OnnxFormatException($"{subject} keeps its data in an external file, but the model was not read from a file.", sourceModelPath);
        }

        ExternalDataReference reference = ExternalDataReference.FromTensor(tensor, sourceModelPath);
        string path = reference.ResolvePath(sourceDirectory, tensor.Name, sourceModelPath);
        if (!sources.TryGetValue(path, out SafeFileHandle? file))
        {
            if (!File.Exists(path))
            {
                throw new OnnxFormatException(
                    $"{subject} keeps its data in the external file '{path}', which does not exist. Copy the model together with the data files beside it.",
                    path);
            }

            file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            sources.Add(path, file);
        }

        long fileLength = RandomAccess.GetLength(file);
        long length = reference.Length ?? fileLength - reference.Offset;
        if (reference.Offset > fileLength || length > fileLength - reference.Offset)
        {
            throw new OnnxFormatException(
                $"{subject} says its data is {length} bytes at offset {reference.Offset} of '{path}', which ends past the end of that " +
                $"{fileLength}-byte file. The external data file does not belong to this model or is truncated; copy the model together with its data files again.",
                path);
        }

        long offset = reference.Offset;
        long left = length;
        while (left > 0)
        {
            int read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, left)), offset);
            if (read == 0)
            {
                throw new OnnxFormatException(
                    $"The external data file '{path}' ended early while the data of {what} was being copied; it may have been truncated meanwhile.",
                    path);
            }

            data.Write(buffer, 0, read);
            offset += read;
            left -= read;
        }

        return length;
    }
}
