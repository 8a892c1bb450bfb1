using System.CommandLine;
using System.Runtime.InteropServices;
using Compression.Core;
using Compression.Core.Runtime;
using Compression.Core.Search;
using Compression.Core.Settings;

namespace Compression.Cli;

/// <summary>
/// The <c>onnx-compress</c> command: arguments in, a compressed model, signature and report out. Every compression
/// setting is an option made from its declaration (<see cref="SettingsCatalog"/>): <c>WeightThreshold</c> is
/// <c>--weight-threshold</c>. The build passes its project properties and item metadata with <c>--property</c> and
/// <c>--metadata</c>, so that errors can say where a value came from.
/// </summary>
public static class CompressCommand
{
    /// <summary>Exit code: the model was compressed.</summary>
    public const int Success = 0;

    /// <summary>Exit code: compression failed; the error says why and nothing was written.</summary>
    public const int Failed = 1;

    /// <summary>Exit code: the command line was wrong.</summary>
    public const int UsageError = 2;

    /// <summary>Exit code: stopped by Ctrl+C or SIGTERM before it finished; nothing was written.</summary>
    public const int Cancelled = 130;

    /// <summary>How often a compression that runs long says that it still runs.</summary>
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(10);

    /// <summary>Parses <paramref name="args"/>, compresses, and returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (HtmlReportCommand.Selected(args))
        {
            return HtmlReportCommand.Run(args, output, error);
        }

        if (ServerCommand.Selected(args))
        {
            return ServerCommand.Run(args, error);
        }

        // Ctrl+C and SIGTERM (a cancelled build) stop the compression and kill ONNX Runtime's worker process at once.
        using var cancellation = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        return EachCommand.Selected(args)
            ? EachCommand.Run(args, output, error, cancellation.Token)
            : RunOne(args, output, error, cancellation.Token);

