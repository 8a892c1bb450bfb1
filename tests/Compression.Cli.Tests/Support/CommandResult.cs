using System.Diagnostics;

namespace Compression.Cli.Tests.Support;

/// <summary>What one run of onnx-compress did: its exit code and what it wrote to each stream.</summary>
internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public IReadOnlyList<string> StdoutLines => Lines(Stdout);

    public IReadOnlyList<string> StderrLines => Lines(Stderr);

    /// <summary>The tool as the CLI project builds it; the project reference copies it beside the tests.</summary>
    public static string ToolAssembly => Path.Combine(AppContext.BaseDirectory, "onnx-compress.dll");

    /// <summary>Runs <see cref="CompressCommand.Run"/> in this process.</summary>
    public static CommandResult InProcess(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exitCode = CompressCommand.Run(args, stdout, stderr);
        return new CommandResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the built tool as a child process: <c>dotnet onnx-compress.dll args</c>.</summary>
    /// <param name="toolAssembly">The tool's main assembly; by default the one beside the tests.</param>
    /// <param name="environment">Environment variables to set (a null value removes one).</param>
    public static CommandResult ChildProcess(string[] args, string? toolAssembly = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        using Process process = StartChildProcess(args, toolAssembly, environment);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"onnx-compress {string.Join(' ', args)} did not finish within 60 s.");
        }

        return new CommandResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts the built tool as a child process with its output streams redirected; the caller waits for it.</summary>
    /// <param name="args">The tool's arguments.</param>
    /// <param name="toolAssembly">The tool's main assembly; by default the one beside the tests.</param>
    /// <param name="environment">Environment variables to set (a null value removes one).</param>
    public static Process StartChildProcess(string[] args, string? toolAssembly = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(DotNetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(toolAssembly ?? ToolAssembly);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The tool must find ONNX Runtime the way it would on a user's machine, not through the test environment.
        start.Environment.Remove("ONNXRUNTIME_LIBRARY_PATH");
        foreach (KeyValuePair<string, string?> variable in environment ?? new Dictionary<string, string?>())
        {
            if (variable.Value is null)
            {
                start.Environment.Remove(variable.Key);
            }
            else
            {
                start.Environment[variable.Key] = variable.Value;
            }
        }

        return Process.Start(start)!;
    }

    /// <summary>The dotnet host running the tests (the SDK sets DOTNET_HOST_PATH), else <c>dotnet</c> on the PATH.</summary>
    private static string DotNetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static IReadOnlyList<string> Lines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
}
