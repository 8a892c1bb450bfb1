using Microsoft.ML.OnnxRuntime;
using Compression.Core.Runtime;
using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Compression.Onnx.Protos;

namespace Compression.Core.Tests.Runtime;

/// <summary>OnnxSession against real ONNX Runtime: signatures, options, memory, errors, threads and lifetime.</summary>
public sealed class SessionTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("ort-session-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // ---- Signatures

    [Fact]
    public void Symbolic_and_unnamed_dimensions_are_reported()
    {
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, "batch", 3L, null, "seq"));

        OnnxValueInfo x = Assert.Single(session.Inputs);
        Assert.Equal("x", x.Name);
        Assert.Equal(OnnxValueKind.Tensor, x.Kind);
        Assert.Equal([-1L, 3L, -1L, -1L], x.Dimensions);
        Assert.Equal(["batch", null, null, "seq"], x.SymbolicDimensions);
        Assert.Equal("[batch, 3, ?, seq]", x.ShapeText);
        Assert.Equal("x: float[batch, 3, ?, seq]", x.ToString());
        Assert.Equal("y: float[batch, 3, ?, seq]", Assert.Single(session.Outputs).ToString());
    }

    [Fact]
    public void Inputs_and_outputs_are_listed_in_model_order_without_initializers()
    {
        using var session = new OnnxSession(TestModels.Linear());

        Assert.Equal(["x"], session.Inputs.Select(i => i.Name));
        Assert.Equal(["y"], session.Outputs.Select(o => o.Name));

        using var three = new OnnxSession(TestModels.ThreeOutputs());
        Assert.Equal(["doubled", "squared", "negated"], three.Outputs.Select(o => o.Name));
        Assert.Null(three.ModelPath);
    }

    [Fact]
    public void A_session_from_a_file_reports_its_full_path_and_runs()
    {
        string path = Path.Combine(folder, "add.onnx");
        File.WriteAllBytes(path, TestModels.AddFloat());
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, path);

        using var session = new OnnxSession(relative);

        Assert.Equal(path, session.ModelPath);
        OnnxTensor z = session.Run(["x", "y"], [OnnxTensor.FromArray(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, 2, 3), OnnxTensor.FromArray(new[] { 10f, 20f, 30f }, 3)], [])[0];
        Assert.Equal([11f, 22f, 33f, 14f, 25f, 36f], z.As<float>().ToArray());
    }

    [Fact]
    public void A_model_path_with_non_ascii_characters_loads()
    {
        string path = Path.Combine(folder, "modèle ünïcode 模型.onnx");
        File.WriteAllBytes(path, TestModels.AddFloat());

        using var session = new OnnxSession(path);

        Assert.Equal(path, session.ModelPath);
        Assert.Equal(2, session.Inputs.Count);
    }

    // ---- Options

    [Fact]
    public void FreeDimensionOverrides_fix_a_symbolic_dimension()
    {
        var options = new OnnxSessionOptions();
        options.FreeDimensionOverrides["batch"] = 2;
        using var session = new OnnxSession(TestModels.AddFloat(), options);

        OnnxValueInfo x = session.Inputs[0];
        Assert.Equal([2L, 3L], x.Dimensions);
        Assert.Equal("[2, 3]", x.ShapeText);

        OnnxTensor z = session.Run(["x", "y"], [OnnxTensor.FromArray(new float[6], 2, 3), OnnxTensor.FromArray(new[] { 1f, 2f, 3f }, 3)], [])[0];
        Assert.Equal([2L, 3L], z.Shape.ToArray());

        var e = Assert.Throws<OnnxRuntimeException>(() =>
            session.Run(["x", "y"], [OnnxTensor.FromArray(new float[9], 3, 3), OnnxTensor.FromArray(new[] { 1f, 2f, 3f }, 3)], []));
        Assert.Equal("InvalidArgument", e.Code());
        Assert.Contains("x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfigEntries_are_accepted_and_the_session_runs()
    {
        var options = new OnnxSessionOptions();
        options.ConfigEntries["session.disable_quant_qdq"] = "1";
        options.ConfigEntries["session.use_env_allocators"] = "0";
        using var session = new OnnxSession(TestModels.Linear(), options);

        float[] row = [1, 2, 3, 4];
        OnnxTensor y = session.Run(["x"], [OnnxTensor.FromArray(row, 1, 4)], [])[0];

        Assert.Equal(TestModels.LinearReference(row), y.As<float>().ToArray());
    }

    [Fact]
    public void ConfigEntries_reach_ONNX_Runtime()
    {
        // Told to expect the ORT flatbuffer format, ONNX Runtime refuses an ONNX protobuf: the entry was applied.
        var options = new OnnxSessionOptions();
        options.ConfigEntries["session.load_model_format"] = "ORT";

        var e = Assert.Throws<OnnxRuntimeException>(() => new OnnxSession(TestModels.Linear(), options));

        Assert.NotEqual("Ok", e.Code());
        using var plain = new OnnxSession(TestModels.Linear());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100_000)]
    public void An_invalid_config_entry_gives_OnnxRuntimeException(int keyLength)
    {
        // ONNX Runtime refuses empty keys and keys longer than its limit.
        var options = new OnnxSessionOptions();
        options.ConfigEntries[new string('k', keyLength)] = "1";

        var e = Assert.Throws<OnnxRuntimeException>(() => new OnnxSession(TestModels.Linear(), options));

        Assert.Contains("Config key", e.Message, StringComparison.Ordinal);
        Assert.Equal("InvalidArgument", e.Code());
    }

    [Theory]
    [InlineData(GraphOptimizationLevel.ORT_DISABLE_ALL, false)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_BASIC, false)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_EXTENDED, true)]
    [InlineData(GraphOptimizationLevel.ORT_ENABLE_ALL, true)]
    public void Every_optimization_level_and_execution_mode_computes_the_same_result(GraphOptimizationLevel level, bool parallel)
    {
        var options = new OnnxSessionOptions { OptimizationLevel = level, ParallelExecution = parallel, IntraOpThreads = 2, InterOpThreads = parallel ? 2 : 0 };
        using var session = new OnnxSession(TestModels.Linear(), options.Clone());

        float[] rows = [1, 2, 3, 4, -1, 0.5f, 0, 8];
        OnnxTensor y = session.Run(["x"], [OnnxTensor.FromArray(rows, 2, 4)], [])[0];

        Assert.Equal(TestModels.LinearReference(rows.AsSpan(0, 4)).Concat(TestModels.LinearReference(rows.AsSpan(4, 4))), y.As<float>().ToArray());
    }

    // ---- Caller memory

    [Fact]
    public void Inputs_are_read_from_the_callers_array_at_each_run()
    {
        float[] data = [1, 2, 3];
        OnnxTensor<float> x = OnnxTensor.FromArray(data, 3);
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 3L));

        OnnxTensor first = session.Run(["x"], [x], [])[0];
        data[0] = 100;
        data[2] = -7;
        OnnxTensor second = session.Run(["x"], [x], [])[0];

        Assert.Equal([1f, 2f, 3f], first.As<float>().ToArray());
        Assert.Equal([100f, 2f, -7f], second.As<float>().ToArray());
        Assert.Same(data, MemoryMarshal.TryGetArray<float>(x.Memory, out var segment) ? segment.Array : null);
    }

    [Fact]
    public void A_tensor_over_a_slice_reads_exactly_the_slice()
    {
        float[] buffer = [-1, -1, -1, 10, 20, 30, 40, 50, 60, -1, -1];
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 2L, 3L));

        OnnxTensor y = session.Run(["x"], [OnnxTensor.FromMemory(buffer.AsMemory(3, 6), [2, 3])], [])[0];

        Assert.Equal([10f, 20f, 30f, 40f, 50f, 60f], y.As<float>().ToArray());
    }

    [Fact]
    public void Inputs_over_native_memory_are_pinned_for_the_run_and_released_after_it()
    {
        using var memory = new NativeFloats(4);
        new[] { 1f, 2f, 3f, 4f }.CopyTo(memory.GetSpan());
        var x = OnnxTensor.FromMemory(memory.Memory, [4]);
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 4L));

        OnnxTensor first = session.Run(["x"], [x], [])[0];
        Assert.Equal(1, memory.Pins);
        Assert.Equal(1, memory.Unpins);

        memory.GetSpan()[3] = 44;
        OnnxTensor second = session.Run(["x"], [x], [])[0];

        Assert.Equal([1f, 2f, 3f, 4f], first.As<float>().ToArray());
        Assert.Equal([1f, 2f, 3f, 44f], second.As<float>().ToArray());
        Assert.Equal(2, memory.Pins);
        Assert.Equal(2, memory.Unpins);
    }

    [Fact]
    public void Pins_are_released_when_the_run_fails()
    {
        using var memory = new NativeFloats(4);
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 3L));

        Assert.Throws<OnnxRuntimeException>(() => session.Run(["x"], [OnnxTensor.FromMemory(memory.Memory, [4])], []));

        Assert.Equal(memory.Pins, memory.Unpins);
    }

    [Fact]
    public void Outputs_are_copies_that_later_runs_do_not_change()
    {
        using var session = new OnnxSession(TestModels.ThreeOutputs());
        float[] data = [1, 2, 3];

        OnnxTensor[] first = session.Run(["x"], [OnnxTensor.FromArray(data, 3)], []);
        data[0] = 10;
        OnnxTensor[] second = session.Run(["x"], [OnnxTensor.FromArray(data, 3)], []);

        Assert.Equal([2f, 4f, 6f], first[0].As<float>().ToArray());
        Assert.Equal([1f, 4f, 9f], first[1].As<float>().ToArray());
        Assert.Equal([-1f, -2f, -3f], first[2].As<float>().ToArray());
        Assert.Equal([20f, 4f, 6f], second[0].As<float>().ToArray());
    }

    // ---- Choosing outputs

    [Fact]
    public void Requested_outputs_come_back_in_the_requested_order()
    {
        using var session = new OnnxSession(TestModels.ThreeOutputs());

        OnnxTensor[] outputs = session.Run(["x"], [OnnxTensor.FromArray(new[] { 3f }, 1)], ["negated", "doubled"]);

        Assert.Equal(2, outputs.Length);
        Assert.Equal(-3f, outputs[0].As<float>()[0]);
        Assert.Equal(6f, outputs[1].As<float>()[0]);
    }

    [Fact]
    public void The_same_output_requested_twice_comes_back_twice()
    {
        using var session = new OnnxSession(TestModels.ThreeOutputs());

        OnnxTensor[] outputs = session.Run(["x"], [OnnxTensor.FromArray(new[] { 3f }, 1)], ["squared", "squared"]);

        Assert.Equal(9f, outputs[0].As<float>()[0]);
        Assert.Equal(9f, outputs[1].As<float>()[0]);
        Assert.NotSame(outputs[0], outputs[1]);
    }

    [Fact]
    public void Run_by_dictionary_returns_every_output_by_name()
    {
        using var session = new OnnxSession(TestModels.ThreeOutputs());

        IReadOnlyDictionary<string, OnnxTensor> outputs = session.Run(new Dictionary<string, OnnxTensor> { ["x"] = OnnxTensor.FromArray(new[] { 2f, -1f }, 2) });

        Assert.Equal(["doubled", "negated", "squared"], outputs.Keys.Order());
        Assert.Equal([4f, -2f], outputs["doubled"].As<float>().ToArray());
        Assert.Equal([4f, 1f], outputs["squared"].As<float>().ToArray());
        Assert.Equal([-2f, 1f], outputs["negated"].As<float>().ToArray());
    }

    [Fact]
    public void A_sequence_output_is_reported_and_refused_while_tensor_outputs_still_run()
    {
        byte[] model = TestModels.Model(
            [TestModels.Node("SequenceConstruct", ["x", "x"], ["seq"]), TestModels.Node("Neg", ["x"], ["y"])],
            [TestModels.Value("x", TensorElementType.Float, 2L)],
            [SequenceOfFloat("seq"), TestModels.Value("y", TensorElementType.Float, 2L)]);
        using var session = new OnnxSession(model);

        Assert.Equal(OnnxValueKind.Sequence, session.Outputs[0].Kind);
        Assert.Equal(TensorElementType.Undefined, session.Outputs[0].ElementType);
        var x = OnnxTensor.FromArray(new[] { 1f, 2f }, 2);

        var e = Assert.Throws<NotSupportedException>(() => session.Run(["x"], [x], []));
        Assert.Contains("'seq'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Sequence", e.Message, StringComparison.Ordinal);

        Assert.Equal([-1f, -2f], session.Run(["x"], [x], ["y"])[0].As<float>().ToArray());
    }

    private static ValueInfoProto SequenceOfFloat(string name) => new()
    {
        Name = name,
        Type = new TypeProto
        {
            SequenceType = new TypeProto.Types.Sequence
            {
                ElemType = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorElementType.Float } },
            },
        },
    };

    // ---- Errors

    [Fact]
    public void A_wrong_input_name_throws_ArgumentException_listing_the_models_inputs()
    {
        using var session = new OnnxSession(TestModels.AddFloat());

        var e = Assert.Throws<ArgumentException>(() =>
            session.Run(["x", "why"], [OnnxTensor.FromArray(new float[3], 1, 3), OnnxTensor.FromArray(new float[3], 3)], []));

        Assert.Equal("names", e.ParamName);
        Assert.Contains("no input named 'why'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'x', 'y'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_output_name_throws_ArgumentException_listing_the_models_outputs()
    {
        using var session = new OnnxSession(TestModels.ThreeOutputs());

        var e = Assert.Throws<ArgumentException>(() => session.Run(["x"], [OnnxTensor.FromArray(new float[1], 1)], ["tripled"]));

        Assert.Equal("outputs", e.ParamName);
        Assert.Contains("'doubled', 'squared', 'negated'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Names_and_tensors_must_pair_up()
    {
        using var session = new OnnxSession(TestModels.AddFloat());

        Assert.Throws<ArgumentException>(() => session.Run(["x", "y"], [OnnxTensor.FromArray(new float[3], 1, 3)], []));
        Assert.Throws<ArgumentNullException>(() => session.Run(["x"], [null!], []));
    }

    [Fact]
    public void A_wrong_shape_throws_OnnxRuntimeException_with_ONNX_Runtimes_message()
    {
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 2L, 3L));

        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["x"], [OnnxTensor.FromArray(new float[6], 3, 2)], []));

        Assert.Equal("InvalidArgument", e.Code());
        Assert.Contains("Got invalid dimensions for input: x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_rank_throws_OnnxRuntimeException()
    {
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 2L, 3L));

        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["x"], [OnnxTensor.FromArray(new float[6], 6)], []));

        Assert.Equal("InvalidArgument", e.Code());
        Assert.Contains("Invalid rank for input: x", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wrong_element_type_throws_OnnxRuntimeException_with_ONNX_Runtimes_message()
    {
        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 2L, 3L));

        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["x"], [OnnxTensor.FromArray(new double[6], 2, 3)], []));

        Assert.Equal("InvalidArgument", e.Code());
        Assert.Contains("Unexpected input data type", e.Message, StringComparison.Ordinal);
        Assert.Contains("tensor(double)", e.Message, StringComparison.Ordinal);
        Assert.Contains("tensor(float)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_input_throws_OnnxRuntimeException()
    {
        using var session = new OnnxSession(TestModels.AddFloat());

        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["x"], [OnnxTensor.FromArray(new float[3], 1, 3)], []));

        // ONNX Runtime does not check for missing inputs up front: the kernel that needs it fails.
        Assert.NotEqual("Ok", e.Code());
        Assert.Contains("Missing Input: y", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failure_inside_an_operator_throws_OnnxRuntimeException_and_the_session_stays_usable()
    {
        // Reshape 6 elements to a shape given at run time.
        byte[] model = TestModels.Model([TestModels.Node("Reshape", ["x", "shape"], ["y"])],
            [TestModels.Value("x", TensorElementType.Float, 6L), TestModels.Value("shape", TensorElementType.Int64, 2L)],
            [TestModels.Value("y", TensorElementType.Float, null, null)]);
        using var session = new OnnxSession(model);
        var x = OnnxTensor.FromArray(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, 6);

        var e = Assert.Throws<OnnxRuntimeException>(() => session.Run(["x", "shape"], [x, OnnxTensor.FromArray(new[] { 4L, 2L }, 2)], []));
        Assert.Contains("Reshape", e.Message, StringComparison.Ordinal);

        OnnxTensor y = session.Run(["x", "shape"], [x, OnnxTensor.FromArray(new[] { 3L, 2L }, 2)], [])[0];
        Assert.Equal([3L, 2L], y.Shape.ToArray());
    }

    [Fact]
    public void A_file_that_is_not_ONNX_throws_OnnxRuntimeException()
    {
        string path = Path.Combine(folder, "not-a-model.onnx");
        File.WriteAllText(path, "This is a text file, not an ONNX model.\n");

        var fromFile = Assert.Throws<OnnxRuntimeException>(() => new OnnxSession(path));
        var fromBytes = Assert.Throws<OnnxRuntimeException>(() => new OnnxSession(File.ReadAllBytes(path)));
        var fromNothing = Assert.Throws<ArgumentException>(() => new OnnxSession(ReadOnlyMemory<byte>.Empty));

        Assert.Equal("InvalidProtobuf", fromFile.Code());
        Assert.Contains(path, fromFile.Message, StringComparison.Ordinal);
        Assert.Equal("InvalidProtobuf", fromBytes.Code());
        Assert.Contains("empty", fromNothing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_valid_protobuf_with_an_invalid_graph_throws_OnnxRuntimeException()
    {
        byte[] model = TestModels.Model([TestModels.Node("Add", ["x", "nowhere"], ["y"])],
            [TestModels.Value("x", TensorElementType.Float, 2L)], [TestModels.Value("y", TensorElementType.Float, 2L)]);

        var e = Assert.Throws<OnnxRuntimeException>(() => new OnnxSession(model));

        Assert.Contains("nowhere", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_throws_FileNotFoundException_with_the_full_path()
    {
        string path = Path.Combine(folder, "missing.onnx");

        var e = Assert.Throws<FileNotFoundException>(() => new OnnxSession(path));

        Assert.Equal(path, e.FileName);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new OnnxSession(""));
    }

    // ---- Threads and lifetime

    [Fact]
    public void Concurrent_runs_from_several_threads_each_get_their_own_correct_results()
    {
        using var session = new OnnxSession(TestModels.Linear(), new OnnxSessionOptions { IntraOpThreads = 1 });
        const int threads = 8;
        const int runs = 200;
        var shared = OnnxTensor.FromArray(new[] { 1f, 1f, 1f, 1f }, 1, 4);
        float[] sharedExpected = TestModels.LinearReference([1f, 1f, 1f, 1f]);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var start = new Barrier(threads);

        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            start.SignalAndWait();
            for (int r = 0; r < runs; r++)
            {
                int batch = 1 + random.Next(4);
                float[] x = Enumerable.Range(0, batch * 4).Select(_ => (float)random.Next(-100, 100)).ToArray();
                OnnxTensor[] both = session.Run(["x"], [OnnxTensor.FromArray(x, batch, 4)], []);
                float[] y = both[0].As<float>().ToArray();
                for (int b = 0; b < batch; b++)
                {
                    if (!TestModels.LinearReference(x.AsSpan(b * 4, 4)).SequenceEqual(y.Skip(b * 3).Take(3)))
                    {
                        failures.Add($"thread {t} run {r} row {b}");
                    }
                }

                // The same input tensor used by every thread at once.
                if (!session.Run(["x"], [shared], [])[0].As<float>().ToArray().SequenceEqual(sharedExpected))
                {
                    failures.Add($"thread {t} run {r} shared input");
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Empty(failures);
    }

    [Fact]
    public void Dispose_twice_is_fine_and_Run_after_Dispose_throws_ObjectDisposedException()
    {
        var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 1L));
        var x = OnnxTensor.FromArray(new[] { 1f }, 1);
        Assert.Equal(1f, session.Run(["x"], [x], [])[0].As<float>()[0]);

        session.Dispose();
        session.Dispose();

        Assert.Throws<ObjectDisposedException>(() => session.Run(["x"], [x], []));
        Assert.Throws<ObjectDisposedException>(() => session.Run(new Dictionary<string, OnnxTensor> { ["x"] = x }));
        Assert.Equal("x", session.Inputs[0].Name);
    }

    [Fact]
    public void Dispose_while_other_threads_run_lets_each_run_finish_or_throw_ObjectDisposedException()
    {
        for (int round = 0; round < 20; round++)
        {
            var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 4096L));
            var x = OnnxTensor.FromArray(Enumerable.Range(0, 4096).Select(i => (float)i).ToArray(), 4096);
            var outcomes = new System.Collections.Concurrent.ConcurrentBag<string>();
            using var started = new CountdownEvent(4);
            var workers = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
            {
                started.Signal();
                for (int i = 0; i < 50; i++)
                {
                    try
                    {
                        float[] y = session.Run(["x"], [x], [])[0].As<float>().ToArray();
                        outcomes.Add(y[4095] == 4095f ? "ran" : "wrong output");
                    }
                    catch (ObjectDisposedException)
                    {
                        outcomes.Add("disposed");
                    }
                }
            })).ToList();
            workers.ForEach(w => w.Start());
            started.Wait();
            session.Dispose();
            workers.ForEach(w => w.Join());

            Assert.All(outcomes, o => Assert.Contains(o, new[] { "ran", "disposed" }));
        }
    }

    [Fact]
    public void Sessions_left_to_the_finalizer_are_released_without_crashing()
    {
        for (int i = 0; i < 20; i++)
        {
            Abandon();
        }

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        using var session = new OnnxSession(TestModels.Identity(TensorElementType.Float, 1L));
        Assert.Equal(5f, session.Run(["x"], [OnnxTensor.FromArray(new[] { 5f }, 1)], [])[0].As<float>()[0]);

        static void Abandon() => _ = new OnnxSession(TestModels.Identity(TensorElementType.Float, 1L)).Inputs;
    }

    /// <summary>Floats in native memory that count how often OnnxSession pins and unpins them.</summary>
    private sealed unsafe class NativeFloats(int length) : MemoryManager<float>
    {
        private readonly float* data = (float*)NativeMemory.AllocZeroed((nuint)length, sizeof(float));
        private bool freed;

        public int Pins { get; private set; }

        public int Unpins { get; private set; }

        public override Span<float> GetSpan() => new(data, length);

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            Pins++;
            return new MemoryHandle(data + elementIndex, pinnable: this);
        }

        public override void Unpin() => Unpins++;

        protected override void Dispose(bool disposing)
        {
            if (!freed)
            {
                NativeMemory.Free(data);
                freed = true;
            }
        }
    }
}

