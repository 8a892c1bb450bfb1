using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator.Tests;

/// <summary>Problems with a signature or its metadata are reported as OCB1xxx errors that name the signature file.</summary>
public class DiagnosticTests
{
    private static readonly Sidecar Good = Sidecar.For("digits.onnx", Signatures.Digits);

    private static string Simple(params string[] extraLines) =>
        Signatures.Of(["format\t1", "input\tx\tfloat\t1\t3", .. extraLines, "output\ty\tfloat\t1\t3"]);

    [Theory]
    [InlineData("input\tpixels\tfloat\t2\t$batch", "input 'pixels' has rank 2, so 2 dimension fields must follow, but 1 do")]
    [InlineData("input\tpixels\tfloat\tx", "the rank 'x' of input 'pixels' is neither a non-negative integer nor '*'")]
    [InlineData("input\tpixels\tfloat\t1\t-1", "dimension 0 ('-1') of input 'pixels' is not a non-negative integer, '$name' or '?'")]
    [InlineData("input\tpixels\tfloat\t1\t$", "dimension 0 ('$') of input 'pixels' is not a non-negative integer, '$name' or '?'")]
    [InlineData("output\tlogits\tfloat\t*\t3", "output 'logits' has rank '*' (unknown), so no dimension fields may follow, but 1 do")]
    [InlineData("input\tpixels", "expected at least 4 tab-separated fields ('input', the name, the element type, the rank and one field per dimension) but found 2")]
    [InlineData("input\t\tfloat\t0", "the input name is empty")]
    [InlineData("input\tx\tfloat\t0", "the input 'x' appears more than once")]
    [InlineData("optional-input\tx\tfloat\t0", "the optional-input 'x' appears more than once")]
    [InlineData("optional-input\tbias\tfloat\t1", "optional-input 'bias' has rank 1, so 1 dimension fields must follow, but 0 do")]
    [InlineData("size\t12", "expected 3 tab-separated fields ('size', the original size in bytes and the compressed size in bytes) but found 2")]
    [InlineData("size\tbig\t1", "the sizes 'big' and '1' are not both non-negative integers")]
    [InlineData("session-config\tkey", "expected 3 tab-separated fields ('session-config', a key and a value) but found 2")]
    [InlineData("description\tbad \\q escape", "field 2 has the unknown escape '\\q'")]
    [InlineData("source\tends with \\", "field 2 ends with a lone '\\'")]
    public void Malformed_line_is_reported_with_its_line_number_and_what_was_expected(string line, string expected)
    {
        Sidecar bad = Sidecar.For("bad.onnx", Simple(line));

        GeneratorRun run = GeneratorRun.Start([bad, Good]);

        Diagnostic diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal("OCB1001", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"Line 3 of the model signature '{bad.Path}' is malformed: ", message, StringComparison.Ordinal);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        FileLinePositionSpan span = diagnostic.Location.GetLineSpan();
        Assert.Equal(bad.Path, span.Path);
        Assert.Equal(2, span.StartLinePosition.Line);
        Assert.Equal(["Sample.App.Digits.g.cs"], run.HintNames);
    }

