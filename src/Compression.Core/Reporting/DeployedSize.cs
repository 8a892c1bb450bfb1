using System.IO.Compression;

namespace Compression.Core.Reporting;

/// <summary>
/// The size of a model as it travels: its file (and its external data files) compressed with deflate as a zip archive
/// stores them (one deflate stream per file, or the file as it is when deflate would make it larger), the size that counts in an app package, a container layer or a download.
/// Pruned zeros and the few distinct bytes of clustered or quantized weights compress there; float weights barely do. The
/// level depends only on the file's length (<see cref="LevelFor"/>), so the same bytes give the same size.
/// </summary>
public static class DeployedSize
{
    /// <summary>Files up to this length are deflated at <see cref="CompressionLevel.Optimal"/>, longer ones at <see cref="CompressionLevel.Fastest"/>.</summary>
    public const long OptimalLimit = 64L << 20;

    /// <summary>
    /// The deflate level for a file of <paramref name="length"/> bytes: <see cref="CompressionLevel.Optimal"/>, the level zip
    /// tools use by default, up to <see cref="OptimalLimit"/>; <see cref="CompressionLevel.Fastest"/> above, where the
    /// optimal level would take longer than the compression itself (tens of seconds a gigabyte).
    /// </summary>
    public static CompressionLevel LevelFor(long length) => length <= OptimalLimit ? CompressionLevel.Optimal : CompressionLevel.Fastest;

    /// <summary>The size of <paramref name="data"/> in a zip: deflated, or stored as it is when deflate would not make it smaller.</summary>
    public static long Of(ReadOnlySpan<byte> data)
    {
        var counter = new CountingStream();
        using (var deflate = new DeflateStream(counter, LevelFor(data.Length), leaveOpen: true))
        {
            deflate.Write(data);
        }

        return Math.Min(counter.Length, data.Length);
    }

    /// <summary>The sum of the sizes of <paramref name="paths"/> in a zip (as <see cref="Of"/>), each file read as a stream.</summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static long OfFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        long total = 0;
        foreach (string path in paths)
        {
            var counter = new CountingStream();
            using (FileStream file = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.SequentialScan))
            using (var deflate = new DeflateStream(counter, LevelFor(file.Length), leaveOpen: true))
            {
                file.CopyTo(deflate, 1 << 20);
            }

            total += Math.Min(counter.Length, new FileInfo(path).Length);
        }

        return total;
    }

    /// <summary>A stream that keeps nothing and counts what is written to it.</summary>
    private sealed class CountingStream : Stream
    {
        private long length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => length;

        public override long Position { get => length; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => length += buffer.Length;
    }
}