/// <summary>
/// Tests that measure this process's resident memory run alone: a test running beside them (a 4096 x 4096 weight is
/// 64 MiB, its statistics more) would count toward their growth.
/// </summary>
[Collection(ResidentMemory.Name)]
public sealed class SessionMemoryTests
{
    [Fact]
    public void Repeated_runs_release_their_native_values()
    {
        // Each run makes an 8 MiB output in ONNX Runtime's memory; if OnnxSession kept them, 150 runs would hold 1.2 GiB.
        const int elements = 2 << 20;
        byte[] model = TestModels.Model([TestModels.Node("Neg", ["x"], ["y"])],
            [TestModels.Value("x", TensorElementType.Float, "n")], [TestModels.Value("y", TensorElementType.Float, "n")]);
        using var session = new OnnxSession(model, new OnnxSessionOptions { IntraOpThreads = 1 });
        var x = OnnxTensor.FromArray(new float[elements], elements);
        x.Span[elements - 1] = 3;

        for (int i = 0; i < 10; i++)
        {
            session.Run(["x"], [x], []);
        }

        long before = Resident();
        for (int i = 0; i < 150; i++)
        {
            Assert.Equal(-3f, session.Run(["x"], [x], [])[0].As<float>()[elements - 1]);
        }

        long growth = Resident() - before;
        Assert.True(growth < 400L << 20, $"resident memory grew by {growth >> 20} MiB over 150 runs");
    }

    private static long Resident()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64;
    }

}

/// <summary>Tests that measure the resident memory of the test process run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ResidentMemory
{
    public const string Name = "resident memory";
}
