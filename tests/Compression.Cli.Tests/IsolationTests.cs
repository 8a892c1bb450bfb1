using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Compression.Cli.Tests.Support;
using Compression.Core;
using Compression.Onnx;
using Compression.Onnx.Protos;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Cli.Tests;

/// <summary>
/// The tool runs ONNX Runtime in its worker process: a model that makes ONNX Runtime loop for ever stops at
/// --validation-timeout, and stopping the tool (SIGTERM, as a cancelled build does, or SIGKILL) ends the worker too.
/// </summary>
public sealed class IsolationTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_tool_ships_its_worker()
    {
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "onnx-compress-worker.dll")));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "onnx-compress-worker.runtimeconfig.json")));
    }

    [Fact]
    public void A_model_that_loops_for_ever_gives_one_OCB0106_line_at_the_validation_timeout_and_no_files()
    {
        string input = EndlessModel();
        var clock = Stopwatch.StartNew();

        CommandResult result = CommandResult.ChildProcess([input, "-o", folder.File("out", "endless.onnx"), "-r", folder.File("out", "endless.json"), "--validation-timeout", "2"]);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.ValidationTimedOut}: ONNX Runtime did not finish running the original model within the time limit, ValidationTimeout=2 s (--validation-timeout on the command line)", line, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed.TotalSeconds, 2, 50);
        Assert.Equal(["endless.onnx"], folder.ListFiles());
    }

    [Fact]
    public void A_model_known_to_crash_ONNX_Runtime_gives_one_OCB0002_line_before_ONNX_Runtime_sees_it_and_no_files()
    {
        // ONNX Runtime 1.31.1 divides by a ConvTranspose's group when it creates the session: x64 traps group=0 (SIGFPE)
        // (the Core tests' worker tests show it); the tool refuses such a model at load.

        var convTranspose = new NodeProto { OpType = "ConvTranspose", Name = "up", Input = { "x", "k" }, Output = { "y" } };
        convTranspose.Attribute.Add(new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        var model = new ModelProto
        {
            IrVersion = 8,
            Graph = new GraphProto
            {
                Name = "group0",
                Input = { Value("x", DataType.Float, 1, 4, 8, 8) },
                Initializer = { TensorValues.Create<float>("k", [4, 4, 3, 3], Enumerable.Repeat(0.1f, 144).ToArray()) },
                Node = { convTranspose },
                Output = { Value("y", DataType.Float, 1, 4, 10, 10) },
            },
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        string input = folder.File("group0.onnx");
        OnnxModelFile.Save(model, input);

        CommandResult result = CommandResult.ChildProcess([input, "-o", folder.File("out", "group0.onnx"), "-r", folder.File("out", "group0.json")]);

        Assert.Equal(CompressCommand.Failed, result.ExitCode);
        string line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"onnx-compress: error {DiagnosticCodes.InvalidModel}:", line, StringComparison.Ordinal);
        Assert.Contains("has group=0; ConvTranspose takes a group of at least 1", line, StringComparison.Ordinal);
        Assert.Equal(["group0.onnx"], folder.ListFiles());
    }

    [Fact]
    public async Task SIGTERM_stops_the_tool_and_its_worker_and_writes_nothing()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // The worker is found through /proc.
        }

        string input = EndlessModel();
        using Process tool = CommandResult.Start([input, "-o", folder.File("out", "endless.onnx")]);
        Task<string> stderr = tool.StandardError.ReadToEndAsync();
        int worker = WaitForWorker(tool.Id);

        Assert.Equal(0, Kill(tool.Id, 15));

        Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(20)), "The tool did not stop on SIGTERM.");
        Assert.Equal(CompressCommand.Cancelled, tool.ExitCode);
        Assert.Contains("cancelled; nothing was written", await stderr, StringComparison.Ordinal);
        Assert.True(Ended(worker, TimeSpan.FromSeconds(10)), $"The worker {worker} outlived the tool.");
        Assert.Equal(["endless.onnx"], folder.ListFiles());
    }

    [Fact]
    public void A_worker_whose_tool_is_killed_ends_itself()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // The worker is found through /proc.
        }

        string input = EndlessModel();
        using Process tool = CommandResult.Start([input, "-o", folder.File("out", "endless.onnx")]);
        int worker = WaitForWorker(tool.Id);

        tool.Kill();

        Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.True(Ended(worker, TimeSpan.FromSeconds(10)), $"The worker {worker} outlived the killed tool.");
        Assert.Equal(["endless.onnx"], folder.ListFiles());
    }

    /// <summary>A valid model whose Loop never ends: the largest int64 trip count, and a condition that stays true.</summary>
    private string EndlessModel()
    {
        static NodeProto Node(string op, string input, string output) => new() { OpType = op, Name = output, Input = { input }, Output = { output } };

        var body = new GraphProto
        {
            Name = "body",
            Input = { Value("iteration", DataType.Int64), Value("condition_in", DataType.Bool), Value("v", DataType.Float, 1, 64) },
            Node = { Node("Identity", "condition_in", "condition_out"), Node("Identity", "v", "v_out") },
            Output = { Value("condition_out", DataType.Bool), Value("v_out", DataType.Float, 1, 64) },
        };
        var loop = new NodeProto { OpType = "Loop", Name = "loop", Input = { "trips", "go", "x" }, Output = { "y" } };
        loop.Attribute.Add(new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body });
        var model = new ModelProto
        {
            IrVersion = 8,
            Graph = new GraphProto
            {
                Name = "endless",
                Input = { Value("x", DataType.Float, 1, 64) },
                Initializer = { TensorValues.Create<long>("trips", [], [long.MaxValue]), TensorValues.Create<bool>("go", [], [true]) },
                Node = { loop },
                Output = { Value("y", DataType.Float, 1, 64) },
            },
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        string path = folder.File("endless.onnx");
        OnnxModelFile.Save(model, path);
        return path;
    }

    private static ValueInfoProto Value(string name, DataType type, params long[]? dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (long dim in dims ?? [])
        {
            tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = dim });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    /// <summary>The tool's worker process, once it has started.</summary>
    private static int WaitForWorker(int toolId)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            foreach (string dir in Directory.GetDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(dir), out int pid) && ParentOf(pid) == toolId &&
                    ReadOrEmpty(Path.Combine(dir, "cmdline")).Contains("onnx-compress-worker.dll", StringComparison.Ordinal))
                {
                    return pid;
                }
            }

            Thread.Sleep(100);
        }

        throw new TimeoutException($"The tool {toolId} started no worker within 30 s.");
    }

    private static bool Ended(int pid, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            string stat = ReadOrEmpty($"/proc/{pid}/stat");
            if (stat.Length == 0 || stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
            {
                return true;
            }

            Thread.Sleep(100);
        }

        return false;
    }

    private static int ParentOf(int pid)
    {
        string stat = ReadOrEmpty($"/proc/{pid}/stat");
        return stat.Length == 0 ? -1 : int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return string.Empty;
        }
        catch (UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