        void Cancel(PosixSignalContext context)
        {
            context.Cancel = true;
            cancellation.Cancel();
        }
    }

    /// <summary>Parses the arguments of one compression, compresses, and returns the exit code.</summary>
    internal static int RunOne(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to compress." };
        var outputPath = new Option<FileInfo>("--output", "-o") { Description = "Where to write the compressed model.", Required = true };
        var report = new Option<FileInfo?>("--report", "-r") { Description = "Write a JSON report of what was done and measured." };
        var signature = new Option<FileInfo?>("--signature") { Description = "Where to write the model signature the source generator reads (default: OUTPUT.signature)." };
        var sourceName = new Option<string?>("--source-name") { Description = "How the signature and report name the original model (default: the model argument)." };
        var noValidate = new Option<bool>("--no-validate") { Description = "Skip running both models in ONNX Runtime (the same as --validate false); ONNX Runtime is then not needed." };
        var onnxRuntime = new Option<FileInfo?>("--onnxruntime") { Description = $"ONNX Runtime's native library to validate with (default: the compressor's own native asset, else {OnnxRuntimeLibrary.PathVariable}, else the NuGet packages folder); ONNX Runtime {OnnxRuntimeLibrary.OldestSupportedVersion} or newer." };
        var diagnosticFormat = new Option<DiagnosticFormat>("--diagnostic-format") { Description = "How errors and warnings are written: Text, or MSBuild's canonical form.", DefaultValueFactory = _ => DiagnosticFormat.Text };
        var interfaceOnly = new Option<bool>("--interface-only") { Description = "Write only the signature, from the original model's inputs and outputs, without compressing or validating (what an IDE's design-time build needs for the generated class)." };
        var dependencies = new Option<FileInfo?>("--dependency-file") { Description = "Write the files and folders the compression read, one per line, for a build's up-to-date check." };
        var cacheDirectory = new Option<DirectoryInfo?>("--cache-dir") { Description = "A compression cache folder: a model compressed before with the same bytes, settings and compressor is restored from it without compressing or validating, and new compressions are stored in it (shared safely by concurrent runs).", HelpName = "DIR" };
        var baseDirectory = new Option<DirectoryInfo?>("--base-directory") { Description = "The folder relative paths in settings are resolved against (default: the current folder)." };
        var auto = new Option<bool>("--auto") { Description = "Search each layer's compression for the smallest (or fastest) model within the gates: the same as --compress auto." };
        var writeOverrides = new Option<FileInfo?>("--write-overrides") { Description = "Write the budget search's choice (--compress auto) to FILE as an overrides file, to pin it with --overrides FILE --compress manual; without a search, a file left there by an earlier search is removed.", HelpName = "FILE" };
        var properties = new Option<string[]>("--property") { Description = "A project-level setting as the build passes it: Name=Value (from the property OnnxName).", HelpName = "Name=Value", Hidden = true };
        var metadata = new Option<string[]>("--metadata") { Description = "The model's item metadata as the build passes it: Name=Value; names that are no setting are ignored.", HelpName = "Name=Value", Hidden = true };

        var settingOptions = new List<(Setting Setting, Option<string?> Option)>();
        foreach (Setting setting in SettingsCatalog.All)
        {
            var option = setting.Alias is null ? new Option<string?>(setting.OptionName) : new Option<string?>(setting.OptionName, setting.Alias);
            option.Description = setting.Doc.Replace("`", string.Empty, StringComparison.Ordinal) + (setting.DefaultText.Length > 0 ? $" [default: {setting.DefaultText}]" : string.Empty);
            option.HelpName = setting.HelpName;
            settingOptions.Add((setting, option));
        }

        var command = new RootCommand("Compresses an ONNX model and checks the result against the original in ONNX Runtime. " +
            $"'onnx-compress {HtmlReportCommand.OptionName} OUT REPORT.json...' writes one HTML page from the JSON reports (--report) of compressed models.")
        {
            model, outputPath, report, signature, sourceName, noValidate, onnxRuntime, diagnosticFormat, dependencies, cacheDirectory, baseDirectory, properties, metadata, interfaceOnly,
            auto, writeOverrides,
        };
        foreach ((_, Option<string?> option) in settingOptions)
        {
            command.Options.Add(option);
        }

        ParseResult parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"onnx-compress: error: {parsed.Errors[0].Message} Run 'onnx-compress --help' for usage.");
            return UsageError;
        }

        Option<string?> compress = settingOptions.Single(s => s.Setting == SearchSettings.Compress).Option;
        if (parsed.GetValue(auto) && parsed.GetValue(compress) is { } compressValue
            && !compressValue.Trim().Equals(SearchSettings.Auto, StringComparison.OrdinalIgnoreCase))
        {
            error.WriteLine($"onnx-compress: error: --auto is the same as --compress auto and cannot be given with --compress {compressValue.Trim()}; " +
                "give one of them. Run 'onnx-compress --help' for usage.");
            return UsageError;
        }

        int exitCode = Success;
        command.SetAction(result =>
        {
            FileInfo input = result.GetValue(model)!;
            string source = result.GetValue(sourceName) ?? input.ToString();
            var console = new ConsoleReporter(output, error, result.GetValue(diagnosticFormat), input.FullName);
            try
            {
                CompressionSettings settings = CompressionSettings.Default.WithBaseDirectory(result.GetValue(baseDirectory)?.FullName);
                foreach (string entry in result.GetValue(properties) ?? [])
                {
                    (Setting? setting, string value) = Split(entry);
                    settings = setting is null ? settings : settings.Set(setting, value, new SettingOrigin(SettingLevel.Project, $"project property {setting.PropertyName}"));
                }

                foreach (string entry in result.GetValue(metadata) ?? [])
                {
                    (Setting? setting, string value) = Split(entry);
                    settings = setting is null ? settings : settings.Set(setting, value, new SettingOrigin(SettingLevel.Model, $"metadata {setting.Name} of OnnxModel '{source}'"));
                }

                foreach ((Setting setting, Option<string?> option) in settingOptions)
                {
                    if (result.GetValue(option) is { } value)
                    {
                        settings = settings.Set(setting, value, new SettingOrigin(SettingLevel.Model, setting.OptionName + " on the command line"));
                    }
                }

                if (result.GetValue(auto))
                {
                    settings = settings.Set(SearchSettings.Compress, SearchSettings.Auto, new SettingOrigin(SettingLevel.Model, "--auto on the command line"));
                }

                if (result.GetValue(noValidate))
                {
                    settings = settings.Set(Core.Evaluation.EvaluationSettings.Validate, "false", new SettingOrigin(SettingLevel.Model, "--no-validate on the command line"));
                }

                FileInfo? library = result.GetValue(onnxRuntime);
                if (library is not null)
                {
                    if (!library.Exists)
                    {
                        throw new CompressionException(DiagnosticCodes.OnnxRuntimeNotFound, input.FullName,
                            $"{DiagnosticCodes.OnnxRuntimeNotFound}: the ONNX Runtime library '{library.FullName}' given to validate with does not exist. " +
                            "Point OnnxRuntimeLibraryPath (--onnxruntime) at libonnxruntime, or turn validation off.");
                    }

                    OnnxRuntimeLibrary.UseLibrary(library.FullName);
                }

                var request = new CompressionRequest(input.FullName, result.GetValue(outputPath)!.FullName)
                {
                    SignaturePath = result.GetValue(signature)?.FullName,
                    ReportPath = result.GetValue(report)?.FullName,
                    DependencyPath = result.GetValue(dependencies)?.FullName,
                    CacheDirectory = result.GetValue(cacheDirectory)?.FullName,
                    SearchOverridesPath = result.GetValue(writeOverrides)?.FullName,
                    SourceName = source,
                    Settings = settings,
                };

                if (result.GetValue(interfaceOnly))
                {
                    ModelCompressor.WriteInterface(request);
                    exitCode = Success;
                    return;
                }

                var stopwatch = System.Diagnostics.Stopwatch.StartNew();
                CompressionOutcome outcome;
                // A long compression says now and then that it still runs (the build logs it at low importance). The timer is
                // stopped, and a line it is writing finished, before the summary is written.
                var progress = new Timer(_ => console.Progress(stopwatch.Elapsed), null, ProgressInterval, ProgressInterval);
                try
                {
                    outcome = ModelCompressor.Compress(request, cancellationToken);
                }
                finally
                {
                    using var stopped = new ManualResetEvent(false);
                    if (progress.Dispose(stopped))
                    {
                        stopped.WaitOne();
                    }
                }

                console.Summary(request, outcome, stopwatch.Elapsed);
                exitCode = Success;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                error.WriteLine($"onnx-compress: cancelled; nothing was written for '{input.FullName}'.");
                exitCode = Cancelled;
            }
            catch (CompressionException e)
            {
                console.Error(e.Code, e.Message);
                exitCode = Failed;
            }
        });

        // Help, version and unexpected failures go to the writers this method was given, not to the process's console.
        int invoked = parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
        return invoked != 0 ? invoked : exitCode;
    }

    /// <summary>Splits <c>Name=Value</c>; the setting is null when the name is no setting's.</summary>
    private static (Setting? Setting, string Value) Split(string entry)
    {
        int equals = entry.IndexOf('=', StringComparison.Ordinal);
        string name = equals < 0 ? entry : entry[..equals];
        string value = equals < 0 ? string.Empty : entry[(equals + 1)..];
        return (SettingsCatalog.Find(name.Trim()), value);
    }
}
