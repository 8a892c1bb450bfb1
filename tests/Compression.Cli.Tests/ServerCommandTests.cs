using System.IO.Pipes;
using System.Text;
using Compression.Cli.Tests.Support;

namespace Compression.Cli.Tests;

/// <summary><c>onnx-compress --server NAME IDLE</c>, in this process, spoken to over its pipe as the build's task speaks to it.</summary>
public sealed class ServerCommandTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    private readonly string name = "onnx-compress-test-" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose() => folder.Dispose();

    [Fact]
    public void Requests_run_as_the_command_line_would_their_lines_stream_back_and_the_server_ends_when_idle()
    {
        Thread server = StartServer(idleSeconds: 2);

        (int firstExit, List<(byte Kind, string Line)> first) = Request([RepositoryPaths.DigitsModel, "-o", folder.File("served.onnx"), "--no-validate", "--quantize", "int4"]);
        (int secondExit, List<(byte Kind, string Line)> second) = Request(["--each", Arguments("each", "--quantize", "int4")]);

        Assert.Equal(CompressCommand.Success, firstExit);
        // The summary and the warning that validation is off, as the command line writes them.
        Assert.Contains(first, f => f.Kind == ServerCommand.OutputLine && f.Line.StartsWith($"{RepositoryPaths.DigitsModel}: 341,444 -> ", StringComparison.Ordinal));
        Assert.Contains(first, f => f.Line.StartsWith("onnx-compress: warning OCB0200: ", StringComparison.Ordinal));
        Assert.Equal(CompressCommand.Success, secondExit);
        Assert.Contains(second, f => f.Line.StartsWith(EachCommand.ResultPrefix + "0: ", StringComparison.Ordinal));
        CommandResult alone = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", folder.File("alone.onnx"), "--no-validate", "--quantize", "int4");
        Assert.Equal(CompressCommand.Success, alone.ExitCode);
        Assert.Equal(File.ReadAllBytes(folder.File("alone.onnx")), File.ReadAllBytes(folder.File("served.onnx")));
        Assert.Equal(File.ReadAllBytes(folder.File("alone.onnx")), File.ReadAllBytes(folder.File("each.onnx")));

        Assert.True(server.Join(TimeSpan.FromSeconds(30)), "the server did not end once idle");
    }

    [Fact]
    public async Task Requests_of_two_builds_at_once_run_side_by_side_and_each_gets_its_own_lines()
    {
        Thread server = StartServer(idleSeconds: 2);

        Task<(int, List<(byte Kind, string Line)>)> int8 = Task.Run(() => Request([RepositoryPaths.DigitsModel, "-o", folder.File("int8.onnx"), "--no-validate", "--quantize", "int8"]));
        Task<(int, List<(byte Kind, string Line)>)> int4 = Task.Run(() => Request([RepositoryPaths.DigitsModel, "-o", folder.File("int4.onnx"), "--no-validate", "--quantize", "int4"]));
        (int, List<(byte Kind, string Line)>)[] results = await Task.WhenAll(int8, int4);

        foreach ((string quantize, (int exitCode, List<(byte Kind, string Line)> lines)) in new[] { ("int8", results[0]), ("int4", results[1]) })
        {
            Assert.Equal(CompressCommand.Success, exitCode);
            string wrote = Assert.Single(lines, l => l.Line.Contains("  wrote ", StringComparison.Ordinal)).Line;
            Assert.EndsWith(folder.File(quantize + ".onnx"), wrote, StringComparison.Ordinal);
            Assert.Equal(File.ReadAllBytes(folder.File(quantize + ".onnx")), Alone(quantize));
        }

        Assert.True(server.Join(TimeSpan.FromSeconds(30)), "the server did not end once idle");
    }

    [Fact]
    public void A_client_that_goes_away_cancels_its_run_which_leaves_no_half_written_set_and_the_server_serves_the_next()
    {
        Thread server = StartServer(idleSeconds: 2);
        string output = folder.File("gone.onnx");

        // Validation runs ONNX Runtime in a worker process: the client is gone long before it ends.
        using (NamedPipeClientStream pipe = Connect())
        {
            Send(pipe, [RepositoryPaths.DigitsModel, "-o", output, "--onnxruntime", AssemblyMetadata.OnnxRuntimeLibraryPath]);
        }

        (int exitCode, _) = Request([RepositoryPaths.DigitsModel, "-o", folder.File("next.onnx"), "--no-validate"]);

        Assert.Equal(CompressCommand.Success, exitCode);
        Assert.True(server.Join(TimeSpan.FromSeconds(60)), "the server did not end once idle");
        // Cancelled before its outputs were written, or (on a slow start) finished whole: never a model without its signature.
        Assert.Equal(File.Exists(output), File.Exists(output + ".signature"));
    }

    [Fact]
    public void A_client_of_another_protocol_gets_no_answer_and_a_bad_command_line_a_usage_error()
    {
        Thread server = StartServer(idleSeconds: 2);
        using (NamedPipeClientStream pipe = Connect())
        {
            var writer = new BinaryWriter(pipe, Encoding.UTF8, leaveOpen: true);
            writer.Write("onnx-compress server 0");
            writer.Write(0);
            writer.Flush();
            int read;
            try
            {
                read = pipe.ReadByte();
            }
            catch (IOException)
            {
                read = -1; // closed by the server: a reset, on some systems
            }

            Assert.Equal(-1, read);
        }

        (int exitCode, List<(byte Kind, string Line)> lines) = Request(["--no-such-option"]);

        Assert.Equal(CompressCommand.UsageError, exitCode);
        Assert.Contains(lines, l => l.Kind == ServerCommand.ErrorLine && l.Line.StartsWith("onnx-compress: error: ", StringComparison.Ordinal));
        Assert.True(server.Join(TimeSpan.FromSeconds(30)), "the server did not end once idle");
        Assert.Equal(CompressCommand.UsageError, ServerCommand.Run(["--server"], TextWriter.Null));
    }

    /// <summary>The digits model compressed by a command line of its own.</summary>
    private byte[] Alone(string quantize)
    {
        string output = folder.File("alone-" + quantize + ".onnx");
        CommandResult alone = CommandResult.InProcess(RepositoryPaths.DigitsModel, "-o", output, "--no-validate", "--quantize", quantize);
        Assert.Equal(CompressCommand.Success, alone.ExitCode);
        return File.ReadAllBytes(output);
    }

    private Thread StartServer(int idleSeconds)
    {
        var server = new Thread(() => ServerCommand.Run([ServerCommand.OptionName, name, idleSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)], TextWriter.Null))
        {
            IsBackground = true,
        };
        server.Start();
        return server;
    }

    private NamedPipeClientStream Connect()
    {
        var pipe = new NamedPipeClientStream(".", name, PipeDirection.InOut, PipeOptions.CurrentUserOnly);
        pipe.Connect(TimeSpan.FromSeconds(20));
        return pipe;
    }

    private static void Send(Stream pipe, string[] args)
    {
        var writer = new BinaryWriter(pipe, Encoding.UTF8, leaveOpen: true);
        writer.Write(ServerCommand.Protocol);
        writer.Write(args.Length);
        foreach (string arg in args)
        {
            writer.Write(arg);
        }

        writer.Flush();
    }

    private (int ExitCode, List<(byte Kind, string Line)> Lines) Request(string[] args)
    {
        using NamedPipeClientStream pipe = Connect();
        Send(pipe, args);
        var reader = new BinaryReader(pipe, Encoding.UTF8);
        var lines = new List<(byte, string)>();
        while (true)
        {
            byte kind = reader.ReadByte();
            if (kind == ServerCommand.ExitCode)
            {
                return (reader.ReadInt32(), lines);
            }

            lines.Add((kind, reader.ReadString()));
        }
    }

    /// <summary>A response file that compresses the digits model to <c>NAME.onnx</c> without validation.</summary>
    private string Arguments(string outputName, params string[] options) =>
        ResponseFile.Write(folder.File(outputName + ".rsp"), [RepositoryPaths.DigitsModel, "-o", folder.File(outputName + ".onnx"), "--no-validate", .. options]);
}
