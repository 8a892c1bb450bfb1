using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// A task that runs the compressor (<c>onnx-compress.dll</c>) with the dotnet host in a child process, in one of its
/// modes (<see cref="Mode"/>, first on the command line), the rest of its arguments in a response file; what the task
/// does itself is building those arguments.
/// </summary>
public abstract class CompressorTask : ToolTask
{
    /// <summary>The code of the error logged when the compressor is missing, or stops without saying why.</summary>
    public const string CompressorFailedCode = "OCB2002";

    /// <summary>The compressor: <c>onnx-compress.dll</c>, run with the dotnet host.</summary>
    [Required]
    public string CompressorPath { get; set; } = string.Empty;

    /// <summary>The dotnet host that runs the compressor; by default the one running the build (DOTNET_HOST_PATH).</summary>
    public string? DotNetHostPath { get; set; }

    /// <summary>The compressor's mode: the option that comes first on its command line.</summary>
    protected abstract string Mode { get; }

    /// <summary>The files an error about the compressor itself is reported on.</summary>
    protected abstract IEnumerable<string> ErrorFiles { get; }

    /// <inheritdoc />
    protected override string ToolName => "dotnet";

    /// <inheritdoc />
    protected override MessageImportance StandardErrorLoggingImportance => MessageImportance.High;

    /// <inheritdoc />
    protected override string GenerateFullPathToTool()
    {
        if (!string.IsNullOrEmpty(DotNetHostPath))
        {
            return DotNetHostPath!;
        }

        string? fromBuild = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return string.IsNullOrEmpty(fromBuild) ? ToolName : fromBuild!;
    }

    /// <inheritdoc />
    protected override bool ValidateParameters()
    {
        if (!File.Exists(CompressorPath))
        {
            foreach (string file in ErrorFiles)
            {
                Log.LogError(null, CompressorFailedCode, null, file, 0, 0, 0, 0,
                    "The ONNX compressor '{0}' does not exist; the Compression.Build package looks incomplete. Restore the package again, or set OnnxCompressorPath to onnx-compress.dll.",
                    CompressorPath);
            }

            return false;
        }

        return base.ValidateParameters();
    }

    /// <inheritdoc />
    protected override string GenerateCommandLineCommands()
    {
        var command = new CommandLineBuilder();
        command.AppendFileNameIfNotNull(CompressorPath);
        command.AppendSwitch(Mode);
        return command.ToString();
    }

    /// <summary>Appends an option and its value, when it has one.</summary>
    protected static void Option(StringBuilder arguments, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            Argument(arguments, name);
            Argument(arguments, value!);
        }
    }

    /// <summary>Appends one argument as a response file line. System.CommandLine splits those lines at spaces outside
    /// quotes, so every token is quoted.</summary>
    protected static void Argument(StringBuilder arguments, string value) => arguments.Append('"').Append(value).Append("\"\n");
}
