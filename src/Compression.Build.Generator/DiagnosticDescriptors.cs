using Microsoft.CodeAnalysis;

namespace Compression.Build.Generator;

/// <summary>The diagnostics of <see cref="OnnxModelGenerator"/>. Every message names the signature file.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Compression.Build";

    /// <summary>A line of a signature file does not follow the format.</summary>
    public static readonly DiagnosticDescriptor MalformedSignatureLine = new(
        id: "OCB1001",
        title: "Malformed model signature line",
        messageFormat: "Line {1} of the model signature '{0}' is malformed: {2}. No class was generated for the model.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "The compressor writes a signature file beside each compressed model; this one does not follow format version 1. Rebuild to write it again.");

    /// <summary>A signature file has a format version newer than this generator reads.</summary>
    public static readonly DiagnosticDescriptor UnsupportedSignatureFormat = new(
        id: "OCB1002",
        title: "Model signature from a newer Compression.Build",
        messageFormat: "The model signature '{0}' has format version {1}, but this generator reads format version {2}: it was written by a newer Compression.Build package than the generator that reads it. Use the same Compression.Build package version for the whole build. No class was generated for the model.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>The class name of a model is not a C# identifier the generated class can take.</summary>
    public static readonly DiagnosticDescriptor InvalidClassName = new(
        id: "OCB1003",
        title: "Invalid class name for a model",
        messageFormat: "The class name '{1}' for the model signature '{0}' cannot be used: {2}. Set the ClassName metadata of the model's OnnxModel item to a valid C# identifier. No class was generated for the model.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>Two models would generate the same class.</summary>
    public static readonly DiagnosticDescriptor DuplicateClassName = new(
        id: "OCB1004",
        title: "Two models generate the same class",
        messageFormat: "The model signatures '{0}' and '{1}' both generate the class '{2}'; the class was generated for '{1}' only. Set the ClassName metadata (or Namespace) of one of the two OnnxModel items in the project file, such as <OnnxModel Update=\"Models/b/net.onnx\" ClassName=\"NetB\" />.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Class names that differ only in case count as the same, because the generated files would have the same name on case-insensitive file systems.");

    /// <summary>The namespace of a model is not a C# namespace name.</summary>
    public static readonly DiagnosticDescriptor InvalidNamespace = new(
        id: "OCB1005",
        title: "Invalid namespace for a model",
        messageFormat: "The namespace '{1}' for the model signature '{0}' (from {2}) is not a valid C# namespace name. Set the Namespace metadata of the model's OnnxModel item (or the project property OnnxNamespace) to dot-separated C# identifiers. No class was generated for the model.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>The accessibility of a model's class is neither public nor internal.</summary>
    public static readonly DiagnosticDescriptor InvalidAccessibility = new(
        id: "OCB1006",
        title: "Invalid class accessibility for a model",
        messageFormat: "The OnnxClassAccessibility '{1}' for the model signature '{0}' is not supported; use 'public' or 'internal'. No class was generated for the model.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>A file named like a signature is not one: it could not be read, or it has no format line.</summary>
    public static readonly DiagnosticDescriptor NotASignature = new(
        id: "OCB1007",
        title: "Unreadable model signature",
        messageFormat: "The model signature '{0}' cannot be used: {1}. No class was generated for the model.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true);
}
