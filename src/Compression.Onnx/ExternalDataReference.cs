using System.Globalization;
using Compression.Onnx.Protos;

namespace Compression.Onnx;

/// <summary>
/// Where a tensor's data lives when it is kept outside the model file (<c>data_location = EXTERNAL</c>):
/// the <c>external_data</c> entries <c>location</c>, <c>offset</c>, <c>length</c> and <c>checksum</c>.
/// </summary>
public sealed record ExternalDataReference
{
    /// <summary>The <c>external_data</c> key of the file's path, relative to the model's folder.</summary>
    public const string LocationKey = "location";

    /// <summary>The <c>external_data</c> key of the byte offset of the data in the file.</summary>
    public const string OffsetKey = "offset";

    /// <summary>The <c>external_data</c> key of the number of bytes of data.</summary>
    public const string LengthKey = "length";

    /// <summary>The <c>external_data</c> key of the SHA-1 digest of the data.</summary>
    public const string ChecksumKey = "checksum";

    /// <summary>Creates a reference to bytes of a file beside the model.</summary>
    /// <param name="location">The file's path relative to the model's folder, with '/' between folders.</param>
    /// <param name="offset">Where the data starts in the file, in bytes.</param>
    /// <param name="length">How many bytes of data there are, or null for all bytes to the end of the file.</param>
    /// <param name="checksum">The SHA-1 digest of the data as the writer recorded it, or null.</param>
    public ExternalDataReference(string location, long offset = 0, long? length = null, string? checksum = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "The length of external data cannot be negative.");
        }

        Location = location;
        Offset = offset;
        Length = length;
        Checksum = checksum;
    }

    /// <summary>The file's path relative to the model's folder.</summary>
    public string Location { get; }

    /// <summary>Where the data starts in the file, in bytes.</summary>
    public long Offset { get; }

    /// <summary>How many bytes of data there are, or null for all bytes from <see cref="Offset"/> to the end of the file.</summary>
    public long? Length { get; }

    /// <summary>The SHA-1 digest of the data as the writer recorded it, or null. It is not verified on load.</summary>
    public string? Checksum { get; }

    /// <summary>Reads the reference from a tensor whose <c>data_location</c> is <c>EXTERNAL</c>.</summary>
    /// <param name="tensor">The tensor.</param>
    /// <exception cref="OnnxFormatException">The tensor's data is not external, or its entries are missing or malformed.</exception>
    public static ExternalDataReference FromTensor(TensorProto tensor) => FromTensor(tensor, modelPath: null);

    /// <summary>
    /// The full path of the file this reference names, checked to lie inside the model's folder.
    /// </summary>
    /// <param name="modelDirectory">The folder of the model file.</param>
    /// <exception cref="OnnxFormatException">The location is absolute or leads out of the model's folder.</exception>
    public string ResolvePath(string modelDirectory) => ResolvePath(modelDirectory, tensorName: null, modelPath: null);

    /// <summary>
    /// Marks <paramref name="tensor"/> as keeping its data in this file: sets its <c>external_data</c> entries
    /// and <c>data_location = EXTERNAL</c>, and removes its inline data.
    /// </summary>
    /// <param name="tensor">The tensor to change.</param>
    public void ApplyTo(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        tensor.ClearRawData();
        tensor.FloatData.Clear();
        tensor.Int32Data.Clear();
        tensor.Int64Data.Clear();
        tensor.DoubleData.Clear();
        tensor.Uint64Data.Clear();
        tensor.StringData.Clear();
        tensor.ExternalData.Clear();
        tensor.ExternalData.Add(new StringStringEntryProto { Key = LocationKey, Value = Location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = OffsetKey, Value = Offset.ToString(CultureInfo.InvariantCulture) });
        if (Length is long length)
        {
            tensor.ExternalData.Add(new StringStringEntryProto { Key = LengthKey, Value = length.ToString(CultureInfo.InvariantCulture) });
        }

        if (Checksum is not null)
        {
            tensor.ExternalData.Add(new StringStringEntryProto { Key = ChecksumKey, Value = Checksum });
        }

        tensor.DataLocation = TensorProto.Types.DataLocation.External;
    }

    internal static ExternalDataReference FromTensor(TensorProto tensor, string? modelPath)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        string subject = Describe(tensor.Name, modelPath);
        if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
        {
            throw new OnnxFormatException($"{subject} keeps its data in the model, not in an external file.", modelPath);
        }

        string? location = null;
        string? checksum = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case LocationKey:
                    location = entry.Value;
                    break;
                case OffsetKey:
                    offset = ParseByteCount(entry, subject, modelPath);
                    break;
                case LengthKey:
                    length = ParseByteCount(entry, subject, modelPath);
                    break;
                case ChecksumKey:
                    checksum = entry.Value;
                    break;
                default:
                    // Other keys (e.g. "basepath" written by some exporters) do not affect where the data is.
                    break;
            }
        }

        if (string.IsNullOrEmpty(location))
        {
            throw new OnnxFormatException(
                $"{subject} has data_location = EXTERNAL but no '{LocationKey}' entry in external_data naming the file that holds its data. " +
                "Export the model again with its external data.",
                modelPath);
        }

        return new ExternalDataReference(location, offset, length, checksum);
    }

    /// <summary>
    /// The real path of the file this reference names (every symbolic link followed), checked to lie inside the model's
    /// real folder and, when it exists, to be a regular file; messages name the tensor and the model.
    /// </summary>
    /// <param name="modelDirectory">The folder of the model file.</param>
    /// <param name="tensorName">The tensor's name, for messages, or null.</param>
    /// <param name="modelPath">The model's file, for messages, or null.</param>
    /// <exception cref="OnnxFormatException">
    /// The location is absolute, leads out of the model's folder (by '..' or through a link), or names a folder, a named pipe, a device or a socket.
    /// </exception>
    public string ResolvePath(string modelDirectory, string? tensorName, string? modelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        string subject = Describe(tensorName, modelPath);
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelDirectory));
        string relative = Location.Replace('\\', '/');
        if (relative.Contains('\0', StringComparison.Ordinal))
        {
            throw new OnnxFormatException($"{subject} names its external data file with a NUL character in '{LocationKey}'.", modelPath);
        }

        if (IsAbsolute(relative))
        {
            throw new OnnxFormatException(
                $"{subject} names its external data file by the absolute path '{Location}'. External data must be named " +
                $"relative to the model's folder '{root}'; move the file beside the model and set '{LocationKey}' to its relative path.",
                modelPath);
        }

        string fullPath = Path.GetFullPath(Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar)));
        string rootWithSeparator = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        if (!fullPath.StartsWith(rootWithSeparator, PathComparison) || fullPath.Length == rootWithSeparator.Length)
        {
            throw new OnnxFormatException(
                $"{subject} names its external data file '{Location}', which is not a file inside the model's folder '{root}'. " +
                "External data must stay in the model's folder or below it; a path that leads out of it (for example with '..') is refused.",
                modelPath);
        }

        return CheckRealPath(root, fullPath, subject, modelPath);
    }

    /// <summary>
    /// Checks that <see cref="Length"/> bytes (or all to the end when null) at <see cref="Offset"/> lie within a
    /// file of <paramref name="fileLength"/> bytes, and returns how many bytes the data has.
    /// </summary>
    /// <param name="fileLength">The length of the file, in bytes.</param>
    /// <param name="dataPath">The file, for messages.</param>
    /// <param name="tensorName">The tensor's name, for messages, or null.</param>
    /// <param name="modelPath">The model's file, for messages, or null.</param>
    /// <exception cref="OnnxFormatException">The data would start or end past the end of the file.</exception>
    public long CheckRange(long fileLength, string dataPath, string? tensorName, string? modelPath)
    {
        string subject = Describe(tensorName, modelPath);
        if (Offset > fileLength)
        {
            throw new OnnxFormatException(
                $"{subject} says its data starts at byte {Offset} of '{Location}' ('{dataPath}'), but that file has only {fileLength} bytes. " +
                "The external data file does not belong to this model or is truncated; copy the model together with its data files again.",
                dataPath);
        }

        long length = Length ?? fileLength - Offset;
        if (length > fileLength - Offset)
        {
            throw new OnnxFormatException(
                $"{subject} says its data is {length} bytes at offset {Offset} of '{Location}' ('{dataPath}'), which ends past the end of that " +
                $"{fileLength}-byte file. The external data file does not belong to this model or is truncated; copy the model together with its data files again.",
                dataPath);
        }

        return length;
    }

    /// <summary>
    /// The real path of <paramref name="fullPath"/> (every symbolic link followed, of the file and of each folder on the
    /// way), checked to lie inside the real model folder and, when it exists, to be a regular file: a link must not
    /// lead the reader out of the model's folder, and a named pipe or a device could block it or never end.
    /// </summary>
    private string CheckRealPath(string root, string fullPath, string subject, string? modelPath)
    {
        string realRoot;
        string realPath;
        try
        {
            realRoot = RealPath.Resolve(root);
            realPath = RealPath.Resolve(fullPath);
        }
        catch (IOException e)
        {
            throw new OnnxFormatException(
                $"{subject} names its external data file '{Location}', which cannot be resolved: {e.Message} " +
                "Replace the links by the file itself, beside the model.",
                modelPath,
                e);
        }

        string realRootWithSeparator = realRoot.EndsWith(Path.DirectorySeparatorChar) ? realRoot : realRoot + Path.DirectorySeparatorChar;
        if (!realPath.StartsWith(realRootWithSeparator, PathComparison) || realPath.Length == realRootWithSeparator.Length)
        {
            throw new OnnxFormatException(
                $"{subject} names its external data file '{Location}', which is a symbolic link, or lies in a linked folder, that leads to " +
                $"'{realPath}', outside the model's folder '{realRoot}'. External data must stay in the model's folder or below it, " +
                "links included; copy the data file itself beside the model.",
                modelPath);
        }

        RealPath.EntryKind kind = RealPath.KindOf(realPath);
        if (kind is RealPath.EntryKind.Folder or RealPath.EntryKind.Special)
        {
            string what = kind == RealPath.EntryKind.Folder ? "a folder" : "not a regular file (a named pipe, a device or a socket)";
            throw new OnnxFormatException(
                $"{subject} names its external data file '{Location}', but '{realPath}' is {what}. External data must be a regular file " +
                "in the model's folder; export the model again with its external data, or copy the data files beside it.",
                modelPath);
        }

        // A missing file keeps its path as the model names it, for the callers' "does not exist" message.
        return kind == RealPath.EntryKind.Missing ? fullPath : realPath;
    }

    internal static string Describe(string? tensorName, string? modelPath)
    {
        string tensor = string.IsNullOrEmpty(tensorName) ? "A tensor" : $"Tensor '{tensorName}'";
        return modelPath is null ? tensor : $"{tensor} of the ONNX model '{modelPath}'";
    }

    private static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private static bool IsAbsolute(string location) =>
        Path.IsPathRooted(location)
        || location.StartsWith('/')
        || (location.Length >= 2 && location[1] == ':' && char.IsAsciiLetter(location[0]));

    private static long ParseByteCount(StringStringEntryProto entry, string subject, string? modelPath)
    {
        if (long.TryParse(entry.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            return value;
        }

        throw new OnnxFormatException(
            $"{subject} has external_data '{entry.Key}' = '{entry.Value}', which is not a non-negative whole number of bytes.",
            modelPath);
    }
}
