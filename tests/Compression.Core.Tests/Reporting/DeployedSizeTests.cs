using System.IO.Compression;
using Compression.Core.Reporting;

namespace Compression.Core.Tests.Reporting;

public sealed class DeployedSizeTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void A_small_file_is_one_deflate_stream_at_the_optimal_level_as_zip_tools_write_it()
    {
        byte[] data = Weights(3 << 20);

        Assert.Equal(Whole(data, CompressionLevel.Optimal), DeployedSize.Of(data));
        Assert.Equal(DeployedSize.Of(data), DeployedSize.OfFiles([Write("small.bin", data)]));
    }

    [Fact]
    public void A_large_file_is_deflated_in_pieces_side_by_side_the_same_from_memory_and_from_disk_and_close_to_one_stream()
    {
        byte[] data = Weights((int)DeployedSize.OptimalLimit + (5 << 20) + 12345);

        long fromMemory = DeployedSize.Of(data);
        long fromDisk = DeployedSize.OfFiles([Write("large.bin", data)]);
        long whole = Whole(data, CompressionLevel.Fastest);

        Assert.Equal(fromMemory, fromDisk);
        Assert.Equal(fromMemory, DeployedSize.Of(data));
        Assert.InRange(fromMemory, whole * 0.999, whole * 1.001);
        Assert.True(fromMemory < data.Length / 2, $"{fromMemory} of {data.Length} bytes: the zeros should deflate");
    }

    [Fact]
    public void Data_that_deflate_would_enlarge_counts_as_stored()
    {
        byte[] noise = new byte[1 << 20];
        new Random(7).NextBytes(noise);

        Assert.Equal(noise.Length, DeployedSize.Of(noise));
    }

    /// <summary>Float32 weights of which three in four are zero, the rest seeded values: what a pruned model's file holds.</summary>
    private static byte[] Weights(int length)
    {
        var random = new Random(11);
        byte[] data = new byte[length];
        for (int i = 0; i + 4 <= length; i += 16)
        {
            BitConverter.TryWriteBytes(data.AsSpan(i), (float)(random.NextDouble() - 0.5));
        }

        return data;
    }

    private static long Whole(byte[] data, CompressionLevel level)
    {
        using var stream = new MemoryStream();
        using (var deflate = new DeflateStream(stream, level, leaveOpen: true))
        {
            deflate.Write(data);
        }

        return stream.Length;
    }

    private string Write(string name, byte[] data)
    {
        string path = folder.File(name);
        File.WriteAllBytes(path, data);
        return path;
    }
}
