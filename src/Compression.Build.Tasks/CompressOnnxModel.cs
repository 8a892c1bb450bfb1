using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Compresses one ONNX model by running the compressor (<c>onnx-compress</c>) in a child process, the way
/// Grpc.Tools runs protoc: a native library or a large model never loads into the long-lived MSBuild node.
/// The compressor's errors and warnings come back in MSBuild's canonical form and become build errors with the
/// model's path. Its one summary line (not indented) is logged at high importance, which the console logger shows at
/// its default verbosity; the details (indented lines) at normal importance and its progress lines at low importance;
/// its notes are not logged here but returned (<see cref="Notes"/>), so that the build says each distinct note once.
/// </summary>
public sealed class CompressOnnxModel : ToolTask
{
    /// <summary>The code of the error logged when the compressor stops without saying why.</summary>
    public const string CompressorFailedCode = "OCB2002";

    /// <summary>The original model.</summary>
    [Required]
    public ITaskItem Model { get; set; } = null!;

    /// <summary>Where the compressed model goes.</summary>
    [Required]
    public string OutputPath { get; set; } = string.Empty;

    /// <summary>Where the signature the source generator reads goes.</summary>
    [Required]
    public string SignaturePath { get; set; } = string.Empty;

    /// <summary>Where the JSON report goes; none when empty.</summary>
    public string? ReportPath { get; set; }

    /// <summary>Where the budget search's choice goes as an overrides file (<c>--write-overrides</c>), when the model's settings
    /// say <c>Compress=auto</c>; the compressor removes a file an earlier search left there when no search runs. None when empty.</summary>
    public string? SearchOverridesPath { get; set; }

    /// <summary>How the signature and report name the model (its path in the project).</summary>
    public string? SourceName { get; set; }

    /// <summary>The compressor: <c>onnx-compress.dll</c>, run with the dotnet host.</summary>
    [Required]
    public string CompressorPath { get; set; } = string.Empty;

    /// <summary>The dotnet host that runs the compressor; by default the one running the build (DOTNET_HOST_PATH).</summary>
    public string? DotNetHostPath { get; set; }

    /// <summary>The project-level settings, <c>Name=Value</c> one per line (the generated settings targets list them);
    /// the model's metadata of the same names are its own settings.</summary>
    public string? ProjectSettings { get; set; }

    /// <summary>The folder relative paths in settings are resolved against: the project folder.</summary>
    public string? BaseDirectory { get; set; }

    /// <summary>Where the compressor lists the files it read, for the next build's up-to-date check.</summary>
    public string? DependencyFile { get; set; }

    /// <summary>The compression cache folder the compressor restores from and stores in (<c>--cache-dir</c>); none when
    /// empty or <c>none</c>.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>ONNX Runtime's native library to validate with (the native asset of the app's ONNX Runtime package).</summary>
    public string? OnnxRuntimeLibraryPath { get; set; }

    /// <summary>Write only the signature, from the original's interface, without compressing or validating (design-time builds).</summary>
    public bool InterfaceOnly { get; set; }

    /// <summary>The notes the compressor wrote (advice for running the model without the generated class), one item each.</summary>
    [Output]
    public ITaskItem[] Notes => notes.ToArray();

    /// <summary>The model, once the compressor has compressed it in this build; empty otherwise (a model found up to date
    /// has its target skipped, and MSBuild infers no value for an output that is no input).</summary>
    [Output]
    public ITaskItem? CompressedModel { get; private set; }

    private readonly List<ITaskItem> notes = [];

    /// <inheritdoc />
    protected override string ToolName => "dotnet";

