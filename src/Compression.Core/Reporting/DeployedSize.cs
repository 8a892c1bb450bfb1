using System.IO.Compression;

namespace Compression.Core.Reporting;

/// <summary>
/// The size of a model as it travels: its file (and its external data files) compressed with deflate as a zip archive
/// stores them (one deflate stream per file, or the file as it is when deflate would make it larger), the size that counts in an app package, a container layer or a download.
/// Pruned zeros and the few distinct bytes of clustered or quantized weights compress there; float weights barely do. The
/// level and the pieces a long file is deflated in depend only on the file's length (<see cref="LevelFor"/>,
/// <see cref="PieceLength"/>), so the same bytes give the same size.
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

    /// <summary>
    /// Data longer than <see cref="OptimalLimit"/> is deflated in pieces of this length, side by side on every core, and
    /// their sizes added: a piece starts with an empty window, which costs a whole-file deflate of a gigabyte about a
    /// hundredth of a percent, and the pieces do not depend on the number of cores, so the same bytes still give the
    /// same size. Deflating a gigabyte took a third of a 1 GB model's compression on one core.
    /// </summary>
    public const int PieceLength = 16 << 20;

    /// <summary>The size of <paramref name="data"/> in a zip: deflated, or stored as it is when deflate would not make it smaller.</summary>
    public static long Of(ReadOnlyMemory<byte> data)
    {
        if (data.Length <= OptimalLimit)
        {
            return Math.Min(Deflated(data.Span, LevelFor(data.Length)), data.Length);
        }

        int pieces = (int)((data.Length + (long)PieceLength - 1) / PieceLength);
        long[] sizes = new long[pieces];
        Parallel.For(0, pieces, i =>
        {
            int start = i * PieceLength;
            sizes[i] = Deflated(data.Span.Slice(start, Math.Min(PieceLength, data.Length - start)), LevelFor(data.Length));
        });
        return Math.Min(sizes.Sum(), data.Length);
    }

    /// <summary>The sum of the sizes of <paramref name="paths"/> in a zip (as <see cref="Of"/>), each file read in pieces.</summary>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static long OfFiles(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        long total = 0;
        foreach (string path in paths)
        {
            using FileStream file = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.RandomAccess);
            long length = file.Length;
            if (length <= OptimalLimit)
            {
                byte[] bytes = new byte[length];
                RandomAccess.Read(file.SafeFileHandle, bytes, 0);
                total += Math.Min(Deflated(bytes, LevelFor(length)), length);
                continue;
            }

            long pieces = (length + PieceLength - 1) / PieceLength;
            long[] sizes = new long[pieces];
            Parallel.For(0L, pieces, () => new byte[PieceLength], (i, _, buffer) =>
            {
                long start = i * PieceLength;
                int count = (int)Math.Min(PieceLength, length - start);
                int read = 0;
                while (read < count)
                {
                    int n = RandomAccess.Read(file.SafeFileHandle, buffer.AsSpan(read, count - read), start + read);
                    if (n == 0)
                    {
                        throw new IOException($"'{path}' became shorter while its deployed size was measured.");
                    }

                    read += n;
                }

                sizes[i] = Deflated(buffer.AsSpan(0, count), LevelFor(length));
                return buffer;
            }, _ => { });
            total += Math.Min(sizes.Sum(), length);
        }

        return total;
    }

    private static long Deflated(ReadOnlySpan<byte> data, CompressionLevel level)
    {
        var counter = new CountingStream();
        using (var deflate = new DeflateStream(counter, level, leaveOpen: true))
        {
            deflate.Write(data);
        }

        return counter.Length;
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
