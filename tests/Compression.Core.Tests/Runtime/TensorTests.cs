using Compression.Core.Runtime;
namespace Compression.Core.Tests.Runtime;

/// <summary>The managed side of tensors: what they refuse before anything reaches ONNX Runtime.</summary>
public class TensorTests
{
    [Fact]
    public void The_shape_must_hold_exactly_the_data()
    {
        Assert.Throws<ArgumentException>(() => OnnxTensor.FromArray(new float[5], 2, 3));
        Assert.Throws<ArgumentException>(() => OnnxTensor.FromArray(new float[1], 2, -1));
        Assert.Throws<ArgumentException>(() => OnnxTensor.FromStrings(["a"], 2));
        Assert.Equal(6, OnnxTensor.FromArray(new float[6], 2, 3).ElementCount);
        Assert.Equal(1, OnnxTensor.FromArray(new float[1]).ElementCount);
    }

    [Fact]
    public void Element_types_must_fit_the_CLR_type()
    {
        Assert.Throws<ArgumentException>(() => new OnnxTensor<float>(new float[1], [1], TensorElementType.Int32));
        Assert.Throws<ArgumentException>(() => new OnnxTensor<short>(new short[1], [1], TensorElementType.BFloat16));
        Assert.Equal(TensorElementType.BFloat16, new OnnxTensor<ushort>(new ushort[1], [1], TensorElementType.BFloat16).ElementType);
        Assert.Throws<NotSupportedException>(() => OnnxTensor.FromArray(new char[1], 1));
    }

    [Fact]
    public void As_checks_the_element_type()
    {
        OnnxTensor tensor = OnnxTensor.FromArray(new[] { 1f, 2f }, 2);

        Assert.Same(tensor, tensor.As<float>());
        var e = Assert.Throws<InvalidCastException>(() => tensor.As<int>());
        Assert.Contains("float", e.Message, StringComparison.Ordinal);
        Assert.Equal("float[2]", tensor.ToString());
        Assert.Equal("[]", OnnxTensor.FormatShape([]));
    }

    [Theory]
    [InlineData(TensorElementType.Float, 4, "float")]
    [InlineData(TensorElementType.Bool, 1, "bool")]
    [InlineData(TensorElementType.BFloat16, 2, "bfloat16")]
    [InlineData(TensorElementType.UInt64, 8, "uint64")]
    [InlineData(TensorElementType.String, 0, "string")]
    public void Element_type_facts(TensorElementType type, int size, string name)
    {
        Assert.Equal(size, TensorElementTypes.SizeInBytes(type));
        Assert.Equal(name, TensorElementTypes.Name(type));
    }
}