    /// <inheritdoc />
    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.High;

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
            Log.LogError(null, CompressorFailedCode, null, Model.ItemSpec, 0, 0, 0, 0,
                "The ONNX compressor '{0}' does not exist; the Compression.Build package looks incomplete. Restore the package again, or set OnnxCompressorPath to onnx-compress.dll.",
                CompressorPath);
            return false;
        }

        return base.ValidateParameters();
    }

    /// <inheritdoc />
    protected override string GenerateCommandLineCommands()
    {
        var command = new CommandLineBuilder();
        command.AppendFileNameIfNotNull(CompressorPath);
        return command.ToString();
    }

    /// <inheritdoc />
    protected override string GenerateResponseFileCommands() => BuildArguments();

    /// <summary>The compressor's arguments, one per line, as its response file holds them.</summary>
    public string BuildArguments()
    {
        var arguments = new StringBuilder();
        Argument(arguments, Model.GetMetadata("FullPath"));
        Option(arguments, "--output", OutputPath);
        Option(arguments, "--signature", SignaturePath);
        Option(arguments, "--report", ReportPath);
        Option(arguments, "--source-name", SourceName);
        Option(arguments, "--base-directory", BaseDirectory);
        Option(arguments, "--dependency-file", DependencyFile);
        if (!InterfaceOnly)
        {
            Option(arguments, "--write-overrides", SearchOverridesPath);
        }

        if (!string.Equals(CacheDirectory?.Trim(), "none", StringComparison.OrdinalIgnoreCase))
        {
            Option(arguments, "--cache-dir", CacheDirectory?.Trim());
        }

        OnnxSettings settings = OnnxSettings.Read(ProjectSettings, Model);
        foreach (var property in settings.Properties)
        {
            Option(arguments, "--property", property.Key + "=" + property.Value);
        }

        foreach (var metadata in settings.Metadata)
        {
            Option(arguments, "--metadata", metadata.Key + "=" + metadata.Value);
        }

        Option(arguments, "--onnxruntime", OnnxRuntimeLibraryPath);
        if (InterfaceOnly)
        {
            Argument(arguments, "--interface-only");
        }

        Option(arguments, "--diagnostic-format", "MSBuild");
        return arguments.ToString();
    }

    /// <inheritdoc />
    public override bool Execute()
    {
        bool succeeded = base.Execute();
        if (succeeded && !InterfaceOnly)
        {
            CompressedModel = new TaskItem(Model);
            // The compressor writes the file only when a search ran (and removes it otherwise): say where the choice is and how to pin it.
            if (!string.IsNullOrEmpty(SearchOverridesPath) && File.Exists(SearchOverridesPath))
            {
                Log.LogMessage(MessageImportance.High,
                    "{0}: the budget search's choice is in {1}; to pin it, copy that file into the project and give the model Overrides=\"that file\" with Compress=\"manual\".",
                    Model.ItemSpec, SearchOverridesPath);
            }
        }

        return succeeded;
    }

    /// <summary>The importance a line of the compressor's output is logged at (see the class's summary); null for a note.</summary>
    public static MessageImportance? ImportanceOf(string line)
    {
        if (line.StartsWith(NotePrefix, StringComparison.Ordinal))
        {
            return null;
        }

        if (line.StartsWith("  ", StringComparison.Ordinal) && line.IndexOf(ProgressMarker, StringComparison.Ordinal) > 0)
        {
            return MessageImportance.Low;
        }

        return line.StartsWith("  ", StringComparison.Ordinal) ? MessageImportance.Normal : MessageImportance.High;
    }

    /// <inheritdoc />
    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        MessageImportance? importance = ImportanceOf(singleLine);
        if (importance is null)
        {
            notes.Add(new TaskItem(Escape(singleLine.Substring(NotePrefix.Length).Trim())));
            Log.LogMessage(MessageImportance.Low, "{0}", singleLine.Trim());
            return;
        }

        base.LogEventsFromTextOutput(singleLine, importance.Value);
    }

    /// <inheritdoc />
    protected override bool HandleTaskExecutionErrors()
    {
        if (!Log.HasLoggedErrors)
        {
            Log.LogError(null, CompressorFailedCode, null, Model.ItemSpec, 0, 0, 0, 0,
                "The ONNX compressor stopped with exit code {0} without reporting an error. Build with -v:detailed to see its output, and report it with the model.",
                ExitCode.ToString(CultureInfo.InvariantCulture));
        }

        return false;
    }

    private const string NotePrefix = "  note: ";

    private const string ProgressMarker = ": still compressing after ";

    // A TaskItem's spec is in MSBuild's escaped form: a note keeps its %, ; and wildcards as written.
    private static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (c is '%' or ';' or '*' or '?' or '@' or '$' or '\'')
            {
                escaped.Append('%').Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    private static void Option(StringBuilder arguments, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            Argument(arguments, name);
            Argument(arguments, value!);
        }
    }

    // System.CommandLine splits response file lines at spaces outside quotes, so every token is quoted.
    private static void Argument(StringBuilder arguments, string value) => arguments.Append('"').Append(value).Append("\"\n");
}