    [Fact]
    public void Bad_signature_does_not_stop_the_other_models()
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("bad.onnx", Simple("input\tpixels")), Good]);

        Assert.Equal(["OCB1001"], run.Diagnostics.Select(d => d.Id));
        Assert.Equal(["Sample.App.Digits.g.cs"], run.HintNames);
        Assert.Empty(run.CompilationProblems());
    }

    [Fact]
    public void Newer_format_version_is_reported_as_written_by_a_newer_package()
    {
        Sidecar future = Sidecar.For("future.onnx", Signatures.Of("format\t2", "input\tx\tfloat16x4\tsomething\tnew", "tensor-layout\tNCHW"));

        GeneratorRun run = GeneratorRun.Start([future, Good]);

        Diagnostic diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal("OCB1002", diagnostic.Id);
        string message = diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"'{future.Path}' has format version 2, but this generator reads format version 1", message, StringComparison.Ordinal);
        Assert.Contains("newer Compression.Build package", message, StringComparison.Ordinal);
        Assert.Equal(["Sample.App.Digits.g.cs"], run.HintNames);
    }

    [Theory]
    [InlineData("format\t0", "OCB1001", "the format version '0' is not a positive integer")]
    [InlineData("format\tone", "OCB1001", "the format version 'one' is not a positive integer")]
    [InlineData("format\t1\t2", "OCB1001", "expected 2 tab-separated fields")]
    [InlineData("format\t1\nformat\t1", "OCB1001", "the 'format' line appears more than once")]
    [InlineData("input\tx\tfloat\t1\t3", "OCB1007", "it has no 'format' line")]
    [InlineData("", "OCB1007", "it has no 'format' line")]
    public void Signature_without_a_valid_format_line_is_rejected(string text, string id, string expected)
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("broken.onnx", text)]);

        Diagnostic diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Contains(expected, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(run.HintNames);
    }

    [Fact]
    public void Unreadable_signature_is_reported()
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("gone.onnx", null)]);

        Diagnostic diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal("OCB1007", diagnostic.Id);
        Assert.Contains("could not be read", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("my-model", "it is not a C# identifier")]
    [InlineData("class", "it is a C# keyword")]
    [InlineData("@Digits", "it is not a C# identifier")]
    [InlineData("Session", "the generated class has a member of that name")]
    [InlineData("Outputs", "the generated class has a member of that name")]
    public void Invalid_class_name_is_reported(string className, string reason)
    {
        Sidecar sidecar = Sidecar.For("digits.onnx", Simple()) with { ClassName = className };

        GeneratorRun run = GeneratorRun.Start([sidecar]);

        Diagnostic diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal("OCB1003", diagnostic.Id);
        Assert.Equal(
            $"The class name '{className}' for the model signature '{sidecar.Path}' cannot be used: {reason}. Set the ClassName metadata of the model's OnnxModel item to a valid C# identifier. No class was generated for the model.",
            diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Empty(run.HintNames);
    }

    [Theory]
    [InlineData("Digits")]
    [InlineData("DIGITS")]
    public void Two_models_generating_the_same_class_are_reported(string secondClassName)
    {
        var first = new Sidecar("/app/obj/compressed/a/digits.onnx.signature", Signatures.Digits);
        Sidecar second = new Sidecar("/app/obj/compressed/b/digits.onnx.signature", Signatures.Digits) with { ClassName = secondClassName };

        GeneratorRun run = GeneratorRun.Start([second, first]);

        Diagnostic diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal("OCB1004", diagnostic.Id);
        Assert.Equal(
            $"The model signatures '{second.Path}' and '{first.Path}' both generate the class 'Sample.App.{secondClassName}'; the class was generated for '{first.Path}' only. Set the ClassName metadata (or Namespace) of one of the two OnnxModel items in the project file, such as <OnnxModel Update=\"Models/b/net.onnx\" ClassName=\"NetB\" />.",
            diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(second.Path, diagnostic.Location.GetLineSpan().Path);
        Assert.Equal(["Sample.App.Digits.g.cs"], run.HintNames);
        Assert.Empty(run.CompilationProblems());
    }

    [Fact]
    public void Same_signature_listed_twice_generates_its_class_once()
    {
        GeneratorRun run = GeneratorRun.Start([Good, Good]).AssertCleanBuild();

        Assert.Equal(["Sample.App.Digits.g.cs"], run.HintNames);
    }

    [Fact]
    public void Invalid_OnnxNamespace_is_reported()
    {
        Sidecar sidecar = Sidecar.For("digits.onnx", Simple()) with { Namespace = "My-App.Models" };

        Diagnostic diagnostic = Assert.Single(GeneratorRun.Start([sidecar]).Diagnostics);

        Assert.Equal("OCB1005", diagnostic.Id);
        Assert.Contains("'My-App.Models'", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Contains("Namespace metadata of the OnnxModel item", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1App")]
    [InlineData("App..Models")]
    [InlineData("global.App")]
    [InlineData("App.class")]
    public void Invalid_RootNamespace_is_reported(string rootNamespace)
    {
        Diagnostic diagnostic = Assert.Single(GeneratorRun.Start([Sidecar.For("digits.onnx", Simple())], rootNamespace: rootNamespace).Diagnostics);

        Assert.Equal("OCB1005", diagnostic.Id);
        Assert.Contains("the project's RootNamespace", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_OnnxClassAccessibility_is_reported()
    {
        Sidecar sidecar = Sidecar.For("digits.onnx", Simple()) with { Accessibility = "private" };

        Diagnostic diagnostic = Assert.Single(GeneratorRun.Start([sidecar]).Diagnostics);

        Assert.Equal("OCB1006", diagnostic.Id);
        Assert.Contains("'private'", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_keys_comments_byte_order_mark_and_CRLF_are_accepted()
    {
        string text = "\uFEFF# comment\r\n\r\nformat\t1\r\nquantization-table\tsomething\tnew\r\n#input\tignored\tfloat\t0\r\ninput\tx\tfloat\t1\t3\r\noutput\ty\tfloat\t1\t3\r\n";

        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", text)]).AssertCleanBuild();

        IMethodSymbol runMethod = run.Type("Sample.App.Digits").GetMembers("Run").OfType<IMethodSymbol>().First();
        Assert.Equal(["x"], runMethod.Parameters.Select(p => p.Name));
    }

    [Theory]
    [InlineData("\0\0\0\u0001\u0002")]
    [InlineData("PK\u0003\u0004 binary junk \uFFFD\uFFFD")]
    [InlineData("format\t1\ninput")]
    [InlineData("format\t1\ninput\t\t\t")]
    [InlineData("format\t1\ninput\tx\tfloat\t99999999999999999999")]
    [InlineData("format\t1\ninput\tx\tfloat\t3000000000")]
    [InlineData("format\t99999999999999999999")]
    [InlineData("format\t1\n\t\t\t\n\\\\\\")]
    [InlineData("format\t1\nsize\t-1\t-1\nsession-config\t\tvalue\nsession-config\tk\tv\nsession-config\tk\tv")]
    [InlineData("format\t1\ninput\tx\tfloat\t2\t9223372036854775807\t9223372036854775807\noutput\ty\tfloat\t*")]
    [InlineData("format\t1\ninput\t\uD800\tfloat\t1\t$\uDC00")]
    public void Garbage_never_crashes_the_generator(string text)
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("garbage.onnx", text), Good]);

        Assert.Null(run.Result.Exception);
        Assert.All(run.Diagnostics, diagnostic => Assert.StartsWith("OCB1", diagnostic.Id, StringComparison.Ordinal));
        Assert.Contains("Sample.App.Digits.g.cs", run.HintNames);
        Assert.Empty(run.CompilationProblems());
    }

    [Fact]
    public void Every_diagnostic_is_an_error_with_an_OCB1_id()
    {
        var descriptors = typeof(DiagnosticDescriptors)
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Select(field => (DiagnosticDescriptor)field.GetValue(null)!)
            .ToArray();

        Assert.Equal(7, descriptors.Length);
        Assert.All(descriptors, descriptor =>
        {
            Assert.Matches("^OCB1[0-9]{3}$", descriptor.Id);
            Assert.Equal(DiagnosticSeverity.Error, descriptor.DefaultSeverity);
            Assert.Contains("{0}", descriptor.MessageFormat.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        });
        Assert.Equal(descriptors.Length, descriptors.Select(d => d.Id).Distinct().Count());
    }
}
