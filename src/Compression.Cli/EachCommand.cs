using System.CommandLine;
using System.Globalization;

namespace Compression.Cli;

/// <summary>
/// <c>onnx-compress --each ARGS.rsp... [--html-report PAGE --html-input REPORT.json...]</c>: runs several compressions in
/// one process, one after another, each from a response file that holds the arguments of one <c>onnx-compress</c> run;
/// then, when every one succeeded, writes the HTML page of the given reports. The build runs every model it must
/// compress (or, in a design-time build, read the interface of) through one such process instead of one process a model:
/// .NET's start-up and the compressor's first-call costs are paid once a build.
/// After each compression it writes one line, <c>onnx-compress --each: exit CODE: ARGS.rsp</c>, so that the caller knows
/// which succeeded; a compression that fails does not stop the next. Ctrl+C stops the one running and skips the rest.
/// </summary>
public static class EachCommand
{
    /// <summary>The option that selects this mode; it comes first on the command line.</summary>
    public const string OptionName = "--each";

    /// <summary>How the line written after each compression starts; the exit code, a colon and the response file follow.</summary>
    public const string ResultPrefix = "onnx-compress --each: exit ";

    /// <summary>Whether <paramref name="args"/> ask for several compressions.</summary>
    public static bool Selected(string[] args) => args is [OptionName, ..];

    /// <summary>Parses <paramref name="args"/>, runs each compression, and returns <see cref="CompressCommand.Success"/> when
    /// all succeeded, <see cref="CompressCommand.Cancelled"/> when stopped, else the first failure's code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var each = new Option<bool>(OptionName) { Description = "Run several compressions in one process." };
        var compressions = new Argument<FileInfo[]>("compressions")
        {
            Description = "Response files, each with the arguments of one onnx-compress run (one argument a line), run in this order.",
            Arity = ArgumentArity.OneOrMore,
        };
        var page = new Option<FileInfo?>(HtmlReportCommand.OptionName) { Description = "Once every compression succeeded, write one HTML page of the --html-input reports here.", HelpName = "PAGE" };
        var reports = new Option<FileInfo[]>("--html-input") { Description = "A JSON report to show on the HTML page, in this order.", HelpName = "REPORT.json" };
        var diagnosticFormat = new Option<DiagnosticFormat>("--diagnostic-format") { Description = "How the HTML page's errors are written: Text, or MSBuild's canonical form.", DefaultValueFactory = _ => DiagnosticFormat.Text };
        var command = new RootCommand("Runs several compressions, one after another in one process, each from a response file; then writes the HTML page of their reports.")
        {
            each, compressions, page, reports, diagnosticFormat,
        };

        ParseResult parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"onnx-compress: error: {parsed.Errors[0].Message} Run 'onnx-compress --each --help' for usage.");
            return CompressCommand.UsageError;
        }

        int exitCode = CompressCommand.Success;
        command.SetAction(result =>
        {
            foreach (FileInfo arguments in result.GetValue(compressions)!)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    exitCode = CompressCommand.Cancelled;
                    return;
                }

                int code = arguments.Exists
                    ? CompressCommand.RunOne(["@" + arguments.FullName], output, error, cancellationToken)
                    : MissingArguments(arguments, error);
                output.WriteLine($"{ResultPrefix}{code.ToString(CultureInfo.InvariantCulture)}: {arguments.FullName}");
                if (code == CompressCommand.Cancelled)
                {
                    exitCode = CompressCommand.Cancelled;
                    return;
                }

                if (code != CompressCommand.Success && exitCode == CompressCommand.Success)
                {
                    exitCode = code;
                }
            }

            if (exitCode == CompressCommand.Success && result.GetValue(page) is { } html)
            {
                var htmlArguments = new List<string> { HtmlReportCommand.OptionName, html.FullName, "--diagnostic-format", result.GetValue(diagnosticFormat).ToString() };
                htmlArguments.AddRange((result.GetValue(reports) ?? []).Select(r => r.FullName));
                exitCode = HtmlReportCommand.Run([.. htmlArguments], output, error);
            }
        });

        int invoked = parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
        return invoked != 0 ? invoked : exitCode;
    }

    private static int MissingArguments(FileInfo arguments, TextWriter error)
    {
        error.WriteLine($"onnx-compress: error: the response file '{arguments.FullName}' given to --each does not exist.");
        return CompressCommand.UsageError;
    }
}
