using System;
using System.Collections.Generic;
using Compression.Build.Generator;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Finds two models that would generate the same class before any model is compressed: each model's class name and
/// namespace are resolved as the source generator resolves them (the same <c>CSharpNames</c> code), and two models
/// whose full names differ only in case are an error that names both items and the metadata that separates them.
/// Without it, both models would be compressed first and the generator would stop the build afterwards.
/// </summary>
public sealed class CheckOnnxClassNames : Task
{
    /// <summary>The code of the error: two models generate the same class.</summary>
    public const string DuplicateClassCode = "OCB2007";

    /// <summary>The models, with <c>ClassName</c>, <c>ResolvedNamespace</c> and <c>GenerateClass</c> metadata.</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The project file the items are in, which the error points at.</summary>
    public string? ProjectFile { get; set; }

    /// <inheritdoc />
    public override bool Execute()
    {
        var first = new Dictionary<string, ITaskItem>(StringComparer.OrdinalIgnoreCase);
        foreach (ITaskItem model in Models)
        {
            if (string.Equals(model.GetMetadata("GenerateClass"), "false", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            string fullName = FullClassName(model);
            if (!first.TryGetValue(fullName, out ITaskItem? other))
            {
                first.Add(fullName, model);
                continue;
            }

            // The same file listed twice generates one class, as in the generator.
            if (string.Equals(other.GetMetadata("FullPath"), model.GetMetadata("FullPath"), StringComparison.Ordinal))
            {
                continue;
            }

            string suggested = SuggestedClassName(model, fullName);
            Log.LogError(null, DuplicateClassCode, null, ProjectFile ?? string.Empty, 0, 0, 0, 0,
                "The OnnxModel items '{0}' and '{1}' would both generate the class '{2}'. Give one of them its own class name with the ClassName metadata, such as <OnnxModel Update=\"{1}\" ClassName=\"{3}\" /> (or Namespace=\"...\"); no model was compressed.",
                other.ItemSpec, model.ItemSpec, fullName, suggested);
        }

        return !Log.HasLoggedErrors;
    }

    /// <summary>A class name for the second model that differs: its folder's name before its own (<c>Models/b/net.onnx</c>
    /// gives <c>BNet</c>), else its own with 2 after it.</summary>
    private static string SuggestedClassName(ITaskItem model, string taken)
    {
        string className = taken.Substring(taken.LastIndexOf('.') + 1);
        string path = model.ItemSpec.TrimEnd('/', '\\');
        int slash = Math.Max(path.LastIndexOf('/'), path.LastIndexOf('\\'));
        string folder = slash > 0 ? CSharpNames.ToPascalCase(CSharpNames.FileName(path.Substring(0, slash))) : string.Empty;
        string suggested = folder.Length > 0 ? folder + className : className + "2";
        return CSharpNames.IsUsableIdentifier(suggested) ? suggested : className + "2";
    }

    /// <summary>The namespace-qualified class the generator makes for <paramref name="model"/>.</summary>
    public static string FullClassName(ITaskItem model)
    {
        string className = model.GetMetadata("ClassName").Trim();
        if (className.Length == 0)
        {
            className = CSharpNames.ClassNameForModel(CSharpNames.FileName(model.ItemSpec));
        }

        string ns = model.GetMetadata("ResolvedNamespace").Trim();
        return ns.Length == 0 ? className : ns + "." + className;
    }
}
