using System;
using System.Collections.Generic;
using System.IO;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Picks the models whose outputs are missing or older than one of their inputs, as a target's Inputs and Outputs would
/// for each model, so that the build runs the compressor once for all of them (<see cref="CompressOnnxModels"/>) rather
/// than once a model. A model's inputs are the model file, the files its <see cref="InputMetadata"/> names (its settings
/// stamp) and <see cref="SharedInputs"/> (the compressor); its outputs are the files its <see cref="OutputMetadata"/> names.
/// Only file times are read. Each model picked is logged at low importance with the reason, as MSBuild logs a target it
/// builds partially.
/// </summary>
public sealed class FindOutOfDateOnnxModels : Task
{
    /// <summary>The models.</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The names of each model's metadata that hold input files, separated by semicolons.</summary>
    public string InputMetadata { get; set; } = string.Empty;

    /// <summary>The names of each model's metadata that hold output files, separated by semicolons.</summary>
    [Required]
    public string OutputMetadata { get; set; } = string.Empty;

    /// <summary>Input files of every model.</summary>
    public ITaskItem[] SharedInputs { get; set; } = [];

    /// <summary>The models to compress, with all their metadata.</summary>
    [Output]
    public ITaskItem[] OutOfDate { get; private set; } = [];

    /// <inheritdoc />
    public override bool Execute()
    {
        var outOfDate = new List<ITaskItem>();
        foreach (ITaskItem model in Models)
        {
            string? reason = Reason(model);
            if (reason is not null)
            {
                Log.LogMessage(MessageImportance.Low, "{0} is out of date: {1}.", model.ItemSpec, reason);
                outOfDate.Add(model);
            }
        }

        OutOfDate = outOfDate.ToArray();
        return true;
    }

    private string? Reason(ITaskItem model)
    {
        DateTime oldestOutput = DateTime.MaxValue;
        string oldestOutputPath = string.Empty;
        foreach (string path in Files(model, OutputMetadata))
        {
            if (!File.Exists(path))
            {
                return $"'{path}' does not exist";
            }

            DateTime written = File.GetLastWriteTimeUtc(path);
            if (written < oldestOutput)
            {
                oldestOutput = written;
                oldestOutputPath = path;
            }
        }

        var inputs = new List<string> { model.GetMetadata("FullPath") };
        inputs.AddRange(Files(model, InputMetadata));
        foreach (ITaskItem shared in SharedInputs)
        {
            inputs.Add(shared.GetMetadata("FullPath"));
        }

        foreach (string path in inputs)
        {
            // A missing input (a model deleted since the build started) is left to the compressor, which says so with a code.
            if (!File.Exists(path))
            {
                return $"'{path}' does not exist";
            }

            if (File.GetLastWriteTimeUtc(path) > oldestOutput)
            {
                return $"'{path}' is newer than '{oldestOutputPath}'";
            }
        }

        return null;
    }

    private static IEnumerable<string> Files(ITaskItem model, string metadataNames)
    {
        foreach (string name in metadataNames.Split([';'], StringSplitOptions.RemoveEmptyEntries))
        {
            string value = model.GetMetadata(name.Trim());
            if (value.Length > 0)
            {
                yield return Path.GetFullPath(value);
            }
        }
    }
}
