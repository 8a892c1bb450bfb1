namespace Compression.Build.Generator;

/// <summary>
/// Names of the steps of <see cref="OnnxModelGenerator"/>'s incremental pipeline, as
/// <c>GeneratorRunResult.TrackedSteps</c> reports them when the driver tracks steps (tests check with them
/// that unrelated edits leave every step cached).
/// </summary>
public static class TrackingNames
{
    /// <summary>The additional files whose path ends with <c>.onnx.signature</c>.</summary>
    public const string SignatureFiles = nameof(SignatureFiles);

    /// <summary>Each signature file combined with the options the build gives it.</summary>
    public const string SignatureFilesWithOptions = nameof(SignatureFilesWithOptions);

    /// <summary>Each signature parsed into a model specification, with the problems found in it.</summary>
    public const string ParsedModels = nameof(ParsedModels);

    /// <summary>Whether the assembly is marked <c>[assembly: CLSCompliant(true)]</c>.</summary>
    public const string AssemblyClsCompliance = nameof(AssemblyClsCompliance);

    /// <summary>The source text generated for each model, with its diagnostics.</summary>
    public const string GeneratedModels = nameof(GeneratedModels);

    /// <summary>All generated models together, where models that claim the same class name are found.</summary>
    public const string AllGeneratedModels = nameof(AllGeneratedModels);
}
