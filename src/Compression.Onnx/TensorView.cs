using System.Runtime.InteropServices;
using Compression.Onnx.Protos;
using Google.Protobuf;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Onnx;

/// <summary>
/// The elements of a <see cref="TensorProto"/> as a span of <typeparamref name="T"/>, whichever way the tensor stores
/// them. Made by <see cref="TensorValues.View{T}(TensorProto)"/>, which checks the element type and the data's length.
/// </summary>
/// <remarks>
/// When the tensor stores its data in <c>raw_data</c> the span reads those bytes in place (no copy), except on
/// big-endian machines and for booleans stored as bytes other than 0 and 1. Data in the typed fields
/// (<c>float_data</c>, <c>int32_data</c>, …) is converted once into an array. The view keeps the data it was made
/// from: later changes to the tensor do not show in it.
/// </remarks>
/// <typeparam name="T">The element type; see <see cref="TensorDataTypes.Of{T}"/>.</typeparam>
public readonly struct TensorView<T>
    where T : unmanaged
{
    private readonly long[]? _dims;
    private readonly ByteString? _rawData;
    private readonly T[]? _values;

    internal TensorView(TensorProto tensor, long[] dims, long elementCount, ByteString? rawData, T[]? values)
    {
        Tensor = tensor;
        _dims = dims;
        ElementCount = elementCount;
        _rawData = rawData;
        _values = values;
    }

    /// <summary>The tensor viewed, or null for a default view.</summary>
    public TensorProto? Tensor { get; }

    /// <summary>The tensor's name; empty when it has none.</summary>
    public string Name => Tensor?.Name ?? string.Empty;

    /// <summary>The ONNX element type, the one <typeparamref name="T"/> holds.</summary>
    public DataType DataType => TensorDataTypes.Of<T>();

    /// <summary>The tensor's shape when the view was made; empty for a scalar.</summary>
    public ReadOnlySpan<long> Dims => _dims;

    /// <summary>The number of elements: the product of <see cref="Dims"/>, and the length of <see cref="Span"/>.</summary>
    public long ElementCount { get; }

    /// <summary>Whether <see cref="Span"/> reads the tensor's <c>raw_data</c> in place rather than a converted copy.</summary>
    public bool IsZeroCopy => _rawData is not null;

    /// <summary>The elements in row-major order.</summary>
    public ReadOnlySpan<T> Span => _rawData is not null ? MemoryMarshal.Cast<byte, T>(_rawData.Span) : _values;

    /// <summary>The element at a row-major index.</summary>
    /// <param name="index">From 0 to <see cref="ElementCount"/> - 1.</param>
    public T this[int index] => Span[index];

    /// <summary>A new array with the elements in row-major order.</summary>
    public T[] ToArray() => Span.ToArray();

    /// <summary>The elements as an array that the caller may keep: the converted copy itself when there is one.</summary>
    internal T[] TakeArray() => _values ?? Span.ToArray();
}
