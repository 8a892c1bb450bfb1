using System.Globalization;

namespace Compression.Onnx;

/// <summary>
/// A bfloat16 number (ONNX <c>BFLOAT16</c>): the upper 16 bits of an IEEE 754 single, with 8 exponent bits and
/// 7 mantissa bits. Converting from <see cref="float"/> rounds to the nearest value, ties to even; NaN stays NaN.
/// Converting to <see cref="float"/> is exact.
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>, IFormattable
{
    private const ushort SignMask = 0x8000;
    private const ushort ExponentMask = 0x7F80;
    private const ushort MantissaMask = 0x007F;
    private const ushort QuietNaNBit = 0x0040;

    private readonly ushort _bits;

    private BFloat16(ushort bits) => _bits = bits;

    /// <summary>Positive zero.</summary>
    public static BFloat16 Zero => new(0x0000);

    /// <summary>One.</summary>
    public static BFloat16 One => new(0x3F80);

    /// <summary>Positive infinity.</summary>
    public static BFloat16 PositiveInfinity => new(0x7F80);

    /// <summary>Negative infinity.</summary>
    public static BFloat16 NegativeInfinity => new(0xFF80);

    /// <summary>A quiet NaN (bits 0x7FC0).</summary>
    public static BFloat16 NaN => new(0x7FC0);

    /// <summary>The largest finite value, about 3.39e38.</summary>
    public static BFloat16 MaxValue => new(0x7F7F);

    /// <summary>The most negative finite value, about -3.39e38.</summary>
    public static BFloat16 MinValue => new(0xFF7F);

    /// <summary>The smallest positive value, a subnormal of about 9.2e-41.</summary>
    public static BFloat16 Epsilon => new(0x0001);

    /// <summary>The 16 bits of the value as stored in ONNX tensors.</summary>
    public ushort Bits => _bits;

    /// <summary>Whether the value is NaN.</summary>
    public bool IsNaN => (_bits & ExponentMask) == ExponentMask && (_bits & MantissaMask) != 0;

    /// <summary>Whether the value is positive or negative infinity.</summary>
    public bool IsInfinity => (_bits & (ExponentMask | MantissaMask)) == ExponentMask;

    /// <summary>Whether the sign bit is set (including -0 and negative NaNs).</summary>
    public bool IsNegative => (_bits & SignMask) != 0;

    /// <summary>The value with the given bits.</summary>
    /// <param name="bits">The 16 bits, as stored in ONNX tensors.</param>
    public static BFloat16 FromBits(ushort bits) => new(bits);

    /// <summary>
    /// The nearest bfloat16 to <paramref name="value"/>, ties to even. Values beyond the largest finite bfloat16 by at
    /// least half a unit in the last place become infinity; NaN stays NaN with its sign and top payload bits.
    /// </summary>
    /// <param name="value">The single-precision value.</param>
    public static BFloat16 FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            // Truncating the payload could clear every mantissa bit and give infinity; the quiet bit keeps it a NaN.
            return new BFloat16((ushort)((bits >> 16) | QuietNaNBit));
        }

        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return new BFloat16((ushort)((bits + roundingBias) >> 16));
    }

    /// <summary>The exact single-precision value.</summary>
    public float ToSingle() => BitConverter.UInt32BitsToSingle((uint)_bits << 16);

    /// <summary>The nearest bfloat16 to <paramref name="value"/>, ties to even; see <see cref="FromSingle"/>.</summary>
    /// <param name="value">The single-precision value.</param>
    public static explicit operator BFloat16(float value) => FromSingle(value);

    /// <summary>The exact single-precision value.</summary>
    /// <param name="value">The bfloat16 value.</param>
    public static implicit operator float(BFloat16 value) => value.ToSingle();

    /// <summary>Whether two values are equal as numbers: NaN equals nothing, and +0 equals -0.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    public static bool operator ==(BFloat16 left, BFloat16 right) => left.ToSingle() == right.ToSingle();

    /// <summary>Whether two values differ as numbers: NaN differs from everything, and +0 equals -0.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    public static bool operator !=(BFloat16 left, BFloat16 right) => !(left == right);

    /// <summary>Whether <paramref name="left"/> is less than <paramref name="right"/>; false when either is NaN.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    public static bool operator <(BFloat16 left, BFloat16 right) => left.ToSingle() < right.ToSingle();

    /// <summary>Whether <paramref name="left"/> is greater than <paramref name="right"/>; false when either is NaN.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    public static bool operator >(BFloat16 left, BFloat16 right) => left.ToSingle() > right.ToSingle();

    /// <summary>Whether <paramref name="left"/> is at most <paramref name="right"/>; false when either is NaN.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    public static bool operator <=(BFloat16 left, BFloat16 right) => left.ToSingle() <= right.ToSingle();

    /// <summary>Whether <paramref name="left"/> is at least <paramref name="right"/>; false when either is NaN.</summary>
    /// <param name="left">A value.</param>
    /// <param name="right">Another value.</param>
    public static bool operator >=(BFloat16 left, BFloat16 right) => left.ToSingle() >= right.ToSingle();

    /// <summary>
    /// Whether <paramref name="other"/> is the same number, as <see cref="float.Equals(float)"/> decides:
    /// NaN equals NaN here (so values can be dictionary keys), and +0 equals -0.
    /// </summary>
    /// <param name="other">Another value.</param>
    public bool Equals(BFloat16 other) => ToSingle().Equals(other.ToSingle());

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => ToSingle().GetHashCode();

    /// <summary>Orders values as <see cref="float.CompareTo(float)"/> does: NaN first, then by value.</summary>
    /// <param name="other">Another value.</param>
    public int CompareTo(BFloat16 other) => ToSingle().CompareTo(other.ToSingle());

    /// <summary>The value as text, as the equal <see cref="float"/> formats in the current culture.</summary>
    public override string ToString() => ToSingle().ToString(CultureInfo.CurrentCulture);

    /// <summary>The value as text, as the equal <see cref="float"/> formats.</summary>
    /// <param name="format">A numeric format string, or null.</param>
    /// <param name="formatProvider">The culture or format provider, or null for the current culture.</param>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToSingle().ToString(format, formatProvider);
}
