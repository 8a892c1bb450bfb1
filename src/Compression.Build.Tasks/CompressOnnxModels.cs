using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Pipes;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace Compression.Build.Tasks;

/// <summary>
/// Compresses ONNX models by running the compressor (<c>onnx-compress</c>) once for all of them (<c>onnx-compress
/// --each</c>, one response file a model): in the compressor's server when <see cref="UseServer"/> is set and it can be
/// reached (started when none runs), else in a child process, the way Grpc.Tools runs protoc. A native library or a
/// large model never loads into the long-lived MSBuild node, and .NET's start-up is paid once a build at most.
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
public sealed class CompressOnnxModels : CompressorTask
{
    /// <summary>The original models, with their output paths as metadata (see the remarks).</summary>
    [Required]
    public ITaskItem[] Models { get; set; } = [];

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

    /// <summary>Run the compressions in the compressor's server (<c>onnx-compress --server</c>), which stays up between builds
    /// and is started when none runs, rather than in a process of their own (the property <c>OnnxCompressorServer</c>).</summary>
    public bool UseServer { get; set; }

    /// <summary>How many seconds a server started here waits for the next build before it ends; its default when empty.</summary>
    public string? ServerIdleTime { get; set; }

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
    protected override string Mode => "--each";

    /// <inheritdoc />
    protected override IEnumerable<string> ErrorFiles => Models.Select(m => m.ItemSpec);

    /// <inheritdoc />
    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.High;

    /// <inheritdoc />
    protected override string GenerateResponseFileCommands()
    {
        var arguments = new StringBuilder();
        foreach (string argument in EachArguments())
        {
            Argument(arguments, argument);
        }

        return arguments.ToString();
    }

    /// <summary>What follows <c>--each</c>: the models' response files, then the HTML report's options.</summary>
    private List<string> EachArguments()
    {
        var arguments = new List<string>(byArguments.Keys);
        if (!InterfaceOnly && !string.IsNullOrEmpty(HtmlReportPath))
        {
            arguments.Add("--html-report");
            arguments.Add(HtmlReportPath!);
            foreach (ITaskItem report in HtmlReports)
            {
                arguments.Add("--html-input");
                arguments.Add(report.GetMetadata("FullPath"));
            }

            arguments.Add("--diagnostic-format");
            arguments.Add("MSBuild");
        }

        return arguments;
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

            bool succeeded;
            if (UseServer && TryServer(out int exitCode))
            {
                succeeded = exitCode == 0;
                if (!succeeded && !cancelled && !Log.HasLoggedErrors)
                {
                    LogStoppedWithoutError(exitCode);
                }
            }
            else
            {
                succeeded = !cancelled && base.Execute();
            }

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
            LogStoppedWithoutError(ExitCode);
        }

