using System.Globalization;
using System.Text;
using Compression.Core.Runtime;

namespace Compression.Core.Evaluation;

/// <summary>
/// Reads NumPy's <c>.npy</c> files (format versions 1 to 3): a C-ordered array of a little-endian numeric or bool type,
/// as <c>numpy.save</c> writes it.
/// </summary>
public static class NumPyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the array in <paramref name="path"/>.</summary>
    /// <exception cref="FormatException">The file is not a .npy file of a supported type and layout; the message says why.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static OnnxTensor Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new FormatException("it does not start with NumPy's .npy signature");
        }

        int major = bytes[6];
        int headerLength;
        int headerStart;
        if (major == 1)
        {
            headerLength = BitConverter.ToUInt16(bytes, 8);
            headerStart = 10;
        }
        else if (major is 2 or 3 && bytes.Length >= 12)
        {
            uint length = BitConverter.ToUInt32(bytes, 8);
            headerLength = length > int.MaxValue ? -1 : (int)length;
            headerStart = 12;
        }
        else
        {
            throw new FormatException($".npy format version {major} is not supported (1 to 3 are)");
        }

        if (headerLength < 0 || headerStart + headerLength > bytes.Length)
        {
            throw new FormatException("its header is longer than the file");
        }

        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(bytes, headerStart, headerLength);
        string descr = Field(header, "descr");
        string fortran = Field(header, "fortran_order");
        long[] shape = Shape(Field(header, "shape"));
        if (fortran.Trim() != "False")
        {
            throw new FormatException("it is stored in Fortran order; save it with numpy.ascontiguousarray first");
        }

        ReadOnlySpan<byte> data = bytes.AsSpan(headerStart + headerLength);
        string type = descr.Trim().Trim('\'', '"');
        if (type.Length >= 2 && type[0] == '>' && type[1..] is not ("i1" or "u1" or "b1"))
        {
            throw new FormatException($"its element type '{type}' is big-endian; save it as little-endian ('<{type[1..]}')");
        }

        string code = type.TrimStart('<', '|', '=');
        return code switch
        {
            "f4" => Create<float>(data, shape),
            "f8" => Create<double>(data, shape),
            "f2" => Create<Half>(data, shape),
            "i1" => Create<sbyte>(data, shape),
            "u1" => Create<byte>(data, shape),
            "i2" => Create<short>(data, shape),
            "u2" => Create<ushort>(data, shape),
            "i4" => Create<int>(data, shape),
            "u4" => Create<uint>(data, shape),
            "i8" => Create<long>(data, shape),
            "u8" => Create<ulong>(data, shape),
            "b1" or "?" => Create<bool>(data, shape),
            _ => throw new FormatException($"its element type '{type}' is not supported (float16/32/64, int8-64, uint8-64, bool are)"),
        };
    }

    private static OnnxTensor<T> Create<T>(ReadOnlySpan<byte> data, long[] shape) where T : unmanaged
    {
        long count = 1;
        foreach (long size in shape)
        {
            count = checked(count * size);
        }

        int elementSize = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (count * elementSize > data.Length)
        {
            throw new FormatException($"its shape [{string.Join(", ", shape)}] needs {count * elementSize} bytes of data, but the file holds {data.Length}");
        }

        T[] values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(data[..(int)(count * elementSize)]).ToArray();
        return new OnnxTensor<T>(values, shape);
    }

    private static string Field(string header, string name)
    {
        int key = header.IndexOf("'" + name + "'", StringComparison.Ordinal);
        if (key < 0)
        {
            throw new FormatException($"its header has no '{name}'");
        }

        int colon = header.IndexOf(':', key);
        int start = colon + 1;
        int depth = 0;
        for (int i = start; i < header.Length; i++)
        {
            char c = header[i];
            if (c == '(')
            {
                depth++;
            }
            else if (c == ')')
            {
                depth--;
            }
            else if ((c == ',' && depth == 0) || c == '}')
            {
                return header[start..i].Trim();
            }
        }

        throw new FormatException($"its header's '{name}' has no end");
    }

    private static long[] Shape(string text)
    {
        string inner = text.Trim().TrimStart('(').TrimEnd(')');
        var sizes = new List<long>();
        foreach (string part in inner.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!long.TryParse(part.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture, out long size))
            {
                throw new FormatException($"its shape '{text}' is not a tuple of sizes");
            }

            sizes.Add(size);
        }

        return [.. sizes];
    }
}
