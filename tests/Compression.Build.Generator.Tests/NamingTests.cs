using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator.Tests;

/// <summary>How the generated class, its namespace, parameters and properties are named.</summary>
public class NamingTests
{
    private static string Simple(string inputName = "x") =>
        Signatures.Of("format\t1", $"input\t{inputName}\tfloat\t1\t3", "output\ty\tfloat\t1\t3");

    [Theory]
    [InlineData("digits.onnx", "Digits")]
    [InlineData("digits_mlp.onnx", "DigitsMlp")]
    [InlineData("resnet-50.onnx", "Resnet50")]
    [InlineData("mobilenet_v2.onnx", "MobilenetV2")]
    [InlineData("bert.base.uncased.onnx", "BertBaseUncased")]
    [InlineData("yoloV8n.onnx", "YoloV8n")]
    [InlineData("3d-unet.onnx", "_3dUnet")]
    [InlineData("MNIST.ONNX", "MNIST")]
    [InlineData("my model (final).onnx", "MyModelFinal")]
    [InlineData("модель.onnx", "Модель")]
    [InlineData("session.onnx", "SessionModel")]
    [InlineData("run.onnx", "RunModel")]
    [InlineData("---.onnx", "Model")]
    public void Class_name_is_the_model_file_name_in_PascalCase(string modelFileName, string className)
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For(modelFileName, Simple())]).AssertCleanBuild();

        Assert.Equal([$"Sample.App.{className}.g.cs"], run.HintNames);
    }

    [Fact]
    public void Only_additional_files_ending_with_onnx_signature_are_read()
    {
        GeneratorRun run = GeneratorRun.Start(
        [
            new Sidecar("/app/obj/compressed/DIGITS.ONNX.SIGNATURE", Simple()),
            new Sidecar("/app/obj/compressed/other.signature", Simple()),
            new Sidecar("/app/obj/compressed/model.onnx", Simple()),
            new Sidecar("/app/notes.txt", "not a signature"),
        ]).AssertCleanBuild();

        Assert.Equal(["Sample.App.DIGITS.g.cs"], run.HintNames);
    }

    [Fact]
    public void OnnxClassName_sets_the_class_name()
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", Simple()) with { ClassName = "HandwritingClassifier" }]).AssertCleanBuild();

        Assert.Equal(["Sample.App.HandwritingClassifier.g.cs"], run.HintNames);
    }

    [Fact]
    public void Lower_case_OnnxClassName_compiles_without_warning_CS8981()
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", Simple()) with { ClassName = "digits" }]).AssertCleanBuild();

        Assert.NotNull(run.Type("Sample.App.digits"));
    }

    [Fact]
    public void OnnxNamespace_sets_the_namespace()
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", Simple()) with { Namespace = "Contoso.Vision.Models" }]).AssertCleanBuild();

        Assert.Equal(["Contoso.Vision.Models.Digits.g.cs"], run.HintNames);
        Assert.Equal("Contoso.Vision.Models", run.Type("Contoso.Vision.Models.Digits").ContainingNamespace.ToDisplayString());
    }

    [Fact]
    public void Namespace_falls_back_to_the_root_namespace()
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", Simple())], rootNamespace: "My.App").AssertCleanBuild();

        Assert.Equal(["My.App.Digits.g.cs"], run.HintNames);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Class_is_in_the_global_namespace_without_a_namespace_or_root_namespace(string? rootNamespace)
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", Simple())], rootNamespace: rootNamespace).AssertCleanBuild();

        Assert.Equal(["Digits.g.cs"], run.HintNames);
        Assert.True(run.Type("Digits").ContainingNamespace.IsGlobalNamespace);
        Assert.DoesNotContain("namespace", run.Source("Digits.g.cs"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, Accessibility.Public)]
    [InlineData("public", Accessibility.Public)]
    [InlineData("internal", Accessibility.Internal)]
    public void OnnxClassAccessibility_sets_the_class_accessibility(string? accessibility, Accessibility expected)
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", Signatures.Digits) with { Accessibility = accessibility }]).AssertCleanBuild();

        Assert.Equal(expected, run.Type("Sample.App.Digits").DeclaredAccessibility);
    }

    [Theory]
    [InlineData(null, "digits.onnx")]
    [InlineData("Models/digits.onnx", "Models/digits.onnx")]
    [InlineData("Models\\Vision\\digits.onnx", "Models/Vision/digits.onnx")]
    public void ModelPath_comes_from_OnnxModelPath_or_the_model_file_name(string? metadata, string expected)
    {
        GeneratorRun run = GeneratorRun.Start([Sidecar.For("digits.onnx", Simple()) with { ModelPath = metadata }]).AssertCleanBuild();

        IFieldSymbol modelPath = run.Type("Sample.App.Digits").GetMembers("ModelPath").OfType<IFieldSymbol>().Single();
        Assert.Equal(expected, modelPath.ConstantValue);
    }

    [Fact]
    public void Parameter_names_are_unique_camelCase_identifiers_with_keywords_escaped()
    {
        string[] inputs = ["input_ids", "attention-mask", "class", "input.1", "input_1", "X", "XMLHttp", "1st", "::", "params"];
        string signature = Signatures.Of(["format\t1", .. inputs.Select(name => $"input\t{name}\tfloat\t1\t3"), "output\ty\tfloat\t1\t3"]);

        GeneratorRun run = GeneratorRun.Start([Sidecar.For("names.onnx", signature)], userSources: """
            namespace Probe
            {
                internal static class NamesProbe
                {
                    public static void Call(Sample.App.Names model, float[] v) =>
                        model.Run(inputIds: v, attentionMask: v, @class: v, input1: v, input1_2: v, x: v, xmlHttp: v, _1st: v, input: v, @params: v);
                }
            }
            """).AssertCleanBuild();

        IMethodSymbol[] runs = run.Type("Sample.App.Names").GetMembers("Run").OfType<IMethodSymbol>().ToArray();
        Assert.Equal(2, runs.Length);
        Assert.All(runs, method => Assert.Equal(
            ["inputIds", "attentionMask", "class", "input1", "input1_2", "x", "xmlHttp", "_1st", "input", "params"],
            method.Parameters.Select(parameter => parameter.Name)));
    }

    [Fact]
    public void Property_names_are_unique_PascalCase_identifiers_that_hide_no_member()
    {
        string[] outputs = ["last_hidden_state", "logits", "Logits", "to_string", "get_type", "outputs", "0", "::", "equals", "names"];
        string signature = Signatures.Of(["format\t1", "input\tx\tfloat\t1\t3", .. outputs.Select(name => $"output\t{name}\tfloat\t1\t3")]);

        GeneratorRun run = GeneratorRun.Start([Sidecar.For("names.onnx", signature)]).AssertCleanBuild();

        INamedTypeSymbol outputsClass = run.Type("Sample.App.Names+Outputs");
        string[] properties = outputsClass.GetMembers().OfType<IPropertySymbol>().Select(property => property.Name).ToArray();
        Assert.Equal(
            ["LastHiddenState", "Logits", "Logits2", "ToStringOutput", "GetTypeOutput", "OutputsOutput", "_0", "Output", "EqualsOutput", "Names"],
            properties.Where(name => !name.EndsWith("Shape", StringComparison.Ordinal) && !name.EndsWith("View", StringComparison.Ordinal)));
        Assert.Equal(properties.Length, properties.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Shape_and_view_properties_of_outputs_never_take_the_name_of_an_output()
    {
        string signature = Signatures.Of("format\t1", "input\tx\tfloat\t1\t3", "output\tlogits\tfloat\t1\t3", "output\tlogits_shape\tint64\t1\t1", "output\tlogits_view\tstring\t1\t1");

        GeneratorRun run = GeneratorRun.Start([Sidecar.For("views.onnx", signature)]).AssertCleanBuild();

        Assert.Equal(
            ["Logits", "LogitsShape", "LogitsShape2", "LogitsShapeShape", "LogitsShapeView", "LogitsView", "LogitsView2", "LogitsViewShape"],
            run.Type("Sample.App.Views+Outputs").GetMembers().OfType<IPropertySymbol>().Select(property => property.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Locals_of_the_generated_methods_do_not_collide_with_parameters()
    {
        // The shape check of input "x" declares xShape; an input named "x_shape" must not collide with it.
        string signature = Signatures.Of("format\t1", "input\tx\tfloat\t2\t$batch\t3", "input\tx_shape\tfloat\t2\t$batch\t3", "input\tx_batch\tfloat\t1\t$batch", "output\ty\tfloat\t1\t3");

        GeneratorRun.Start([Sidecar.For("locals.onnx", signature)]).AssertCleanBuild();
    }

    [Fact]
    public void Models_with_the_same_file_name_in_other_folders_can_be_told_apart_by_OnnxClassName()
    {
        GeneratorRun run = GeneratorRun.Start(
        [
            new Sidecar("/app/obj/compressed/a/model.onnx.signature", Simple()) with { ClassName = "First" },
            new Sidecar("/app/obj/compressed/b/model.onnx.signature", Simple()) with { ClassName = "Second" },
        ]).AssertCleanBuild();

        Assert.Equal(["Sample.App.First.g.cs", "Sample.App.Second.g.cs"], run.HintNames);
    }
}
