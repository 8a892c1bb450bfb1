using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Compression.Build.Generator;

/// <summary>The MSBuild metadata and properties that name and place a model's class.</summary>
/// <param name="ClassName">The <c>OnnxClassName</c> metadata, or empty.</param>
/// <param name="Namespace">The <c>OnnxNamespace</c> metadata, or empty.</param>
/// <param name="RootNamespace">The project's <c>RootNamespace</c> property, or empty.</param>
/// <param name="ModelPath">The <c>OnnxModelPath</c> metadata, or empty.</param>
/// <param name="Accessibility">The <c>OnnxClassAccessibility</c> metadata, or empty.</param>
/// <param name="Embed">The <c>OnnxEmbed</c> metadata (<c>true</c> when the build embeds the model in the assembly), or empty.</param>
internal sealed record ModelOptions(string ClassName, string Namespace, string RootNamespace, string ModelPath, string Accessibility, string Embed = "")
{
    /// <summary>The prefix of item metadata of AdditionalFiles in analyzer config options.</summary>
    public const string MetadataPrefix = "build_metadata.AdditionalFiles.";

    /// <summary>No metadata, no root namespace.</summary>
    public static ModelOptions None { get; } = new(string.Empty, string.Empty, string.Empty, string.Empty, string.Empty);

    /// <summary>Reads the options of one signature file.</summary>
    public static ModelOptions Read(AnalyzerConfigOptions file, AnalyzerConfigOptions global) => new(
        Get(file, MetadataPrefix + "OnnxClassName"),
        Get(file, MetadataPrefix + "OnnxNamespace"),
        Get(global, "build_property.RootNamespace"),
        Get(file, MetadataPrefix + "OnnxModelPath"),
        Get(file, MetadataPrefix + "OnnxClassAccessibility"),
        Get(file, MetadataPrefix + "OnnxEmbed"));

    private static string Get(AnalyzerConfigOptions options, string key) =>
        options.TryGetValue(key, out string? value) && value is not null ? value.Trim() : string.Empty;
}

/// <summary>A parsed signature file: the model's spec when it can generate a class, and the problems found.</summary>
/// <param name="SignaturePath">The path of the signature file.</param>
/// <param name="Spec">The model's spec, or null when a problem prevents generating its class.</param>
/// <param name="Diagnostics">The problems found.</param>
internal sealed record ParsedModel(string SignaturePath, ModelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>Turns a signature file and the build's options for it into a <see cref="ModelSpec"/>.</summary>
internal static class ModelParser
{
    /// <summary>
    /// The start of the manifest resource name of an embedded model, followed by its <c>OnnxModelPath</c>; the build's
    /// targets give the <c>EmbeddedResource</c> the same <c>LogicalName</c>.
    /// </summary>
    public const string EmbeddedResourcePrefix = "Compression.Build/";

    /// <summary>Reads and parses <paramref name="file"/>.</summary>
    public static ParsedModel Parse(AdditionalText file, AnalyzerConfigOptionsProvider options, CancellationToken cancellationToken)
    {
        ModelOptions modelOptions = ModelOptions.Read(options.GetOptions(file), options.GlobalOptions);
        SourceText? text = file.GetText(cancellationToken);
        return Parse(file.Path, text?.ToString(), modelOptions, cancellationToken);
    }

    /// <summary>Parses the signature <paramref name="text"/> (null when the file could not be read).</summary>
    public static ParsedModel Parse(string path, string? text, ModelOptions options, CancellationToken cancellationToken)
    {
        var diagnostics = new List<DiagnosticInfo>();
        SignatureLocation fileStart = SignatureLocation.StartOf(path);

        string className = options.ClassName.Length > 0 ? options.ClassName : CSharpNames.ClassNameForModel(CSharpNames.ModelFileName(path));
        string? classNameProblem = CSharpNames.ExplainInvalidClassName(className);
        if (classNameProblem is not null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidClassName, fileStart, path, className, classNameProblem));
        }

        string ns = options.Namespace.Length > 0 ? options.Namespace : options.RootNamespace;
        if (ns.Length > 0 && !CSharpNames.IsValidNamespace(ns))
        {
            string origin = options.Namespace.Length > 0 ? "the Namespace metadata of the OnnxModel item" : "the project's RootNamespace";
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidNamespace, fileStart, path, ns, origin));
        }

        bool isInternal = false;
        switch (options.Accessibility)
        {
            case "":
            case "public":
                break;
            case "internal":
                isInternal = true;
                break;
            default:
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidAccessibility, fileStart, path, options.Accessibility));
                break;
        }

        ModelSignature? signature = null;
        if (text is null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotASignature, fileStart, path, "the file could not be read"));
        }
        else
        {
            signature = SignatureReader.Read(path, text, diagnostics, cancellationToken);
        }

        if (signature is null || diagnostics.Count > 0)
        {
            return new ParsedModel(path, null, diagnostics.ToEquatableArray());
        }

        string modelPath = (options.ModelPath.Length > 0 ? options.ModelPath : CSharpNames.ModelFileName(path)).Replace('\\', '/');
        string[] parameterNames = CSharpNames.ParameterNames(signature.Inputs.ConvertAll(input => input.Name));
        string[] propertyNames = CSharpNames.PropertyNames(signature.Outputs.ConvertAll(output => output.Name));
        var spec = new ModelSpec
        {
            Namespace = ns,
            ClassName = className,
            IsInternal = isInternal,
            ModelPath = modelPath,
            EmbeddedResourceName = string.Equals(options.Embed, "true", System.StringComparison.OrdinalIgnoreCase) ? EmbeddedResourcePrefix + modelPath : null,
            SourcePath = signature.Source is { Length: > 0 } source ? source : modelPath,
            Description = signature.Description is { Length: > 0 } description ? description : null,
            Compression = signature.Compression.ToEquatableArray(),
            OriginalSize = signature.OriginalSize,
            CompressedSize = signature.CompressedSize,
            SessionConfig = signature.SessionConfig.ToEquatableArray(),
            Inputs = ToSpecs(signature.Inputs, parameterNames),
            Outputs = ToSpecs(signature.Outputs, propertyNames),
        };
        return new ParsedModel(path, spec, EquatableArray<DiagnosticInfo>.Empty);
    }

    private static EquatableArray<TensorSpec> ToSpecs(List<SignatureTensor> tensors, string[] identifiers)
    {
        var specs = new TensorSpec[tensors.Count];
        for (int i = 0; i < specs.Length; i++)
        {
            SignatureTensor tensor = tensors[i];
            specs[i] = new TensorSpec(tensor.Name, tensor.ElementType, tensor.HasKnownRank, tensor.Dimensions, identifiers[i], tensor.IsOptional);
        }

        return new EquatableArray<TensorSpec>(specs);
    }
}
