using System.Collections.Immutable;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Compression.Build.Generator.Tests;

/// <summary>
/// The generator redoes only the work an edit calls for: typing in the app's code leaves every step cached, and
/// changing one signature re-runs the emitter for that model only.
/// </summary>
public class IncrementalityTests
{
    private static readonly Sidecar Digits = Sidecar.For("digits.onnx", Signatures.Digits);
    private static readonly Sidecar Sentiment = Sidecar.For("sentiment.onnx", Signatures.Sentiment);
    private static readonly Sidecar Notes = new("/app/notes.txt", "Some notes.");

    private static string[] StepNames { get; } = typeof(TrackingNames)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(field => field.IsLiteral)
        .Select(field => (string)field.GetRawConstantValue()!)
        .ToArray();

    [Fact]
    public void Every_pipeline_step_is_tracked()
    {
        GeneratorRun run = GeneratorRun.Start([Digits, Sentiment]);

        Assert.Equal(StepNames.Order(), run.Result.TrackedSteps.Keys.Where(StepNames.Contains).Order());
    }

    [Fact]
    public void Adding_app_code_leaves_every_step_cached()
    {
        GeneratorRun first = GeneratorRun.Start([Digits, Sentiment], userSources: "class First { }");

        GeneratorRun second = first.RunAgain(compilation =>
            compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("class Second { }", GeneratorRun.ParseOptions(), path: "/app/Second.cs")));

        AssertNothingRan(second.Result);
        Assert.Equal(first.Result.GeneratedSources.Select(s => s.SourceText.ToString()), second.Result.GeneratedSources.Select(s => s.SourceText.ToString()));
    }

    [Fact]
    public void Editing_app_code_leaves_every_step_cached()
    {
        GeneratorRun first = GeneratorRun.Start([Digits, Sentiment], userSources: "class First { }");

        GeneratorRun second = first.RunAgain(compilation =>
        {
            SyntaxTree tree = compilation.SyntaxTrees.Single();
            return compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(SourceText.From("class First { int x; }")));
        });

        AssertNothingRan(second.Result);
    }

    [Fact]
    public void Editing_an_unrelated_additional_file_leaves_every_step_cached()
    {
        GeneratorRun first = GeneratorRun.Start([Digits, Sentiment, Notes]);

        GeneratorRun second = first.RunAgainWithChangedFile(Notes.Path, "Other notes.");

        AssertNothingRan(second.Result);
    }

    [Fact]
    public void Changing_one_signature_reruns_the_emitter_for_that_model_only()
    {
        GeneratorRun first = GeneratorRun.Start([Digits, Sentiment]);
        string changed = Signatures.Digits.Replace("trained on the UCI digits", "trained again", StringComparison.Ordinal);

        GeneratorRun second = first.RunAgainWithChangedFile(Digits.Path, changed);

        Assert.Equal(
            [IncrementalStepRunReason.Modified, IncrementalStepRunReason.Cached],
            Reasons(second.Result, TrackingNames.GeneratedModels).Order());
        var emitted = (GeneratedModel)Assert.Single(
            second.Result.TrackedSteps[TrackingNames.GeneratedModels].SelectMany(step => step.Outputs),
            output => output.Reason == IncrementalStepRunReason.Modified).Value;
        Assert.Equal("Sample.App.Digits", emitted.FullName);
        Assert.Contains("trained again", second.Source("Sample.App.Digits.g.cs"), StringComparison.Ordinal);
        Assert.Equal(first.Source("Sample.App.Sentiment.g.cs"), second.Source("Sample.App.Sentiment.g.cs"));
    }

    [Fact]
    public void Changing_only_comments_of_a_signature_does_not_rerun_the_emitter()
    {
        GeneratorRun first = GeneratorRun.Start([Digits, Sentiment]);

        GeneratorRun second = first.RunAgainWithChangedFile(Digits.Path, "# rewritten\n" + Signatures.Digits);

        Assert.Contains(IncrementalStepRunReason.Unchanged, Reasons(second.Result, TrackingNames.ParsedModels));
        Assert.All(Reasons(second.Result, TrackingNames.GeneratedModels), reason => Assert.Equal(IncrementalStepRunReason.Cached, reason));
    }

    [Fact]
    public void Marking_the_assembly_CLS_compliant_regenerates_the_classes()
    {
        GeneratorRun first = GeneratorRun.Start([Digits, Sentiment], userSources: "class First { }");

        GeneratorRun second = first.RunAgain(compilation => compilation.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("[assembly: System.CLSCompliant(true)]", GeneratorRun.ParseOptions(), path: "/app/AssemblyInfo.cs")));

        second.AssertCleanBuild();
        Assert.All(Reasons(second.Result, TrackingNames.GeneratedModels), reason => Assert.Equal(IncrementalStepRunReason.Modified, reason));
        Assert.Contains("[global::System.CLSCompliant(false)]", second.Source("Sample.App.Digits.g.cs"), StringComparison.Ordinal);
    }

    [Fact]
    public void Pipeline_values_hold_no_compilation_objects()
    {
        // Values that hold symbols, syntax, locations or source text would keep compilations alive and never compare
        // equal across runs; everything between the steps must be plain data.
        var seen = new HashSet<Type>();
        AssertPlainData(typeof(ParsedModel), seen);
        AssertPlainData(typeof(GeneratedModel), seen);
        Assert.Contains(typeof(ModelSpec), seen);
        Assert.Contains(typeof(TensorSpec), seen);
    }

    private static void AssertPlainData(Type type, HashSet<Type> seen)
    {
        if (type.IsPrimitive || type == typeof(string) || type.IsEnum || !seen.Add(type))
        {
            return;
        }

        Assert.False(
            typeof(ISymbol).IsAssignableFrom(type) || typeof(SyntaxNode).IsAssignableFrom(type) || type == typeof(Location)
            || type == typeof(SourceText) || type == typeof(Compilation) || type == typeof(SyntaxTree) || type == typeof(AdditionalText),
            $"{type} is a compilation object.");
        if (type == typeof(DiagnosticDescriptor))
        {
            return; // Static, compared by value.
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(EquatableArray<>))
        {
            AssertPlainData(type.GetGenericArguments()[0], seen);
            return;
        }

        Assert.False(type.IsArray || (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ImmutableArray<>)), $"{type} compares by reference; use EquatableArray.");
        Assert.True(type.IsValueType || type.GetMethod("Equals", [type]) is not null, $"{type} has no value equality.");
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            AssertPlainData(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType, seen);
        }
    }

    private static IncrementalStepRunReason[] Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(run => run.Outputs).Select(output => output.Reason).ToArray();

    private static void AssertNothingRan(GeneratorRunResult result)
    {
        foreach (string name in StepNames)
        {
            Assert.True(result.TrackedSteps.ContainsKey(name), $"Step {name} was not tracked.");
            Assert.All(Reasons(result, name), reason => Assert.True(
                reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                $"Step {name} produced an output with reason {reason}."));
        }

        Assert.All(result.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(run => run.Outputs), output => Assert.True(
            output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
            $"An output step ran with reason {output.Reason}."));
    }
}
