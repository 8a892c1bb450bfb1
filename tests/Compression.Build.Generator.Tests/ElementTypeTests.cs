using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator.Tests;

/// <summary>Tensors of every element type, scalars and open shapes go through the generated classes into ONNX Runtime and back.</summary>
public class ElementTypeTests(IdentityApp app) : IClassFixture<IdentityApp>
{
    private static readonly string ArraysModel = RepositoryPaths.TestModel("identity-arrays.onnx");
    private static readonly string OpenModel = RepositoryPaths.TestModel("identity-open.onnx");

    [Fact]
    public void App_with_the_generated_classes_builds_without_warnings()
    {
        app.Run.AssertCleanBuild();
        Assert.Equal(["Sample.App.IdentityArrays.g.cs", "Sample.App.IdentityOpen.g.cs"], app.Run.HintNames);
    }

    [Theory]
    [InlineData("RunArrays")]
    [InlineData("RunValues")]
    public void Every_element_type_round_trips(string method)
    {
        object[] outputs = app.Call<object[]>(method, ArraysModel);

        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6, 7, long.MaxValue }, outputs[0]);
        Assert.Equal(new long[] { 2, 4 }, outputs[1]);
        Assert.Equal(new[] { true, false, true, false, false, false, true, true }, outputs[2]);
        Assert.Equal(new[] { "héllo", "wörld ✓" }, outputs[3]);
        Assert.Equal(1.5f, outputs[4]);
        Assert.Equal(0, outputs[5]);
        Assert.Equal(new ushort[] { 0x3F80, 0xC000 }, outputs[6]);
        Assert.Equal("BFloat16", outputs[7]);
        Assert.Equal(new[] { -1, 0, int.MaxValue }, outputs[8]);
    }

    [Fact]
    public void Generated_parameters_and_properties_have_the_mapped_types()
    {
        INamedTypeSymbol type = app.Run.Type("Sample.App.IdentityArrays");
        IMethodSymbol[] runs = type.GetMembers("Run").OfType<IMethodSymbol>().ToArray();
        IMethodSymbol values = Assert.Single(runs, run => run.Parameters[0].Type.Name == "OrtValue");
        IMethodSymbol arrays = Assert.Single(runs, run => run.Parameters[0].Type is IArrayTypeSymbol);

        Assert.Equal(
            ["OrtValue tokens", "OrtValue mask", "OrtValue words", "OrtValue scale", "OrtValue bits", "OrtValue class"],
            values.Parameters.Select(Describe));
        Assert.Equal(["long[] tokens", "bool[] mask", "string[] words", "Float16 scale", "BFloat16[] bits", "int[] class"], arrays.Parameters.Select(Describe));

        INamedTypeSymbol outputs = type.GetTypeMembers("Outputs").Single();
        Assert.Equal(
            ["OrtValue TokensOut", "OrtValue MaskOut", "OrtValue WordsOut", "OrtValue ScaleOut", "OrtValue BitsOut", "OrtValue ClassOut"],
            outputs.GetMembers().OfType<IPropertySymbol>().Where(property => property.Type.Name == "OrtValue").Select(property => $"{Display(property.Type)} {property.Name}"));
        Assert.Equal(
            ["TensorView<long> TokensOutView", "TensorView<bool> MaskOutView", "TensorView<Half> ScaleOutView", "TensorView<BFloat16> BitsOutView", "TensorView<int> ClassOutView"],
            outputs.GetMembers().OfType<IPropertySymbol>().Where(property => property.Name.EndsWith("View", StringComparison.Ordinal)).Select(property => $"{Display(property.Type)} {property.Name}"));

        static string Describe(IParameterSymbol parameter) => $"{Display(parameter.Type)} {parameter.Name}";
        static string Display(ITypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);
    }

    [Fact]
    public void Inputs_sharing_a_dimension_must_agree_on_its_size_in_arrays()
    {
        Assert.Equal(3, app.Call<int>("RunArraysWithBatches", ArraysModel, 3, 3, 3));

        var error = Assert.Throws<ArgumentException>(() => app.Call<int>("RunArraysWithBatches", ArraysModel, 2, 3, 2));

        Assert.Equal("mask", error.ParamName);
        Assert.StartsWith(
            "Input 'mask' must have shape [batch, 4] with batch = 2 as in input 'tokens'; got 12 elements, which makes batch = 3.",
            error.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Inputs_sharing_a_dimension_must_agree_on_its_size_in_values()
    {
        Assert.Equal(2, app.Call<int>("RunValuesWithWordRows", ArraysModel, 2));

        var error = Assert.Throws<ArgumentException>(() => app.Call<int>("RunValuesWithWordRows", ArraysModel, 3));

        Assert.Equal("words", error.ParamName);
        Assert.StartsWith("Input 'words' must have shape [batch] with batch = 2 as in input 'tokens'; got [3].", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bfloat16_input_rejects_a_uint16_tensor()
    {
        var error = Assert.Throws<ArgumentException>(() => app.Call<int>("RunBitsAsUInt16", ArraysModel));

        Assert.Equal("bits", error.ParamName);
        Assert.StartsWith("Input 'bits' must hold bfloat16 elements; got UInt16.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inputs_of_unknown_rank_or_two_open_dimensions_run_from_values()
    {
        object[] outputs = app.Call<object[]>("RunOpen", OpenModel);

        Assert.Equal(new long[] { 1, 2, 3 }, outputs[0]);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, outputs[1]);
        Assert.Equal(new long[] { 2, 5 }, outputs[2]);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, outputs[3]);
    }

    [Fact]
    public void Inputs_of_unknown_rank_or_two_open_dimensions_get_no_array_overload()
    {
        IMethodSymbol run = Assert.Single(app.Run.Type("Sample.App.IdentityOpen").GetMembers("Run").OfType<IMethodSymbol>());

        Assert.Equal(["OrtValue values", "OrtValue grid"], run.Parameters.Select(p => $"{p.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)} {p.Name}"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_element_type_of_the_signature_format_compiles_for_NET_and_for_frameworks_without_System_Half(bool net)
    {
        string[] types = ["float", "double", "float16", "bfloat16", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool", "string", "complex64", "complex128", "float8e4m3fn", "int4"];
        var lines = new List<string> { "format\t1", "source\tall-types.onnx" };
        lines.AddRange(types.Select(type => $"input\tin_{type}\t{type}\t2\t$batch\t3"));
        lines.AddRange(types.Select(type => $"output\tout_{type}\t{type}\t1\t?"));
        lines.Add("input\tscalar\tfloat\t0");
        lines.Add("input\tanything\tint64\t*");
        lines.Add("output\tscalar_out\tstring\t0");
        lines.Add("output\tanything_out\tbool\t*");

        GeneratorRun run = GeneratorRun.Start([Sidecar.For("all-types.onnx", Signatures.Of([.. lines]))], preprocessorSymbols: net ? null : []).AssertCleanBuild();

        IMethodSymbol runMethod = Assert.Single(run.Type("Sample.App.AllTypes").GetMembers("Run").OfType<IMethodSymbol>());
        Assert.Equal(Enumerable.Repeat("OrtValue", types.Length + 2), runMethod.Parameters.Select(p => p.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)));
        string source = run.Source("Sample.App.AllTypes.g.cs");
        Assert.Contains("inFloat8e4m3fnInfo.ElementDataType != 17", source.Replace("(int)", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("inComplex64Info.ElementDataType != global::Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Complex64", source, StringComparison.Ordinal);
        IPropertySymbol half = run.Type("Sample.App.AllTypes+Outputs").GetMembers("OutFloat16View").OfType<IPropertySymbol>().Single();
        Assert.Equal(net ? "TensorView<Half>" : "TensorView<Float16>", half.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat));
    }
}
