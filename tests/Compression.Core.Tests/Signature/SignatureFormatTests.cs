using Compression.Core.Signature;
using Compression.Core.Tests.Support;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Signature;

/// <summary>The signature format's corner cases: escaping, unknown ranks and dimensions, initializers listed as inputs.</summary>
public sealed class SignatureFormatTests
{
    [Fact]
    public void Tabs_newlines_and_backslashes_in_fields_are_escaped()
    {
        var signature = new ModelSignature(
            @"models\a	b.onnx",
            "line one\r\nline two",
            [],
            10,
            10,
            new Dictionary<string, string>(),
            [],
            []);

        string[] lines = signature.ToText().Split('\n');

        Assert.Equal(@"source	models\\a\tb.onnx", lines[2]);
        Assert.Equal(@"description	line one\r\nline two", lines[3]);
        Assert.Equal("size\t10\t10", lines[4]);
    }

    [Fact]
    public void Parse_reads_back_what_ToText_wrote_escapes_ranks_and_session_entries_included()
    {
        var signature = new ModelSignature(
            @"models\a	b.onnx",
            "line one\r\nline two \\ end",
            ["8-bit; weights", "second\ttechnique"],
            1234,
            567,
            new Dictionary<string, string> { ["session.b"] = "1", ["session.a"] = "x\ty" },
            [new TensorSignature("in\tput", "float", ["$batch", "64", "?"]), new TensorSignature("scalar", "int64", [])],
            [new TensorSignature("out", "sequence", null)]);

        ModelSignature parsed = ModelSignature.Parse(signature.ToText());

        Assert.Equal(signature.ToText(), parsed.ToText());
        Assert.Equal(signature.Source, parsed.Source);
        Assert.Equal(signature.Description, parsed.Description);
        Assert.Equal(signature.Compression, parsed.Compression);
        Assert.Equal((1234L, 567L), (parsed.OriginalBytes, parsed.CompressedBytes));
        Assert.Equal(["$batch", "64", "?"], parsed.Inputs[0].Dims!);
        Assert.Empty(parsed.Inputs[1].Dims!);
        Assert.Null(parsed.Outputs[0].Dims);
        Assert.Throws<FormatException>(() => ModelSignature.Parse("format\t2\nsource\tx\nsize\t1\t1\n"));
        Assert.Throws<FormatException>(() => ModelSignature.Parse(signature.ToText() + "input\tx\tfloat\t2\t1\n"));
    }

    [Fact]
    public void Interface_lines_give_rank_and_dimensions_with_symbols_unknowns_and_unknown_ranks()
    {
        ModelProto model = new ModelBuilder()
            .Input("tokens", DataType.Int64, "batch", "sequence")
            .Input("mask", DataType.Bool, "batch", "?")
            .Initializer("w", [4], new float[4])
            .InitializerAsInput("w")
            .Node("Identity", ["tokens"], ["ids"])
            .Output("ids", DataType.Int64, null)
            .Build();
        // A dimension with neither size nor name is unknown.
        model.Graph.Input[1].Type.TensorType.Shape.Dim[1].ClearDimParam();

        (IReadOnlyList<TensorSignature> inputs, IReadOnlyList<TensorSignature> outputs) = ModelSignature.ReadInterface(model);
        var signature = new ModelSignature("m.onnx", null, [], 1, 1, new Dictionary<string, string>(), inputs, outputs);
        string[] lines = signature.ToText().TrimEnd('\n').Split('\n');

        Assert.Equal(
            [
                "input\ttokens\tint64\t2\t$batch\t$sequence",
                "input\tmask\tbool\t2\t$batch\t?",
                "output\tids\tint64\t*",
            ],
            lines[^3..]);
        Assert.DoesNotContain(lines, line => line.StartsWith("description", StringComparison.Ordinal));
        Assert.Equal("[batch, ?]", inputs[1].ShapeText);
        Assert.Equal("unknown", outputs[0].ShapeText);
    }

    [Theory]
    [InlineData("One sentence.", "One sentence.")]
    [InlineData("  First line\n  continues here.\n\nSecond part.", "First line continues here.")]
    [InlineData("Windows\r\nlines\r\n\r\nrest", "Windows lines")]
    [InlineData("   ", null)]
    public void The_description_is_the_doc_string_up_to_its_first_blank_line_on_one_line(string docString, string? expected)
    {
        Assert.Equal(expected, ModelSignature.FirstParagraph(docString));
    }

    [Theory]
    [InlineData(1, "float")]
    [InlineData(7, "int64")]
    [InlineData(8, "string")]
    [InlineData(9, "bool")]
    [InlineData(10, "float16")]
    [InlineData(16, "bfloat16")]
    [InlineData(17, "float8e4m3fn")]
    [InlineData(22, "int4")]
    [InlineData(0, "undefined")]
    [InlineData(99, "undefined")]
    public void Element_types_are_written_with_their_ONNX_names_in_lower_case(int elementType, string name) =>
        Assert.Equal(name, ModelSignature.ElementTypeName(elementType));

    [Fact]
    public void Initializers_listed_as_inputs_are_optional_inputs_written_after_the_required_ones()
    {
        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, "batch", 4)
            .Initializer("bias", [4], new float[4])
            .InitializerAsInput("bias")
            .Initializer("w", [4], new float[4])
            .Node("Add", ["x", "bias"], ["y"])
            .Output("y", DataType.Float, "batch", 4)
            .Build();

        (IReadOnlyList<TensorSignature> inputs, IReadOnlyList<TensorSignature> outputs) = ModelSignature.ReadInterface(model);
        var signature = new ModelSignature("m.onnx", null, [], 1, 1, new Dictionary<string, string>(), inputs, outputs)
        {
            OptionalInputs = ModelSignature.ReadOptionalInputs(model),
        };
        string[] lines = signature.ToText().TrimEnd('\n').Split('\n');

        Assert.Equal(
            [
                "input\tx\tfloat\t2\t$batch\t4",
                "optional-input\tbias\tfloat\t1\t4",
                "output\ty\tfloat\t2\t$batch\t4",
            ],
            lines[^3..]);
    }

    [Fact]
    public void Before_IR_version_4_initializers_listed_as_inputs_are_weights_not_optional_inputs()
    {
        ModelProto model = new ModelBuilder(opset: 7, irVersion: 3)
            .Input("x", DataType.Float, 4)
            .Initializer("w", [4], new float[4])
            .InitializerAsInput("w")
            .Node("Add", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 4)
            .Build();

        Assert.Empty(ModelSignature.ReadOptionalInputs(model));
    }
}
