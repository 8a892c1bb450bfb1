using System.Collections.Generic;
using System.Globalization;
using System.Text;
using Microsoft.Build.Framework;

namespace Compression.Build.Tasks;

/// <summary>
/// Writes the build's HTML compression report from the models' JSON reports by running the compressor
/// (<c>onnx-compress --html-report</c>) in a child process, as <see cref="CompressOnnxModels"/> does: the task only builds
/// the arguments, and reading the reports and writing the page happen out of the MSBuild node.
/// </summary>
public sealed class WriteOnnxHtmlReport : CompressorTask
{
    /// <summary>The JSON reports, one per model, in the order their sections appear.</summary>
    [Required]
    public ITaskItem[] Reports { get; set; } = [];

    /// <summary>Where the HTML page goes.</summary>
    [Required]
    public string OutputPath { get; set; } = string.Empty;

    /// <inheritdoc />
    protected override string Mode => "--html-report";

    /// <inheritdoc />
    protected override IEnumerable<string> ErrorFiles => [OutputPath];

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
            Log.LogError(null, CompressorFailedCode, null, OutputPath, 0, 0, 0, 0,
                "The ONNX compressor stopped with exit code {0} without reporting an error while writing the HTML report. Build with -v:detailed to see its output, or turn the report off with OnnxHtmlReport=false.",
                ExitCode.ToString(CultureInfo.InvariantCulture));
        }

        return false;
    }
}
