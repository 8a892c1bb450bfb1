using System.Diagnostics;
using System.Text;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>The result of a finished process.</summary>
internal sealed record ProcessResult(int ExitCode, string Output)
{
    public ProcessResult ShouldSucceed(string what)
    {
        Assert.True(ExitCode == 0, $"{what} failed with exit code {ExitCode}:\n{Output}");
        return this;
    }
}

/// <summary>Runs the dotnet CLI as a user would, in a clean environment: no MSBuild state inherited from the test host.</summary>
internal static class DotNet
{
    public static ProcessResult Run(string workingDirectory, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] arguments) =>
        RunProgram("dotnet", workingDirectory, environment, timeout, arguments);

    /// <summary>
    /// Runs <c>dotnet</c> with <paramref name="arguments"/> in a pseudo-terminal (util-linux <c>script</c>), as in an
    /// interactive terminal, where MSBuild's terminal logger draws its live status; the output keeps the terminal's
    /// control sequences, which <see cref="WithoutTerminalCodes"/> takes out.
    /// </summary>
    public static ProcessResult RunInTerminal(string workingDirectory, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] arguments)
    {
        string command = "dotnet " + string.Join(' ', arguments.Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        return RunProgram("script", workingDirectory, environment, timeout, "-qec", command, "/dev/null");
    }

    /// <summary>Terminal output as text: colours, cursor moves and other escape sequences and carriage returns removed.</summary>
    public static string WithoutTerminalCodes(string output) =>
        System.Text.RegularExpressions.Regex.Replace(output, @"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>]|\r", string.Empty);

    private static ProcessResult RunProgram(string program, string workingDirectory, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // `dotnet test` leaves MSBuild variables behind that would point a child build at the test host's SDK state.
        foreach (string name in start.Environment.Keys.ToList())
        {
            if (name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || name.StartsWith("MSBUILD", StringComparison.Ordinal)
                || name is "DOTNET_HOST_PATH" or "VSTEST_HOST_DEBUG" or "ONNXRUNTIME_LIBRARY_PATH")
            {
                start.Environment.Remove(name);
            }
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        foreach ((string name, string? value) in environment)
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish in {timeout}:\n{output}");
        }

        process.WaitForExit();
        return new ProcessResult(process.ExitCode, output.ToString());
    }
}
