using System.Runtime.InteropServices;
using System.Text;

namespace Compression.Testing;

/// <summary>Writes NumPy .npy files (format 1.0, C order, little-endian), as numpy.save does, for sample folders in tests.</summary>
internal static class NumPyWriter
{
    public static void Write<T>(string path, ReadOnlySpan<T> values, params long[] shape) where T : unmanaged
    {
        string descr = typeof(T) == typeof(float) ? "<f4"
            : typeof(T) == typeof(double) ? "<f8"
            : typeof(T) == typeof(long) ? "<i8"
            : typeof(T) == typeof(int) ? "<i4"
            : typeof(T) == typeof(byte) ? "|u1"
            : throw new NotSupportedException(typeof(T).Name);
        string dims = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}";
        int padded = ((10 + header.Length + 1 + 63) / 64 * 64) - 10;
        header = header.PadRight(padded - 1) + "\n";
        using var file = File.Create(path);
        file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        file.Write(BitConverter.GetBytes((ushort)header.Length));
        file.Write(Encoding.Latin1.GetBytes(header));
        file.Write(MemoryMarshal.AsBytes(values));
    }
}