        return false;
    }

    private void LogStoppedWithoutError(int exitCode)
    {
        ITaskItem? unfinished = Models.FirstOrDefault(m => !finished.Contains(m));
        Log.LogError(null, CompressorFailedCode, null, (unfinished ?? Models[0]).ItemSpec, 0, 0, 0, 0,
            "The ONNX compressor stopped with exit code {0} without reporting an error. Build with -v:detailed to see its output, and report it with the model.",
            exitCode.ToString(CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public override void Cancel()
    {
        cancelled = true;
        Stream? pipe = serverPipe;
        try
        {
            pipe?.Dispose();
        }
        catch (IOException)
        {
        }

        base.Cancel();
    }

    // The compressor's server: how a request and its reply look (ServerCommand in onnx-compress).
    private const string ServerProtocol = "onnx-compress server 1";
    private const byte OutputLineFrame = 1;
    private const byte ErrorLineFrame = 2;
    private const byte ExitCodeFrame = 3;

    // PipeOptions.CurrentUserOnly, which netstandard2.0 does not name; .NET Framework refuses it, and the build then runs a process.
    private const PipeOptions CurrentUserOnly = (PipeOptions)0x20000000;

    private volatile bool cancelled;
    private volatile Stream? serverPipe;

    /// <summary>
    /// Runs the compressions in the compressor's server, starting one when none answers. False when no server could be
    /// reached or it went away before it answered (the build then runs the compressor in a process of its own, and a run
    /// cut short wrote nothing, so running it again is safe), or when the build was cancelled.
    /// </summary>
    private bool TryServer(out int exitCode)
    {
        exitCode = -1;
        string name;
        try
        {
            name = ServerName();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        NamedPipeClientStream? pipe = null;
        try
        {
            pipe = Connect(name);
            if (pipe is null)
            {
                if (!cancelled)
                {
                    Log.LogMessage(MessageImportance.Low, "The compressor's server '{0}' did not answer; the compressor runs in a process of its own.", name);
                }

                return false;
            }

            Log.LogMessage(MessageImportance.Low, "Running the compressions in the compressor's server '{0}'.", name);
            return Request(pipe, out exitCode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or PlatformNotSupportedException or ObjectDisposedException or InvalidOperationException)
        {
            if (!cancelled)
            {
                Log.LogMessage(MessageImportance.Low, "The compressor's server '{0}' could not be used ({1}); the compressor runs in a process of its own.", name, e.Message);
            }

            return false;
        }
        finally
        {
            serverPipe = null;
            pipe?.Dispose();
        }
    }

    /// <summary>
    /// Connects to the server, starting one when none answers and waiting for it unless it ends first (it failed, or lost
    /// the name to another build's server, which one more try reaches) or takes longer than <see cref="ServerStartTime"/>.
    /// Null when no server answered.
    /// </summary>
    private NamedPipeClientStream? Connect(string name)
    {
        if (TryConnect(name, 100) is { } running)
        {
            return running;
        }

        using Process? started = StartServer(name);
        if (started is null)
        {
            return null;
        }

        var waited = Stopwatch.StartNew();
        while (!cancelled && waited.Elapsed < ServerStartTime)
        {
            bool ended = started.HasExited;
            if (TryConnect(name, ended ? 1000 : 250) is { } pipe)
            {
                return pipe;
            }

            if (ended)
            {
                break;
            }
        }

        return null;
    }

    private NamedPipeClientStream? TryConnect(string name, int milliseconds)
    {
        var pipe = new NamedPipeClientStream(".", name, PipeDirection.InOut, CurrentUserOnly);
        serverPipe = pipe;
        try
        {
            pipe.Connect(milliseconds);
            return pipe;
        }
        catch (TimeoutException)
        {
            pipe.Dispose();
            return null;
        }
        catch
        {
            pipe.Dispose();
            throw;
        }
    }

    /// <summary>How long a build waits for a server it started to answer before it runs the compressor in a process of its own.</summary>
    private static readonly TimeSpan ServerStartTime = TimeSpan.FromSeconds(20);

    private bool Request(Stream pipe, out int exitCode)
    {
        var writer = new BinaryWriter(pipe, new UTF8Encoding(false));
        var reader = new BinaryReader(pipe, new UTF8Encoding(false));
        var arguments = new List<string> { "--each" };
        arguments.AddRange(EachArguments());
        writer.Write(ServerProtocol);
        writer.Write(arguments.Count);
        foreach (string argument in arguments)
        {
            writer.Write(argument);
        }

        writer.Flush();
        while (true)
        {
            byte kind;
            try
            {
                kind = reader.ReadByte();
            }
            catch (EndOfStreamException)
            {
                // The server went away (or refused this client's protocol) before it answered.
                exitCode = -1;
                return false;
            }

            switch (kind)
            {
                case OutputLineFrame:
                    LogEventsFromTextOutput(reader.ReadString(), StandardOutputLoggingImportance);
                    break;
                case ErrorLineFrame:
                    LogEventsFromTextOutput(reader.ReadString(), StandardErrorLoggingImportance);
                    break;
                case ExitCodeFrame:
                    exitCode = reader.ReadInt32();
                    return true;
                default:
                    exitCode = -1;
                    return false;
            }
        }
    }

    /// <summary>
    /// The server's pipe name: one server per compressor file (its path, size and time), ONNX Runtime library, the
    /// environment variables the compressor reads, the dotnet host and the user, so that a server serves only builds that
    /// would run the same compressor the same way.
    /// </summary>
    private string ServerName()
    {
        var compressor = new FileInfo(CompressorPath);
        string identity = string.Join("\n",
            compressor.FullName,
            compressor.Length.ToString(CultureInfo.InvariantCulture),
            compressor.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture),
            OnnxRuntimeLibraryPath ?? string.Empty,
            Environment.GetEnvironmentVariable("ONNXRUNTIME_LIBRARY_PATH") ?? string.Empty,
            Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? string.Empty,
            Environment.GetEnvironmentVariable("TMPDIR") ?? string.Empty,
            GenerateFullPathToTool(),
            Environment.UserName,
            ServerIdleTime ?? string.Empty);
        using var sha = SHA256.Create();
        byte[] hash = sha.ComputeHash(Encoding.UTF8.GetBytes(identity));
        var text = new StringBuilder("onnx-compress-");
        for (int i = 0; i < 8; i++)
        {
            text.Append(hash[i].ToString("x2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    /// <summary>Starts a server, on its own: its standard streams are none of the build's, and its folder is the compressor's.
    /// Null when it could not be started.</summary>
    private Process? StartServer(string name)
    {
        try
        {
            var start = new ProcessStartInfo(GenerateFullPathToTool())
            {
                Arguments = "\"" + CompressorPath + "\" --server " + name + (string.IsNullOrEmpty(ServerIdleTime) ? string.Empty : " " + ServerIdleTime),
                UseShellExecute = false,
                CreateNoWindow = true,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(CompressorPath)),
            };
            Process? process = Process.Start(start);
            if (process is null)
            {
                return null;
            }

            process.StandardInput.Close();
            process.StandardOutput.Close();
            process.StandardError.Close();
            Log.LogMessage(MessageImportance.Low, "Started the compressor's server '{0}' (process {1}).", name, process.Id);
            return process;
        }
        catch (Exception e) when (e is IOException or System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Log.LogMessage(MessageImportance.Low, "The compressor's server could not be started ({0}).", e.Message);
            return null;
        }
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

}
