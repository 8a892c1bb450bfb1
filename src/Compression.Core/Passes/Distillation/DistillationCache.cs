using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Compression.Core.Evaluation;
using Compression.Onnx.Protos;
using Google.Protobuf;

namespace Compression.Core.Passes.Distillation;

/// <summary>
/// Recordings and refits of layer-wise distillation kept from one compression of a model to the next, for the budget
/// search: its sensitivity table compresses the same model once per layer and candidate with only that layer changed, so
/// a layer's input comes out the same in every one of its cells (the layers before it are left alone), and two candidates
/// that prune it alike (int8 + prune 50% and int4 + prune 50%) refit it from the same statistics to the same weights.
/// Each entry is keyed by everything its work reads, by content: a recording by SHA-256 of the teacher and the student as
/// serialized and of the nodes recorded; a refit by SHA-256 of the statistics, the teacher's weight, the mask, the prior
/// and the options. A hit therefore gives exactly what the work would have computed, bit for bit: the cache changes how
/// long a compression takes, never its result. Recordings are tied to one calibration sample set (the first one asked
/// for); another set is neither served nor stored. Entries are held until <see cref="Clear"/>: the search clears it when it
/// moves on to the next layer, so that it holds one layer's entries (a Gram of a 2,048-input layer is 32 MB).
/// Not thread-safe: one compression at a time.
/// </summary>
internal sealed class DistillationCache
{
    private readonly Dictionary<string, LayerStatistics[]> recordings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RefitResult> refits = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<LayerStatistics, byte[]> statisticsHashes = new();
    private SampleSet? samples;

    /// <summary>Recordings served from the cache since it was made.</summary>
    public int RecordingHits { get; private set; }

    /// <summary>Refits served from the cache since it was made.</summary>
    public int RefitHits { get; private set; }

    /// <summary>Forgets every entry.</summary>
    public void Clear()
    {
        recordings.Clear();
        refits.Clear();
        statisticsHashes.Clear();
    }

    /// <summary>The recording of <paramref name="key"/> on <paramref name="calibration"/>, made by <paramref name="record"/> when not kept.</summary>
    internal IReadOnlyList<LayerStatistics> Recording(string key, SampleSet calibration, Func<IReadOnlyList<LayerStatistics>> record)
    {
        samples ??= calibration;
        if (!ReferenceEquals(samples, calibration))
        {
            return record();
        }

        if (recordings.TryGetValue(key, out LayerStatistics[]? kept))
        {
            RecordingHits++;
            return kept;
        }

        LayerStatistics[] made = [.. record()];
        recordings[key] = made;
        return made;
    }

    /// <summary>
    /// <see cref="LeastSquares.Refit"/> with these arguments, or the result it gave them before (a copy: callers own the
    /// arrays they get).
    /// </summary>
    internal RefitResult Refit(LayerStatistics statistics, ReadOnlySpan<float> teacherWeight, int n, ReadOnlySpan<bool> free = default, bool withBias = false,
        ReadOnlySpan<float> prior = default, double damping = LeastSquares.DefaultDamping)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(statisticsHashes.GetValue(statistics, HashOf));
        hash.AppendData(MemoryMarshal.AsBytes(teacherWeight));
        hash.AppendData(MemoryMarshal.AsBytes(free));
        hash.AppendData(MemoryMarshal.AsBytes(prior));
        hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"\n{teacherWeight.Length} {free.Length} {prior.Length} {n} {withBias} {BitConverter.DoubleToInt64Bits(damping)}")));
        string key = Convert.ToHexString(hash.GetHashAndReset());
        if (!refits.TryGetValue(key, out RefitResult? result))
        {
            result = LeastSquares.Refit(statistics, teacherWeight, n, free, withBias, prior, damping);
            refits[key] = result;
        }
        else
        {
            RefitHits++;
        }

        return result with { Weight = (float[])result.Weight.Clone(), BiasCorrection = (float[]?)result.BiasCorrection?.Clone() };
    }

    /// <summary>SHA-256 of a model as serialized, without holding its bytes.</summary>
    internal static byte[] HashOf(ModelProto model)
    {
        using var stream = new HashingStream();
        model.WriteTo(stream);
        return stream.Hash();
    }

    /// <summary>SHA-256 of what a refit reads of <paramref name="statistics"/>.</summary>
    private static byte[] HashOf(LayerStatistics statistics)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(FormattableString.Invariant($"{statistics.StudentFeatures} {statistics.TeacherFeatures} {statistics.Rows}\n")));
        hash.AppendData(MemoryMarshal.AsBytes(statistics.StudentGram));
        hash.AppendData(MemoryMarshal.AsBytes(statistics.Cross));
        hash.AppendData(MemoryMarshal.AsBytes(statistics.StudentSum));
        hash.AppendData(MemoryMarshal.AsBytes(statistics.TeacherSum));
        return hash.GetHashAndReset();
    }

    /// <summary>A write-only stream that hashes what is written to it.</summary>
    private sealed class HashingStream : Stream
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public byte[] Hash() => hash.GetHashAndReset();

        public override void Write(byte[] buffer, int offset, int count) => hash.AppendData(buffer, offset, count);

        public override void Write(ReadOnlySpan<byte> buffer) => hash.AppendData(buffer);

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
