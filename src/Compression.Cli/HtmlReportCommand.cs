using System.CommandLine;
using Compression.Core;
using Compression.Core.Reporting;

namespace Compression.Cli;

/// <summary>
/// <c>onnx-compress --html-report OUT REPORT.json...</c>: reads the JSON reports of a build's models and writes one
/// self-contained HTML page for all of them (<see cref="HtmlReport"/>). The build runs it after the models are compressed,
/// in a child process as it runs the compressor.
/// </summary>
public static class HtmlReportCommand
{
    /// <summary>The option that selects this mode; it comes first on the command line.</summary>
    public const string OptionName = "--html-report";

    /// <summary>Whether <paramref name="args"/> ask for the HTML report rather than a compression.</summary>
    public static bool Selected(string[] args) => args is [OptionName, ..];

    /// <summary>Parses <paramref name="args"/>, writes the page, and returns the exit code.</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var page = new Option<FileInfo>(OptionName) { Description = "Where to write the HTML page.", Required = true };
        var reports = new Argument<FileInfo[]>("reports") { Description = "The JSON reports (--report) of the models to show, one section each, in this order.", Arity = ArgumentArity.OneOrMore };
        var diagnosticFormat = new Option<DiagnosticFormat>("--diagnostic-format") { Description = "How errors are written: Text, or MSBuild's canonical form.", DefaultValueFactory = _ => DiagnosticFormat.Text };
        var command = new RootCommand("Writes one self-contained HTML page (inline SVG charts and CSS, no script) from the JSON reports of compressed models.")
        {
            page, reports, diagnosticFormat,
        };

        ParseResult parsed = command.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            error.WriteLine($"onnx-compress: error: {parsed.Errors[0].Message} Run 'onnx-compress --html-report --help' for usage.");
            return CompressCommand.UsageError;
        }

        int exitCode = CompressCommand.Success;
        command.SetAction(result =>
        {
            FileInfo target = result.GetValue(page)!;
            FileInfo[] inputs = result.GetValue(reports)!;
            try
            {
                HtmlReport.Write(target.FullName, inputs.Select(i => i.FullName).ToList());
                if (result.GetValue(diagnosticFormat) == DiagnosticFormat.Text)
                {
                    // A build prints the path itself, once, whether or not the page had to be written again.
                    output.WriteLine($"Compression report: {target.FullName}");
                }
            }
            catch (CompressionException e)
            {
                var console = new ConsoleReporter(output, error, result.GetValue(diagnosticFormat), e.ModelPath ?? target.FullName);
                console.Error(e.Code, e.Message);
                exitCode = CompressCommand.Failed;
            }
        });

        int invoked = parsed.Invoke(new InvocationConfiguration { Output = output, Error = error });
        return invoked != 0 ? invoked : exitCode;
    }
}
