using System.Runtime.CompilerServices;
using System.Text;

namespace Compression.Core.Runtime;

/// <summary>
/// A dense tensor passed to or returned from an <see cref="OnnxSession"/>: an element type, a shape and the
/// elements in row-major order. Inputs are read from the memory they were created over, without a copy.
/// </summary>
public abstract class OnnxTensor
{
    private readonly long[] shape;

    private protected OnnxTensor(TensorElementType elementType, ReadOnlySpan<long> shape)
    {
        ElementType = elementType;
        this.shape = shape.ToArray();
        long count = 1;
        for (int i = 0; i < this.shape.Length; i++)
        {
            if (this.shape[i] < 0)
            {
                throw new ArgumentException($"Dimension {i} of shape {FormatShape(shape)} is negative.", nameof(shape));
            }

            count = checked(count * this.shape[i]);
        }

        ElementCount = count;
    }

    /// <summary>The element type.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>The dimensions, outermost first. Empty for a scalar.</summary>
    public ReadOnlySpan<long> Shape => shape;

    /// <summary>The number of elements: the product of the dimensions (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>Creates a tensor over <paramref name="data"/> without copying it.</summary>
    /// <exception cref="ArgumentException">The shape does not hold exactly <c>data.Length</c> elements.</exception>
    public static OnnxTensor<T> FromMemory<T>(Memory<T> data, ReadOnlySpan<long> shape) where T : unmanaged =>
        new(data, shape, TensorElementTypes.Of<T>());

    /// <summary>Creates a tensor over <paramref name="data"/> without copying it.</summary>
    public static OnnxTensor<T> FromArray<T>(T[] data, params long[] shape) where T : unmanaged =>
        new(data, shape, TensorElementTypes.Of<T>());

    /// <summary>Creates a string tensor.</summary>
    public static OnnxStringTensor FromStrings(string[] values, params long[] shape) => new(values, shape);

    /// <summary>Returns this tensor as <see cref="OnnxTensor{T}"/>, or throws when its elements are not of <typeparamref name="T"/>.</summary>
    public OnnxTensor<T> As<T>() where T : unmanaged =>
        this as OnnxTensor<T> ?? throw new InvalidCastException(
            $"The tensor holds {TensorElementTypes.Name(ElementType)} elements, not {typeof(T).Name}.");

    /// <summary>Formats a shape as <c>[2, 3, 4]</c>.</summary>
    public static string FormatShape(ReadOnlySpan<long> shape)
    {
        var text = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            text.Append(i == 0 ? string.Empty : ", ").Append(shape[i]);
        }

        return text.Append(']').ToString();
    }

    /// <inheritdoc />
    public override string ToString() => $"{TensorElementTypes.Name(ElementType)}{FormatShape(Shape)}";

    /// <summary>Pins the elements for a native call and returns how many bytes they take.</summary>
    /// <exception cref="NotSupportedException">The elements are not of an unmanaged type (strings).</exception>
    internal abstract System.Buffers.MemoryHandle Pin(out long bytes);

    /// <summary>Elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) as a tensor of
    /// <paramref name="shape"/>, over the same memory where the elements are unmanaged.</summary>
    internal abstract OnnxTensor Slice(long start, int count, long[] shape);
}

/// <summary>A dense tensor of unmanaged elements over caller memory.</summary>
/// <typeparam name="T">The element type: float, double, Half, sbyte, byte, short, ushort, int, uint, long, ulong or bool
/// (ushort also carries the raw bits of bfloat16 and float16).</typeparam>
public sealed class OnnxTensor<T> : OnnxTensor where T : unmanaged
{
    /// <summary>Creates a tensor over <paramref name="data"/> without copying it.</summary>
    /// <param name="data">The elements in row-major order.</param>
    /// <param name="shape">The dimensions; their product must equal <c>data.Length</c>.</param>
    /// <param name="elementType">The ONNX element type; by default the one of <typeparamref name="T"/>.
    /// Use <see cref="TensorElementType.BFloat16"/> with ushort bits for bfloat16.</param>
    public OnnxTensor(Memory<T> data, ReadOnlySpan<long> shape, TensorElementType? elementType = null)
        : base(elementType ?? TensorElementTypes.Of<T>(), shape)
    {
        if (!TensorElementTypes.CanHold<T>(ElementType))
        {
            throw new ArgumentException($"{typeof(T).Name} cannot hold {TensorElementTypes.Name(ElementType)} elements.", nameof(elementType));
        }

        if (ElementCount != data.Length)
        {
            throw new ArgumentException(
                $"Shape {FormatShape(shape)} holds {ElementCount} elements but the data has {data.Length}.", nameof(shape));
        }

        Memory = data;
    }

    /// <summary>The elements, in row-major order.</summary>
    public Memory<T> Memory { get; }

    /// <summary>The elements, in row-major order.</summary>
    public Span<T> Span => Memory.Span;

    /// <summary>Copies the elements into a new array.</summary>
    public T[] ToArray() => Memory.ToArray();

    /// <summary>The element at a flat (row-major) index.</summary>
    public T this[int index] => Memory.Span[index];

    // Unsafe.SizeOf, not Marshal.SizeOf: the latter is the size of T marshalled to native code, 4 for bool (Win32 BOOL),
    // while the tensor's elements are T as it lies in memory, 1 byte for bool.
    internal int ByteLength => Memory.Length * Unsafe.SizeOf<T>();

    /// <inheritdoc />
    internal override System.Buffers.MemoryHandle Pin(out long bytes)
    {
        bytes = ByteLength;
        return Memory.Pin();
    }

    /// <inheritdoc />
    internal override OnnxTensor Slice(long start, int count, long[] shape) => new OnnxTensor<T>(Memory.Slice(checked((int)start), count), shape, ElementType);
}

/// <summary>A tensor of strings.</summary>
public sealed class OnnxStringTensor : OnnxTensor
{
    private readonly string[] values;

    /// <summary>Creates a string tensor; <paramref name="values"/> are not copied.</summary>
    public OnnxStringTensor(string[] values, ReadOnlySpan<long> shape)
        : base(TensorElementType.String, shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (ElementCount != values.Length)
        {
            throw new ArgumentException(
                $"Shape {FormatShape(shape)} holds {ElementCount} elements but {values.Length} strings were given.", nameof(shape));
        }

        this.values = values;
    }

    /// <summary>The strings, in row-major order.</summary>
    public IReadOnlyList<string> Values => values;

    internal string[] Array => values;

    /// <inheritdoc />
    internal override System.Buffers.MemoryHandle Pin(out long bytes) =>
        throw new NotSupportedException("String tensors are passed to ONNX Runtime element by element, not pinned.");

    /// <inheritdoc />
    internal override OnnxTensor Slice(long start, int count, long[] shape) => new OnnxStringTensor(values.AsSpan(checked((int)start), count).ToArray(), shape);
}
