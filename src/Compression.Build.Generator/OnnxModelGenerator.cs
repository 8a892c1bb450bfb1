using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Compression.Build.Generator;

/// <summary>
/// Generates a typed C# class for each compressed ONNX model of the project. The build adds, beside each compressed
/// model, a signature file <c>&lt;model&gt;.onnx.signature</c> as an <c>AdditionalFiles</c> item; the generator
/// reads only these text files (never the models), and names and places each class by the item's metadata
/// <c>OnnxClassName</c>, <c>OnnxNamespace</c>, <c>OnnxModelPath</c> and <c>OnnxClassAccessibility</c>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class OnnxModelGenerator : IIncrementalGenerator
{
    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<AdditionalText> signatureFiles = context.AdditionalTextsProvider
            .Where(static file => CSharpNames.IsModelSignaturePath(file.Path))
            .WithTrackingName(TrackingNames.SignatureFiles);

        IncrementalValuesProvider<(AdditionalText File, AnalyzerConfigOptionsProvider Options)> withOptions = signatureFiles
            .Combine(context.AnalyzerConfigOptionsProvider)
            .WithTrackingName(TrackingNames.SignatureFilesWithOptions);

        IncrementalValuesProvider<ParsedModel> parsedModels = withOptions
            .Select(static (input, cancellationToken) => ModelParser.Parse(input.File, input.Options, cancellationToken))
            .WithTrackingName(TrackingNames.ParsedModels);

        // Public API of a CLS-compliant assembly must be CLS-compliant, and the generated class's is not (its types
        // come from Microsoft.ML.OnnxRuntime, which is not marked CLS-compliant): such an assembly gets the class marked
        // [CLSCompliant(false)] so that it compiles without warnings CS3001-CS3003.
        IncrementalValueProvider<bool> assemblyIsClsCompliant = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                "System.CLSCompliantAttribute",
                static (node, _) => node is CompilationUnitSyntax,
                static (attributeContext, _) => IsClsCompliantTrue(attributeContext.Attributes))
            .Collect()
            .Select(static (values, _) => values.Contains(true))
            .WithTrackingName(TrackingNames.AssemblyClsCompliance);

        IncrementalValuesProvider<GeneratedModel> generatedModels = parsedModels
            .Combine(assemblyIsClsCompliant)
            .Select(static (input, cancellationToken) => ModelEmitter.Generate(input.Left, input.Right, cancellationToken))
            .WithTrackingName(TrackingNames.GeneratedModels);

        IncrementalValueProvider<ImmutableArray<GeneratedModel>> allModels = generatedModels
            .Collect()
            .WithTrackingName(TrackingNames.AllGeneratedModels);

        context.RegisterSourceOutput(allModels, static (context, models) => AddSources(context, models));
    }

    private static bool IsClsCompliantTrue(ImmutableArray<AttributeData> attributes)
    {
        foreach (AttributeData attribute in attributes)
        {
            if (attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is true)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Reports every model's diagnostics and adds the generated classes. When several models would generate the same
    /// class (ignoring case, as generated file names must differ), the one whose signature path sorts first wins and
    /// the others get <c>OCB1004</c>.
    /// </summary>
    private static void AddSources(SourceProductionContext context, ImmutableArray<GeneratedModel> models)
    {
        var ordered = new List<GeneratedModel>(models);
        ordered.Sort(static (a, b) => string.CompareOrdinal(a.SignaturePath, b.SignaturePath));
        var winners = new Dictionary<string, GeneratedModel>(StringComparer.OrdinalIgnoreCase);
        foreach (GeneratedModel model in ordered)
        {
            foreach (DiagnosticInfo diagnostic in model.Diagnostics)
            {
                context.ReportDiagnostic(diagnostic.ToDiagnostic());
            }

            if (model.FullName is null || model.HintName is null || model.SourceText is null)
            {
                continue;
            }

            if (winners.TryGetValue(model.FullName, out GeneratedModel? winner))
            {
                // The same file listed twice generates once, silently.
                if (!string.Equals(winner.SignaturePath, model.SignaturePath, StringComparison.Ordinal))
                {
                    context.ReportDiagnostic(DiagnosticInfo.Create(
                        DiagnosticDescriptors.DuplicateClassName,
                        SignatureLocation.StartOf(model.SignaturePath),
                        model.SignaturePath,
                        winner.SignaturePath,
                        model.FullName).ToDiagnostic());
                }

                continue;
            }

            winners.Add(model.FullName, model);
            context.AddSource(model.HintName, SourceText.From(model.SourceText, Encoding.UTF8));
        }
    }
}
