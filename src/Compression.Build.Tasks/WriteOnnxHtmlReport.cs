using System;
using System.Globalization;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Writes the build's HTML compression report from the models' JSON reports by running the compressor
/// (<c>onnx-compress --html-report</c>) in a child process, as <see cref="CompressOnnxModels"/> does: the task only builds
/// the arguments, and reading the reports and writing the page happen out of the MSBuild node.
/// </summary>
public sealed class WriteOnnxHtmlReport : ToolTask
{
    /// <summary>The JSON reports, one per model, in the order their sections appear.</summary>
    [Required]
    public ITaskItem[] Reports { get; set; } = [];

    /// <summary>Where the HTML page goes.</summary>
    [Required]
    public string OutputPath { get; set; } = string.Empty;

    /// <summary>The compressor: <c>onnx-compress.dll</c>, run with the dotnet host.</summary>
    [Required]
    public string CompressorPath { get; set; } = string.Empty;

    /// <summary>The dotnet host that runs the compressor; by default the one running the build (DOTNET_HOST_PATH).</summary>
    public string? DotNetHostPath { get; set; }

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
            Log.LogError(null, CompressOnnxModels.CompressorFailedCode, null, OutputPath, 0, 0, 0, 0,
                "The ONNX compressor '{0}' does not exist; the Compression.Build package looks incomplete. Restore the package again, or set OnnxCompressorPath to onnx-compress.dll.",
                CompressorPath);
            return false;
        }

        return base.ValidateParameters();
    }

    /// <inheritdoc />
    protected override string GenerateCommandLineCommands()
    {
        // The mode's option comes first; the page's path and the reports follow in the response file.
        var command = new CommandLineBuilder();
        command.AppendFileNameIfNotNull(CompressorPath);
        command.AppendSwitch("--html-report");
        return command.ToString();
    }

    /// <inheritdoc />
    protected override string GenerateResponseFileCommands() => BuildArguments();

    /// <summary>The arguments after <c>--html-report</c>, one per line, as the response file holds them.</summary>
    public string BuildArguments()
    {
        var arguments = new StringBuilder();
        Argument(arguments, OutputPath);
        Argument(arguments, "--diagnostic-format");
        Argument(arguments, "MSBuild");
        foreach (ITaskItem report in Reports)
        {
            Argument(arguments, report.GetMetadata("FullPath"));
        }

        return arguments.ToString();
    }

    /// <inheritdoc />
    protected override bool HandleTaskExecutionErrors()
    {
        if (!Log.HasLoggedErrors)
        {
            Log.LogError(null, CompressOnnxModels.CompressorFailedCode, null, OutputPath, 0, 0, 0, 0,
                "The ONNX compressor stopped with exit code {0} without reporting an error while writing the HTML report. Build with -v:detailed to see its output, or turn the report off with OnnxHtmlReport=false.",
                ExitCode.ToString(CultureInfo.InvariantCulture));
        }

        return false;
    }

    // System.CommandLine splits response file lines at spaces outside quotes, so every token is quoted.
    private static void Argument(StringBuilder arguments, string value) => arguments.Append('"').Append(value).Append("\"\n");
}
