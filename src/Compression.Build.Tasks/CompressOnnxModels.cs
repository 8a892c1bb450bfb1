using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Compresses ONNX models by running the compressor (<c>onnx-compress</c>) in one child process for all of them
/// (<c>onnx-compress --each</c>, one response file a model), the way Grpc.Tools runs protoc: a native library or a
/// large model never loads into the long-lived MSBuild node, and .NET's start-up is paid once a build, not once a model.
/// The compressor's errors and warnings come back in MSBuild's canonical form and become build errors with the
/// model's path. Its one summary line a model (not indented) is logged at high importance, which the console logger
/// shows at its default verbosity; the details (indented lines) at normal importance and its progress lines at low
/// importance; its notes are not logged here but returned (<see cref="Notes"/>), so that the build says each distinct
/// note once. A model that fails does not stop the others; the task fails when one did.
/// </summary>
/// <remarks>
/// Each model's paths are its metadata: <c>CompressedPath</c> (the compressed model), <c>SignaturePath</c> (the signature
/// the source generator reads), and optionally <c>ReportPath</c> (the JSON report), <c>DependencyPath</c> (the files the
/// compression read, for the next build's up-to-date check) and <c>SearchOverridesPath</c> (where <c>Compress=auto</c>
/// writes its choice as an overrides file; the compressor removes a file an earlier search left there when no search
/// runs). The signature and report name the model by its item spec (its path in the project).
/// </remarks>
public sealed class CompressOnnxModels : ToolTask
{
    /// <summary>The code of the error logged when the compressor stops without saying why.</summary>
    public const string CompressorFailedCode = "OCB2002";

    /// <summary>The original models, with their output paths as metadata (see the remarks).</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = [];

    /// <summary>The compressor: <c>onnx-compress.dll</c>, run with the dotnet host.</summary>
    [Required]
    public string CompressorPath { get; set; } = string.Empty;

    /// <summary>The dotnet host that runs the compressor; by default the one running the build (DOTNET_HOST_PATH).</summary>
    public string? DotNetHostPath { get; set; }

    /// <summary>The project-level settings, <c>Name=Value</c> one per line (the generated settings targets list them);
    /// each model's metadata of the same names are its own settings.</summary>
    public string? ProjectSettings { get; set; }

    /// <summary>The folder relative paths in settings are resolved against: the project folder.</summary>
    public string? BaseDirectory { get; set; }

    /// <summary>The compression cache folder the compressor restores from and stores in (<c>--cache-dir</c>); none when
    /// empty or <c>none</c>.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>ONNX Runtime's native library to validate with (the native asset of the app's ONNX Runtime package).</summary>
    public string? OnnxRuntimeLibraryPath { get; set; }

    /// <summary>Write only the signatures, from the originals' interfaces, without compressing or validating (design-time builds).</summary>
    public bool InterfaceOnly { get; set; }

    /// <summary>Once every model is compressed, write the build's HTML report here, in the same process, from
    /// <see cref="HtmlReports"/>; none when empty.</summary>
    public string? HtmlReportPath { get; set; }

    /// <summary>The JSON reports the HTML report shows (every model of the project, not only those compressed now).</summary>
    public ITaskItem[] HtmlReports { get; set; } = [];

    /// <summary>The notes the compressor wrote (advice for running the model without the generated class), one item each.</summary>
    [Output]
    public ITaskItem[] Notes => notes.ToArray();

    /// <summary>The models the compressor compressed (or restored from the cache) in this build, whether or not another failed.</summary>
    [Output]
    public ITaskItem[] CompressedModels => compressed.ToArray();

    private readonly List<ITaskItem> notes = [];

    private readonly List<ITaskItem> compressed = [];

