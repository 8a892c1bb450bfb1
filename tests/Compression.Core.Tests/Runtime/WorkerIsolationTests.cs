using System.Diagnostics;
using Compression.Core.Evaluation;
using Compression.Core.Runtime;
using Compression.Core.Runtime.Isolation;
using Compression.Core.Tests.Support;
using Compression.Onnx;
using Compression.Onnx.Protos;
using AttributeType = Compression.Onnx.Protos.AttributeProto.Types.AttributeType;
using DataType = Compression.Onnx.Protos.TensorProto.Types.DataType;

namespace Compression.Core.Tests.Runtime;

/// <summary>
/// ONNX Runtime runs the user's models in a worker process: a model that hangs it, or a crash, ends the worker with a
/// coded error and nothing written, while the compressor goes on; cancelling kills the worker.
/// </summary>
[Collection(WorkerProcesses.Name)]
public sealed class WorkerIsolationTests : IDisposable
{
    private readonly TemporaryFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void The_worker_ships_beside_Compression_Core_and_compressions_use_it()
    {
        Assert.NotNull(OnnxWorker.Find());
        using ModelRunner runner = OnnxWorker.Create(TimeSpan.FromMinutes(1), "test", RepositoryPaths.DigitsModel, CancellationToken.None);
        Assert.True(runner.IsIsolated);
    }

