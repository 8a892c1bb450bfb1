using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Google.Protobuf;

namespace Compression.Onnx;

/// <summary>
/// The <c>raw_data</c> form of tensor elements: fixed-width little-endian bytes, one byte (0 or 1) per boolean.
/// </summary>
internal static class RawTensorData
{
    /// <summary>
    /// Whether <paramref name="rawData"/> can be read in place as <typeparamref name="T"/>: the machine is little-endian
    /// (or elements are single bytes), and booleans are all 0 or 1.
    /// </summary>
    public static bool CanReadInPlace<T>(ReadOnlySpan<byte> rawData)
        where T : unmanaged
    {
        if (typeof(T) == typeof(bool))
        {
            return rawData.IndexOfAnyExcept((byte)0, (byte)1) < 0;
        }

        return BitConverter.IsLittleEndian || Unsafe.SizeOf<T>() == 1;
    }

    /// <summary>The elements of <paramref name="rawData"/> converted to this machine's byte order, booleans as 0 or 1.</summary>
    public static T[] Decode<T>(ReadOnlySpan<byte> rawData)
        where T : unmanaged
    {
        var values = new T[rawData.Length / Unsafe.SizeOf<T>()];
        Span<byte> bytes = MemoryMarshal.AsBytes(values.AsSpan());
        rawData.CopyTo(bytes);
        Normalize<T>(bytes);
        return values;
    }

    /// <summary>The <c>raw_data</c> bytes of <paramref name="values"/>.</summary>
    public static ByteString Encode<T>(ReadOnlySpan<T> values)
        where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(values);
        if (CanReadInPlace<T>(bytes))
        {
            return ByteString.CopyFrom(bytes);
        }

        byte[] copy = bytes.ToArray();
        Normalize<T>(copy);
        return UnsafeByteOperations.UnsafeWrap(copy);
    }

    /// <summary>Swaps bytes between little-endian and this machine's order, and turns nonzero booleans into 1.</summary>
    private static void Normalize<T>(Span<byte> bytes)
        where T : unmanaged
    {
        if (typeof(T) == typeof(bool))
        {
            for (int i = 0; i < bytes.Length; i++)
            {
                bytes[i] = bytes[i] != 0 ? (byte)1 : (byte)0;
            }
        }
        else if (!BitConverter.IsLittleEndian)
        {
            switch (Unsafe.SizeOf<T>())
            {
                case 2:
                    var shorts = MemoryMarshal.Cast<byte, ushort>(bytes);
                    BinaryPrimitives.ReverseEndianness(shorts, shorts);
                    break;
                case 4:
                    var ints = MemoryMarshal.Cast<byte, uint>(bytes);
                    BinaryPrimitives.ReverseEndianness(ints, ints);
                    break;
                case 8:
                    var longs = MemoryMarshal.Cast<byte, ulong>(bytes);
                    BinaryPrimitives.ReverseEndianness(longs, longs);
                    break;
                default:
                    break;
            }
        }
    }
}
