using System.Runtime.CompilerServices;
using Compression.Onnx.Protos;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;

namespace Compression.Onnx;

/// <summary>
/// Writes a model's tensors into one external data file, as <c>onnx.save_model(..., save_as_external_data=True)</c>
/// does: each tensor's bytes start at an offset aligned to <see cref="Alignment"/> bytes (zeros between), and the tensor
/// keeps only its <c>location</c>, <c>offset</c> and <c>length</c>. Tensors can be appended one at a time as they are
/// made (so that a compressor holds one weight at a time, not all of them), then the rest of the model at once; tensors
/// whose data is still in the original model's external files are copied from those files in chunks, never read whole.
/// </summary>
public sealed class ExternalDataWriter
{
    /// <summary>Where each tensor's data starts: a multiple of this many bytes (a page), so that readers can map it.</summary>
    public const int Alignment = 4096;

    private const int CopyChunkBytes = 1 << 20;

    private readonly FileStream data;
    private readonly string location;
    private readonly ConditionalWeakTable<TensorProto, ExternalDataReference> written = new();
    private long position;

    /// <summary>Starts writing to <paramref name="data"/>, an empty file opened for reading and writing.</summary>
    /// <param name="data">The data file; left open.</param>
    /// <param name="location">The data file's name relative to the folder the model will be saved in.</param>
    public ExternalDataWriter(FileStream data, string location)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrEmpty(location);
        this.data = data;
        this.location = location;
        position = data.Length;
    }

    /// <summary>The bytes written so far.</summary>
    public long Length => position;

    /// <summary>Whether <paramref name="tensor"/>'s data is in this file (it was appended and not read back since).</summary>
    public bool Holds(TensorProto tensor) =>
        tensor.DataLocation == TensorProto.Types.DataLocation.External && written.TryGetValue(tensor, out _);

    /// <summary>Moves <paramref name="tensor"/>'s <c>raw_data</c> to the end of the file and points the tensor at it.</summary>
    /// <param name="tensor">A tensor that holds its data in <c>raw_data</c>.</param>
    public void Append(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long offset = Pad();
        data.Write(tensor.RawData.Span);
        Point(tensor, offset, tensor.RawData.Length);
    }

    /// <summary>Reads a tensor this file holds back into its <c>raw_data</c>, for a pass that needs its values again.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not in this file.</exception>
    public void ReadBack(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!Holds(tensor) || !written.TryGetValue(tensor, out ExternalDataReference? reference))
        {
            throw new InvalidOperationException($"Tensor '{tensor.Name}' is not in this external data file.");
        }

        data.Flush();
        byte[] bytes = GC.AllocateUninitializedArray<byte>((int)reference.Length!.Value);
        int done = 0;
        while (done < bytes.Length)
        {
            int read = RandomAccess.Read(data.SafeFileHandle, bytes.AsSpan(done), reference.Offset + done);
            if (read == 0)
            {
                throw new EndOfStreamException($"The external data file '{data.Name}' ended while tensor '{tensor.Name}' was read back.");
            }

            done += read;
        }

        tensor.ExternalData.Clear();
        tensor.ClearDataLocation();
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(bytes);
        written.Remove(tensor);
    }

    /// <summary>
    /// Appends every tensor of <paramref name="model"/> not in the file yet that keeps its data in an external file of the
    /// original, and every other tensor with at least <paramref name="threshold"/> bytes of <c>raw_data</c>, in the order of
    /// <see cref="ModelTensors.Enumerate(ModelProto)"/>, and points each at this file; its <c>raw_data</c> is dropped.
    /// </summary>
    /// <param name="model">The model to change.</param>
    /// <param name="threshold">The fewest bytes of inline data a tensor must hold to go to the data file.</param>
    /// <param name="sourceDirectory">The folder the original's external data locations are relative to, or null when it has none.</param>
    /// <param name="sourceModelPath">The original model's file, for messages, or null.</param>
    /// <returns>The length of the data file.</returns>
    /// <exception cref="OnnxFormatException">The original's external data is missing, outside its folder, or shorter than the model says.</exception>
    public long AppendRest(ModelProto model, long threshold, string? sourceDirectory, string? sourceModelPath)
    {
        ArgumentNullException.ThrowIfNull(model);
        var sources = new Dictionary<string, SafeFileHandle>(StringComparer.Ordinal);
        byte[] buffer = [];
        try
        {
            foreach (TensorProto tensor in ModelTensors.Enumerate(model))
            {
                bool external = tensor.DataLocation == TensorProto.Types.DataLocation.External;
                if (external && Holds(tensor))
                {
                    continue;
                }

                if (!external)
                {
                    if (tensor.RawData.Length > 0 && tensor.RawData.Length >= threshold)
                    {
                        Append(tensor);
                    }

                    continue;
                }

                if (buffer.Length == 0)
                {
                    buffer = new byte[CopyChunkBytes];
                }

                long offset = Pad();
                long length = CopyFromSource(tensor, buffer, sources, sourceDirectory, sourceModelPath);
                Point(tensor, offset, length);
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

    private long Pad()
    {
        long offset = (position + Alignment - 1) / Alignment * Alignment;
        data.Write(new byte[offset - position]);
        position = offset;
        return offset;
    }

    private void Point(TensorProto tensor, long offset, long length)
    {
        var reference = new ExternalDataReference(location, offset, length);
        reference.ApplyTo(tensor);
        written.AddOrUpdate(tensor, reference);
        position = offset + length;
    }

    private long CopyFromSource(TensorProto tensor, byte[] buffer, Dictionary<string, SafeFileHandle> sources, string? sourceDirectory, string? sourceModelPath)
    {
        string subject = ExternalDataReference.Describe(tensor.Name, sourceModelPath);
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
                    $"The external data file '{path}' ended early while the data of tensor '{tensor.Name}' was being copied; it may have been truncated meanwhile.",
                    path);
            }

            data.Write(buffer, 0, read);
            offset += read;
            left -= read;
        }

        return length;
    }
}