    [Fact]
    public void Sessions_in_the_worker_give_the_same_outputs_as_in_process()
    {
        using ModelRunner worker = OnnxWorker.Create(TimeSpan.FromMinutes(1), "test", RepositoryPaths.DigitsModel, CancellationToken.None);
        using IModelSession isolated = worker.Open(RepositoryPaths.DigitsModel, Ort.Options(), "the digits model");
        using var local = new OnnxSession(RepositoryPaths.DigitsModel, Ort.Options());
        Assert.Equal(local.Inputs.Select(i => i.ToString()), isolated.Inputs.Select(i => i.ToString()));
        Assert.Equal(local.Outputs.Select(o => o.ToString()), isolated.Outputs.Select(o => o.ToString()));

        OnnxTensor<float> pixels = Ort.RandomFloats(5, 3, 64);
        OnnxTensor[] expected = local.Run(["pixels"], [pixels], []);
        OnnxTensor[] actual = isolated.Run(["pixels"], [pixels], []);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Shape.ToArray(), actual[i].Shape.ToArray());
            Assert.Equal(expected[i].As<float>().ToArray(), actual[i].As<float>().ToArray());
        }

        // ONNX Runtime's own errors come back with their message.
        ArgumentException wrongName = Assert.Throws<ArgumentException>(() => isolated.Run(["nope"], [pixels], []));
        Assert.Contains("no input named 'nope'", wrongName.Message, StringComparison.Ordinal);
        OnnxRuntimeFailureException wrongShape = Assert.Throws<OnnxRuntimeFailureException>(() => isolated.Run(["pixels"], [Ort.RandomFloats(5, 3, 63)], []));
        Assert.Contains("pixels", wrongShape.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_that_makes_ONNX_Runtime_loop_for_ever_fails_with_OCB0106_within_ValidationTimeout_and_writes_nothing()
    {
        string input = folder.File("endless.onnx");
        OnnxModelFile.Save(EndlessLoop(), input);
        var clock = Stopwatch.StartNew();

        CompressionException error = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(new CompressionRequest(input, folder.File("out", "endless.onnx"))
        {
            ReportPath = folder.File("out", "endless.json"),
            Settings = CompressionSettings.Default.Set(EvaluationSettings.ValidationTimeout, 2L),
        }));

        Assert.Equal(DiagnosticCodes.ValidationTimedOut, error.Code);
        Assert.Contains("running the original model", error.Message, StringComparison.Ordinal);
        Assert.Contains("ValidationTimeout=2 s", error.Message, StringComparison.Ordinal);
        Assert.InRange(clock.Elapsed.TotalSeconds, 2, 30);
        Assert.Equal(["endless.onnx"], folder.ListFiles());
        Assert.Empty(Workers());
    }

    [Fact]
    public void A_model_that_crashes_ONNX_Runtime_is_OCB0105_naming_the_signal_in_the_worker_and_refused_at_load_by_the_compressor()
    {
        // ONNX Runtime 1.31.1 divides by a ConvTranspose's group while creating the session: group=0 is an integer
        // division by zero, which x64 traps (SIGFPE) and which used to take the compressor down with it.
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64 || OperatingSystem.IsWindows())
        {
            return;
        }

        ModelProto model = new ModelBuilder()
            .Input("x", DataType.Float, 1, 4, 8, 8)
            .Initializer("k", [4, 4, 3, 3], SeededValues.Uniform(3, 144))
            .Node("ConvTranspose", ["x", "k"], ["y"], Attributes.Int("group", 0))
            .Output("y", DataType.Float, 1, 4, 10, 10)
            .Build();
        string input = folder.File("group0.onnx");
        OnnxModelFile.Save(model, input);

        // The worker survives what ONNX Runtime does to it: the crash comes back as a coded error naming the signal.
        using (ModelRunner runner = OnnxWorker.Create(TimeSpan.FromMinutes(1), "test", input, CancellationToken.None))
        {
            CompressionException crash = Assert.Throws<CompressionException>(() => runner.Open(input, Ort.Options(), "the original model"));
            Assert.Equal(DiagnosticCodes.OnnxRuntimeCrashed, crash.Code);
            Assert.Equal(input, crash.ModelPath);
            Assert.StartsWith("ONNX Runtime crashed loading the original model: the worker process was killed by signal SIGFPE (exit status 136", crash.Message, StringComparison.Ordinal);
        }

        // Now that the crash is known, the compressor refuses the model at load, before ONNX Runtime sees it.
        CompressionException error = Assert.Throws<CompressionException>(() => ModelCompressor.Compress(new CompressionRequest(input, folder.File("out", "group0.onnx"))
        {
            ReportPath = folder.File("out", "group0.json"),
            DependencyPath = folder.File("out", "group0.deps"),
        }));

        Assert.Equal(DiagnosticCodes.InvalidModel, error.Code);
        Assert.Contains("group=0; ConvTranspose takes a group of at least 1", error.Message, StringComparison.Ordinal);
        Assert.Equal(["group0.onnx"], folder.ListFiles());
        Assert.Empty(Workers());
    }

    [Fact]
    public void Cancelling_a_compression_kills_the_worker_and_writes_nothing()
    {
        string input = folder.File("endless.onnx");
        OnnxModelFile.Save(EndlessLoop(), input);
        using var cancellation = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var clock = Stopwatch.StartNew();

        Assert.ThrowsAny<OperationCanceledException>(() => ModelCompressor.Compress(new CompressionRequest(input, folder.File("out", "endless.onnx")), cancellation.Token));

        Assert.InRange(clock.Elapsed.TotalSeconds, 2, 30);
        Assert.Equal(["endless.onnx"], folder.ListFiles());
        Assert.Empty(Workers());
    }

    [Theory]
    [InlineData(11, "SIGSEGV")]
    [InlineData(6, "SIGABRT")]
    public void A_worker_killed_by_a_signal_is_OCB0105_naming_the_signal_and_the_compressor_goes_on(int signal, string name)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Signals are Unix's.
        }

        var worker = (OnnxWorker)OnnxWorker.Create(TimeSpan.FromMinutes(1), "test", RepositoryPaths.DigitsModel, CancellationToken.None);
        using (worker)
        {
            using IModelSession session = worker.Open(RepositoryPaths.DigitsModel, Ort.Options(), "the digits model");
            int id = worker.ProcessId;

            CompressionException error = Assert.Throws<CompressionException>(() => worker.CrashForTest(signal, "running the digits model"));

            Assert.Equal(DiagnosticCodes.OnnxRuntimeCrashed, error.Code);
            Assert.Contains($"signal {name} (exit status {128 + signal}", error.Message, StringComparison.Ordinal);
            Assert.Contains("killing itself", error.Message, StringComparison.Ordinal);
            Assert.Contains(RepositoryPaths.DigitsModel, error.ModelPath, StringComparison.Ordinal);
            Assert.Throws<ObjectDisposedException>(() => session.Run(["pixels"], [Ort.RandomFloats(1, 1, 64)], []));
            Assert.DoesNotContain(id, Workers());
        }
    }

    [Theory]
    [InlineData(139, "signal SIGSEGV (exit status 139, an invalid memory access)")]
    [InlineData(134, "signal SIGABRT (exit status 134, an abort: a failed check, a corrupted heap or C++ terminate)")]
    [InlineData(137, "signal SIGKILL (exit status 137")]
    [InlineData(3, "exited with code 3")]
    public void Exit_statuses_name_the_signal(int status, string expected)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // Windows reports exception codes instead.
        }

        Assert.Contains(expected, OnnxWorker.DescribeExit(status), StringComparison.Ordinal);
    }

    [Fact]
    public void The_compressed_model_and_its_report_are_the_same_with_and_without_the_worker()
    {
        string isolatedModel = folder.File("isolated", "digits.onnx");
        string localModel = folder.File("local", "digits.onnx");
        ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, isolatedModel) { ReportPath = isolatedModel + ".json", SourceName = "digits.onnx" });
        OnnxWorker.PathOverride = string.Empty;
        try
        {
            ModelCompressor.Compress(new CompressionRequest(RepositoryPaths.DigitsModel, localModel) { ReportPath = localModel + ".json", SourceName = "digits.onnx" });
        }
        finally
        {
            OnnxWorker.PathOverride = null;
        }

        Assert.Equal(File.ReadAllBytes(localModel), File.ReadAllBytes(isolatedModel));
        Assert.Equal(ReportJson.WithoutTiming(File.ReadAllText(localModel + ".json")), ReportJson.WithoutTiming(File.ReadAllText(isolatedModel + ".json")));
        Assert.Contains("\"cosineSimilarity\"", File.ReadAllText(isolatedModel + ".json"), StringComparison.Ordinal);
    }

    /// <summary>
    /// A valid model whose Loop runs for ever: its trip count is the largest int64 and its condition stays true. ONNX
    /// Runtime loads it and never returns from the run.
    /// </summary>
    private static ModelProto EndlessLoop()
    {
        static ValueInfoProto Scalar(string name, DataType type) => new()
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() } },
        };

        GraphProto body = new GraphBuilder("body")
            .Input("v", DataType.Float, 1, 64)
            .Node("Identity", ["condition_in"], ["condition_out"])
            .Node("Identity", ["v"], ["v_out"])
            .Output("v_out", DataType.Float, 1, 64)
            .BuildGraph();
        body.Input.Insert(0, Scalar("iteration", DataType.Int64));
        body.Input.Insert(1, Scalar("condition_in", DataType.Bool));
        body.Output.Insert(0, Scalar("condition_out", DataType.Bool));
        return new ModelBuilder()
            .Input("x", DataType.Float, 1, 64)
            .Initializer("trips", [], new[] { long.MaxValue })
            .Initializer("go", [], new[] { true })
            .Node("Loop", ["trips", "go", "x"], ["y"], new AttributeProto { Name = "body", Type = AttributeType.Graph, G = body })
            .Output("y", DataType.Float, 1, 64)
            .Build();
    }

    /// <summary>The worker processes this process started that are still running (Linux: from /proc).</summary>
    private static List<int> Workers()
    {
        var found = new List<int>();
        if (!OperatingSystem.IsLinux())
        {
            return found;
        }

        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                string commandLine = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (fields[0] != "Z" && int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == Environment.ProcessId &&
                    commandLine.Contains(OnnxWorker.FileName, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // It ended while being looked at.
            }
        }

        return found;
    }
}

/// <summary>Tests that count this process's worker processes, or choose where sessions run, run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WorkerProcesses
{
    public const string Name = "worker processes";
}
