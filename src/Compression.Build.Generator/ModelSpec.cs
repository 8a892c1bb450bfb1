namespace Compression.Build.Generator;

/// <summary>
/// Everything the emitter needs to write the class of one model: names, documentation and the inputs and
/// outputs. It holds only strings, numbers and <see cref="EquatableArray{T}"/> values, so two specs compare
/// equal exactly when they would generate the same text.
/// </summary>
internal sealed record ModelSpec
{
    /// <summary>The namespace of the class; empty for the global namespace.</summary>
    public required string Namespace { get; init; }

    /// <summary>The class name, a C# identifier.</summary>
    public required string ClassName { get; init; }

    /// <summary>True for an <c>internal</c> class, false for <c>public</c>.</summary>
    public required bool IsInternal { get; init; }

    /// <summary>The compressed model's path relative to the app's folder, with forward slashes.</summary>
    public required string ModelPath { get; init; }

    /// <summary>
    /// The manifest resource name under which the build embeds the compressed model in the app's assembly
    /// (<c>Embed="true"</c>), or null when the model lies beside the app at <see cref="ModelPath"/>.
    /// </summary>
    public required string? EmbeddedResourceName { get; init; }

    /// <summary>The original model's path as the project names it.</summary>
    public required string SourcePath { get; init; }

    /// <summary>The model's description (its doc_string's first paragraph), or null.</summary>
    public required string? Description { get; init; }

    /// <summary>The compression techniques applied, one sentence each; empty when the model was copied.</summary>
    public required EquatableArray<string> Compression { get; init; }

    /// <summary>The size of the original model in bytes, or -1 when the signature does not say.</summary>
    public required long OriginalSize { get; init; }

    /// <summary>The size of the compressed model in bytes, or -1 when the signature does not say.</summary>
    public required long CompressedSize { get; init; }

    /// <summary>The session configuration entries the compressed model needs.</summary>
    public required EquatableArray<SessionConfigEntry> SessionConfig { get; init; }

    /// <summary>The inputs: the required ones in the model's order, then the optional ones (<see cref="TensorSpec.IsOptional"/>);
    /// <see cref="TensorSpec.Identifier"/> is a parameter name.</summary>
    public required EquatableArray<TensorSpec> Inputs { get; init; }

    /// <summary>The outputs, in the model's order; <see cref="TensorSpec.Identifier"/> is a property name.</summary>
    public required EquatableArray<TensorSpec> Outputs { get; init; }

    /// <summary>The namespace-qualified class name, without <c>global::</c>.</summary>
    public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;

    /// <summary>The name of the generated file: <c>Namespace.Class.g.cs</c>.</summary>
    public string HintName => FullName + ".g.cs";
}

/// <summary>One session configuration entry (<c>OnnxSessionOptions.ConfigEntries</c>).</summary>
/// <param name="Key">The key, such as <c>session.disable_quant_qdq</c>.</param>
/// <param name="Value">The value, such as <c>1</c>.</param>
internal sealed record SessionConfigEntry(string Key, string Value);

/// <summary>A model input or output.</summary>
/// <param name="Name">The name in the model.</param>
/// <param name="ElementType">The ONNX element type name as the signature writes it (<c>float</c>, <c>bfloat16</c>, ...).</param>
/// <param name="HasKnownRank">False when the model does not say how many dimensions the tensor has.</param>
/// <param name="Dimensions">The dimensions when the rank is known (empty for a scalar).</param>
/// <param name="Identifier">The C# name: a parameter name for an input, a property name for an output
/// (with an <c>@</c> in front when it is a keyword).</param>
/// <param name="IsOptional">True for an input the caller may omit: the model holds a default for it (an initializer).</param>
internal sealed record TensorSpec(string Name, string ElementType, bool HasKnownRank, EquatableArray<Dimension> Dimensions, string Identifier, bool IsOptional = false);

/// <summary>One dimension of a tensor shape.</summary>
/// <param name="Size">The size when fixed; -1 otherwise.</param>
/// <param name="Symbol">The symbolic name (such as <c>batch</c>) of a dimension that is not fixed, or null when it has none.</param>
internal readonly record struct Dimension(long Size, string? Symbol)
{
    /// <summary>True when the model fixes the size.</summary>
    public bool IsFixed => Size >= 0;

    /// <summary>A fixed dimension.</summary>
    public static Dimension Fixed(long size) => new(size, null);

    /// <summary>A dimension named <paramref name="symbol"/>, of any size that agrees with others of that name.</summary>
    public static Dimension Symbolic(string symbol) => new(-1, symbol);

    /// <summary>A dimension of any size.</summary>
    public static Dimension Unknown => new(-1, null);
}