    // Each model's response file, and the model it is for.
    private readonly Dictionary<string, ITaskItem> byArguments = new(StringComparer.Ordinal);

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
            foreach (ITaskItem model in Models)
            {
                Log.LogError(null, CompressorFailedCode, null, model.ItemSpec, 0, 0, 0, 0,
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
        // The mode's option comes first; the models' response files follow in the task's own response file.
        var command = new CommandLineBuilder();
        command.AppendFileNameIfNotNull(CompressorPath);
        command.AppendSwitch("--each");
        return command.ToString();
    }

    /// <inheritdoc />
    protected override string GenerateResponseFileCommands()
    {
        var arguments = new StringBuilder();
        foreach (string path in byArguments.Keys)
        {
            Argument(arguments, path);
        }

        if (!InterfaceOnly && !string.IsNullOrEmpty(HtmlReportPath))
        {
            Option(arguments, "--html-report", HtmlReportPath);
            foreach (ITaskItem report in HtmlReports)
            {
                Option(arguments, "--html-input", report.GetMetadata("FullPath"));
            }

            Option(arguments, "--diagnostic-format", "MSBuild");
        }

        return arguments.ToString();
    }

    /// <summary>One model's compressor arguments, one per line, as its response file holds them.</summary>
    public string BuildArguments(ITaskItem model)
    {
        var arguments = new StringBuilder();
        Argument(arguments, model.GetMetadata("FullPath"));
        Option(arguments, "--output", model.GetMetadata("CompressedPath"));
        Option(arguments, "--signature", model.GetMetadata("SignaturePath"));
        Option(arguments, "--report", model.GetMetadata("ReportPath"));
        Option(arguments, "--source-name", model.ItemSpec);
        Option(arguments, "--base-directory", BaseDirectory);
        Option(arguments, "--dependency-file", model.GetMetadata("DependencyPath"));
        if (!InterfaceOnly)
        {
            Option(arguments, "--write-overrides", model.GetMetadata("SearchOverridesPath"));
        }

        if (!string.Equals(CacheDirectory?.Trim(), "none", StringComparison.OrdinalIgnoreCase))
        {
            Option(arguments, "--cache-dir", CacheDirectory?.Trim());
        }

        OnnxSettings settings = OnnxSettings.Read(ProjectSettings, model);
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
        if (Models.Length == 0)
        {
            return true;
        }

        string folder = Path.Combine(Path.GetTempPath(), "onnx-compress-" + Guid.NewGuid().ToString("N"));
        try
        {
            foreach (ITaskItem model in Models)
            {
                foreach (string name in new[] { "CompressedPath", "SignaturePath" })
                {
                    if (string.IsNullOrEmpty(model.GetMetadata(name)))
                    {
                        Log.LogError(null, CompressorFailedCode, null, model.ItemSpec, 0, 0, 0, 0,
                            "The model item '{0}' given to CompressOnnxModels has no {1} metadata; the task needs it to know where to write.", model.ItemSpec, name);
                        return false;
                    }
                }
            }

            Directory.CreateDirectory(folder);
            for (int i = 0; i < Models.Length; i++)
            {
                string path = Path.Combine(folder, i.ToString(CultureInfo.InvariantCulture) + ".rsp");
                File.WriteAllText(path, BuildArguments(Models[i]), new UTF8Encoding(false));
                byArguments[Path.GetFullPath(path)] = Models[i];
            }

            bool succeeded = base.Execute();
            if (!InterfaceOnly)
            {
                foreach (ITaskItem model in compressed)
                {
                    // The compressor writes the file only when a search ran (and removes it otherwise): say where the choice is and how to pin it.
                    string overrides = model.GetMetadata("SearchOverridesPath");
                    if (!string.IsNullOrEmpty(overrides) && File.Exists(overrides))
                    {
                        Log.LogMessage(MessageImportance.High,
                            "{0}: the budget search's choice is in {1}; to pin it, copy that file into the project and give the model Overrides=\"that file\" with Compress=\"manual\".",
                            model.ItemSpec, overrides);
                    }
                }
            }

            return succeeded && !Log.HasLoggedErrors;
        }
        catch (IOException e)
        {
            Log.LogError(null, CompressorFailedCode, null, Models[0].ItemSpec, 0, 0, 0, 0,
                "Could not write the compressor's arguments under '{0}': {1} Check that the temporary folder (TMPDIR) is writable.", folder, e.Message);
            return false;
        }
        finally
        {
            try
            {
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>The importance a line of the compressor's output is logged at (see the class's summary); null for a note.</summary>
    public static MessageImportance? ImportanceOf(string line)
    {
        if (line.StartsWith(NotePrefix, StringComparison.Ordinal))
        {
            return null;
        }

        if (line.StartsWith(ResultPrefix, StringComparison.Ordinal))
        {
            return MessageImportance.Low;
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
        if (singleLine.StartsWith(ResultPrefix, StringComparison.Ordinal))
        {
            Finished(singleLine.Substring(ResultPrefix.Length));
        }

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
            ITaskItem? unfinished = Models.FirstOrDefault(m => !finished.Contains(m));
            Log.LogError(null, CompressorFailedCode, null, (unfinished ?? Models[0]).ItemSpec, 0, 0, 0, 0,
                "The ONNX compressor stopped with exit code {0} without reporting an error. Build with -v:detailed to see its output, and report it with the model.",
                ExitCode.ToString(CultureInfo.InvariantCulture));
        }

        return false;
    }

    private readonly HashSet<ITaskItem> finished = [];

    // "CODE: ARGS.rsp": the compressor is done with one model.
    private void Finished(string result)
    {
        int colon = result.IndexOf(": ", StringComparison.Ordinal);
        if (colon < 0 || !byArguments.TryGetValue(result.Substring(colon + 2).Trim(), out ITaskItem? model))
        {
            return;
        }

        finished.Add(model);
        if (result.Substring(0, colon) == "0" && !InterfaceOnly)
        {
            compressed.Add(new TaskItem(model));
        }
    }

    /// <summary>How the compressor's line after each model starts (<c>onnx-compress --each</c>).</summary>
    private const string ResultPrefix = "onnx-compress --each: exit ";

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
