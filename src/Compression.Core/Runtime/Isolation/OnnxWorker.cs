using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Compression.Core.Runtime.Isolation;

/// <summary>
/// Runs ONNX Runtime sessions in a worker process (<c>onnx-compress-worker</c>, shipped beside Compression.Core.dll), so
/// that a model that crashes ONNX Runtime (a segfault, a corrupted heap, C++ <c>terminate</c>) or makes it hang ends
/// that process, not the compressor: a crash is error OCB0105 naming the signal, a run past the time limit OCB0106. The
/// time limit counts the time ONNX Runtime works for this runner in all (loading and running every model); the worker
/// is killed, with any process it started, on timeout, when the caller's token is cancelled, and on
/// <see cref="ModelRunner.Dispose()"/>. The worker starts with the first session and serves every session of the runner.
/// </summary>
public sealed class OnnxWorker : ModelRunner
{
    /// <summary>The worker's file name, beside Compression.Core.dll.</summary>
    public const string FileName = "onnx-compress-worker.dll";

    private const int StderrLines = 20;

    private readonly string workerPath;
    private readonly TimeSpan timeout;
    private readonly string modelPath;
    private readonly string timeoutOrigin;
    private readonly CancellationToken cancellation;
    private readonly Queue<string> stderr = new();
    private TimeSpan spent;
    private Process? process;
    private BinaryWriter? writer;
    private BinaryReader? reader;
    private int nextSession;
    private bool broken;
    private Task<int>? hello;

    private OnnxWorker(string workerPath, TimeSpan timeout, string timeoutOrigin, string modelPath, CancellationToken cancellation)
    {
        this.workerPath = workerPath;
        this.timeout = timeout;
        this.timeoutOrigin = timeoutOrigin;
        this.modelPath = modelPath;
        this.cancellation = cancellation;
    }

    /// <summary>The worker to use instead of the one beside Compression.Core.dll (tests); empty for none, so that
    /// sessions run in process.</summary>
    internal static string? PathOverride { get; set; }

    /// <summary>The worker beside Compression.Core.dll, or null when there is none (then sessions run in process).</summary>
    public static string? Find()
    {
        if (PathOverride is { } overridden)
        {
            return overridden.Length == 0 ? null : overridden;
        }

        string? folder = Path.GetDirectoryName(typeof(OnnxWorker).Assembly.Location);
        if (string.IsNullOrEmpty(folder))
        {
            return null;
        }

        string path = Path.Combine(folder, FileName);
        return File.Exists(path) && File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")) ? path : null;
    }

    /// <summary>A runner for the sessions of one model's compression: the worker when there is one, else in process.</summary>
    /// <param name="timeout">How long ONNX Runtime may work in all.</param>
    /// <param name="timeoutOrigin">Where the limit came from, for the message (<c>ValidationTimeout=300 (default)</c>).</param>
    /// <param name="modelPath">The model, for messages.</param>
    /// <param name="cancellation">Cancels the work and kills the worker.</param>
    public static ModelRunner Create(TimeSpan timeout, string timeoutOrigin, string modelPath, CancellationToken cancellation) =>
        Find() is { } worker ? new OnnxWorker(worker, timeout, timeoutOrigin, modelPath, cancellation) : InProcess;

    /// <inheritdoc />
    public override bool IsIsolated => true;

    /// <summary>The worker's process id once started, else 0.</summary>
    public int ProcessId => process?.Id ?? 0;

    /// <inheritdoc />
    public override IModelSession Open(ReadOnlyMemory<byte> model, OnnxSessionOptions options, string what)
    {
        if (model.IsEmpty)
        {
            throw new ArgumentException("The model is empty (0 bytes).", nameof(model));
        }

        int id = ++nextSession;
        (OnnxValueInfo[] inputs, OnnxValueInfo[] outputs) = Exchange($"loading {what}", w =>
        {
            w.Write(WorkerProtocol.OpenBytes);
            w.Write(id);
            w.Write(model.Length);
            w.Write(model.Span);
            WorkerProtocol.WriteOptions(w, options);
        }, r => (WorkerProtocol.ReadInfos(r), WorkerProtocol.ReadInfos(r)));
        return new Session(this, id, what, inputs, outputs);
    }

    /// <inheritdoc />
    public override IModelSession Open(string modelPath, OnnxSessionOptions options, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        string fullPath = Path.GetFullPath(modelPath);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"The ONNX model '{fullPath}' does not exist.", fullPath);
        }

        int id = ++nextSession;
        (OnnxValueInfo[] inputs, OnnxValueInfo[] outputs) = Exchange($"loading {what}", w =>
        {
            w.Write(WorkerProtocol.OpenPath);
            w.Write(id);
            w.Write(fullPath);
            WorkerProtocol.WriteOptions(w, options);
        }, r => (WorkerProtocol.ReadInfos(r), WorkerProtocol.ReadInfos(r)));
        return new Session(this, id, what, inputs, outputs);
    }

    /// <summary>Test hook: makes the worker kill itself with <paramref name="signal"/> while <paramref name="doing"/>,
    /// as a native crash in ONNX Runtime would end it.</summary>
    internal void CrashForTest(int signal, string doing) => Exchange(doing, w =>
    {
        w.Write(WorkerProtocol.KillSelf);
        w.Write(signal);
    }, _ => 0);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        Process? worker = process;
        process = null;
        if (worker is null)
        {
            return;
        }

        try
        {
            // Its input ends: an idle worker exits by itself.
            writer?.Dispose();
        }
        catch (IOException)
        {
            // It has gone already.
        }

        if (!worker.WaitForExit(2000))
        {
            Kill(worker);
        }

        worker.Dispose();
    }

    private T Exchange<T>(string doing, Action<BinaryWriter> write, Func<BinaryReader, T> read)
    {
        ObjectDisposedException.ThrowIf(broken, this);
        if (cancellation.IsCancellationRequested)
        {
            Fail();
            cancellation.ThrowIfCancellationRequested();
        }

        Start(doing);
        TimeSpan left = timeout - spent;
        var clock = Stopwatch.StartNew();
        Task<(byte Status, byte Kind, string Message, T Value)> exchange = Task.Run(() =>
        {
            write(writer!);
            writer!.Flush();
            return Answer(read);
        });
        bool finished;
        try
        {
            finished = exchange.Wait(left <= TimeSpan.Zero ? 0 : (int)Math.Min(int.MaxValue - 1, Math.Ceiling(left.TotalMilliseconds)), cancellation);
        }
        catch (OperationCanceledException)
        {
            Fail();
            throw;
        }
        catch (AggregateException)
        {
            finished = true;
        }

        spent += clock.Elapsed;
        if (!finished)
        {
            Fail();
            string seconds = spent.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
            throw new CompressionException(DiagnosticCodes.ValidationTimedOut, modelPath,
                $"ONNX Runtime did not finish {doing} within the time limit, {timeoutOrigin}: it had worked {seconds} s on this model in all, " +
                $"and its worker process was stopped. Nothing was written. A model that loops for ever or is too large to check in that time stops here: " +
                "raise ValidationTimeout (OnnxValidationTimeout, --validation-timeout), or turn validation off (OnnxValidate=false, --no-validate).");
        }

        (byte Status, byte Kind, string Message, T Value) answer;
        try
        {
            answer = exchange.GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException)
        {
            throw Crashed(doing);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or OverflowException or ArgumentException or OutOfMemoryException)
        {
            // The answer does not parse: something other than the worker wrote to its output.
            Fail();
            throw new CompressionException(DiagnosticCodes.WorkerFailed, modelPath,
                $"The ONNX Runtime worker gave an answer that does not parse while {doing} ({e.Message}), so it was stopped. Nothing was written. " +
                "Report this with the model, or turn validation off (OnnxValidate=false, --no-validate).", e);
        }

        if (answer.Status == WorkerProtocol.Ok)
        {
            return answer.Value;
        }

        throw answer.Kind switch
        {
            WorkerProtocol.FailureOnnxRuntime => new OnnxRuntimeFailureException(answer.Message),
            WorkerProtocol.FailureArgument => new ArgumentException(answer.Message),
            WorkerProtocol.FailureNotSupported => new NotSupportedException(answer.Message),
            WorkerProtocol.FailureFileNotFound => new FileNotFoundException(answer.Message),
            _ => new InvalidOperationException($"The ONNX Runtime worker failed {doing}: {answer.Message}"),
        };
    }

    private (byte Status, byte Kind, string Message, T Value) Answer<T>(Func<BinaryReader, T> read)
    {
        byte status = reader!.ReadByte();
        return status == WorkerProtocol.Ok
            ? (status, (byte)0, string.Empty, read(reader))
            : (status, reader.ReadByte(), reader.ReadString(), default!);
    }

    /// <summary>Starts the worker now, so that it gets ready while the compressor reads the model; the first session
    /// waits for it.</summary>
    public override void Prepare()
    {
        try
        {
            Launch();
        }
        catch (OnnxRuntimeNotFoundException)
        {
            // Validation says so, with its code, when it starts.
        }
    }

    private void Launch()
    {
        if (process is not null || broken)
        {
            return;
        }

        string library = OnnxRuntimeLibrary.LoadedPath;
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(workerPath);
        start.ArgumentList.Add("--library");
        start.ArgumentList.Add(library);
        start.ArgumentList.Add("--parent");
        start.ArgumentList.Add(Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        var started = new Process { StartInfo = start };
        started.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (stderr)
            {
                stderr.Enqueue(e.Data);
                while (stderr.Count > StderrLines)
                {
                    stderr.Dequeue();
                }
            }
        };
        try
        {
            started.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            started.Dispose();
            throw new CompressionException(DiagnosticCodes.WorkerFailed, modelPath,
                $"The ONNX Runtime worker '{workerPath}' could not be started with '{start.FileName}': {e.Message} Check that the .NET runtime " +
                "is installed (DOTNET_ROOT), or turn validation off (OnnxValidate=false, --no-validate).", e);
        }

        started.BeginErrorReadLine();
        process = started;
        writer = new BinaryWriter(new BufferedStream(started.StandardInput.BaseStream, 1 << 16), WorkerProtocol.Utf8);
        reader = new BinaryReader(started.StandardOutput.BaseStream, WorkerProtocol.Utf8);
        BinaryReader helloReader = reader;
        hello = Task.Run(() => helloReader.ReadInt32());
    }

    private void Start(string doing)
    {
        Launch();
        if (hello is not { } greeting)
        {
            return;
        }

        bool ready;
        try
        {
            ready = greeting.Wait(60_000, cancellation) && greeting.Result == WorkerProtocol.Hello;
        }
        catch (OperationCanceledException)
        {
            Fail();
            throw;
        }
        catch (AggregateException)
        {
            ready = false;
        }

        hello = null;

        if (!ready)
        {
            Fail();
            throw new CompressionException(DiagnosticCodes.WorkerFailed, modelPath,
                $"The ONNX Runtime worker '{workerPath}' did not start for {doing}{ExitText()}{StderrText()} Check that the .NET runtime " +
                "runs it (dotnet exec onnx-compress-worker.dll), or turn validation off (OnnxValidate=false, --no-validate).");
        }
    }

    private CompressionException Crashed(string doing)
    {
        Process? worker = process;
        if (worker is not null && !worker.WaitForExit(5000))
        {
            Kill(worker);
        }

        broken = true;
        string exit = ExitText();
        return new CompressionException(DiagnosticCodes.OnnxRuntimeCrashed, modelPath,
            $"ONNX Runtime crashed {doing}{exit}{StderrText()} Its worker process ended; the compressor did not. Nothing was written. " +
            "The model makes ONNX Runtime fail outright: check it with the ONNX checker (onnx.checker.check_model(model, full_check=True)), " +
            "report it to ONNX Runtime with the model, or turn validation off (OnnxValidate=false, --no-validate).");
    }

    private string ExitText()
    {
        Process? worker = process;
        if (worker is null || !worker.HasExited)
        {
            return ".";
        }

        worker.WaitForExit();
        return $": {DescribeExit(worker.ExitCode)}.";
    }

    private string StderrText()
    {
        lock (stderr)
        {
            string[] lines = stderr.Where(l => l.Trim().Length > 0).TakeLast(5).ToArray();
            return lines.Length == 0 ? string.Empty : $" It wrote: \"{string.Join(" / ", lines.Select(l => l.Trim()))}\".";
        }
    }

    /// <summary>An exit status in words: the signal that ended the process (128 + n on Unix, as .NET reports it), the
    /// Windows exception code, or the exit code.</summary>
    public static string DescribeExit(int exitCode)
    {
        if (OperatingSystem.IsWindows())
        {
            string? name = unchecked((uint)exitCode) switch
            {
                0xC0000005 => "an access violation (0xC0000005)",
                0xC00000FD => "a stack overflow (0xC00000FD)",
                0xC0000374 => "a corrupted heap (0xC0000374)",
                0xC0000409 => "a fail-fast stop (0xC0000409, abort or terminate)",
                0xC000001D => "an illegal instruction (0xC000001D)",
                0xC0000094 => "an integer division by zero (0xC0000094)",
                _ => null,
            };
            return name is null ? $"exit code {exitCode}" : $"the worker process ended with {name}";
        }

        int signal = exitCode > 128 && exitCode < 128 + 65 ? exitCode - 128 : exitCode < 0 ? -exitCode : 0;
        string? signalName = signal switch
        {
            1 => "SIGHUP",
            2 => "SIGINT",
            3 => "SIGQUIT",
            4 => "SIGILL",
            5 => "SIGTRAP",
            6 => "SIGABRT",
            7 => OperatingSystem.IsLinux() ? "SIGBUS" : "SIGEMT",
            8 => "SIGFPE",
            9 => "SIGKILL",
            10 => OperatingSystem.IsLinux() ? "SIGUSR1" : "SIGBUS",
            11 => "SIGSEGV",
            13 => "SIGPIPE",
            15 => "SIGTERM",
            _ => null,
        };
        string meaning = signalName switch
        {
            "SIGSEGV" => ", an invalid memory access",
            "SIGABRT" => ", an abort: a failed check, a corrupted heap or C++ terminate",
            "SIGBUS" => ", an invalid memory access",
            "SIGILL" => ", an illegal instruction",
            "SIGFPE" => ", an arithmetic fault",
            "SIGKILL" => ", killed from outside, for example by the out-of-memory killer",
            _ => string.Empty,
        };
        return signalName is not null
            ? $"the worker process was killed by signal {signalName} (exit status {exitCode}{meaning})"
            : $"the worker process exited with code {exitCode}";
    }

    /// <summary>Stops the worker for good: on timeout, cancellation, or a broken pipe.</summary>
    private void Fail()
    {
        broken = true;
        if (process is { } worker)
        {
            Kill(worker);
        }
    }

    private static void Kill(Process worker)
    {
        try
        {
            worker.Kill(entireProcessTree: true);
            worker.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // It has exited.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // It is exiting.
        }
    }

    /// <summary>The <c>dotnet</c> host of the runtime this process runs on, else the one on the PATH.</summary>
    private static string DotnetHost()
    {
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        // The runtime lives in <root>/shared/Microsoft.NETCore.App/<version>/; the host is <root>/dotnet.
        string runtime = RuntimeEnvironment.GetRuntimeDirectory();
        string? root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(runtime))));
        if (root is not null && File.Exists(Path.Combine(root, exe)))
        {
            return Path.Combine(root, exe);
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath))
        {
            return hostPath;
        }

        if (Environment.ProcessPath is { } self && Path.GetFileName(self).Equals(exe, StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }

        return exe;
    }

    private sealed class Session(OnnxWorker worker, int id, string what, OnnxValueInfo[] inputs, OnnxValueInfo[] outputs) : IModelSession
    {
        private bool disposed;

        public IReadOnlyList<OnnxValueInfo> Inputs { get; } = inputs;

        public IReadOnlyList<OnnxValueInfo> Outputs { get; } = outputs;

        public OnnxTensor[] Run(ReadOnlySpan<string> names, ReadOnlySpan<OnnxTensor> inputs, ReadOnlySpan<string> outputs)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (names.Length != inputs.Length)
            {
                throw new ArgumentException($"{names.Length} input names were given for {inputs.Length} tensors.", nameof(names));
            }

            string[] nameArray = names.ToArray();
            OnnxTensor[] inputArray = inputs.ToArray();
            string[] outputArray = outputs.ToArray();
            for (int i = 0; i < inputArray.Length; i++)
            {
                if (inputArray[i] is null)
                {
                    throw new ArgumentNullException(nameof(inputs), $"Input '{nameArray[i]}' is null.");
                }
            }

            return worker.Exchange($"running {what}", w =>
            {
                w.Write(WorkerProtocol.Run);
                w.Write(id);
                WorkerProtocol.WriteStrings(w, nameArray);
                WorkerProtocol.WriteTensors(w, inputArray);
                WorkerProtocol.WriteStrings(w, outputArray);
            }, WorkerProtocol.ReadTensors);
        }

        public void Dispose()
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            if (worker.process is null || worker.broken)
            {
                return;
            }

            try
            {
                worker.Exchange($"closing {what}", w =>
                {
                    w.Write(WorkerProtocol.Close);
                    w.Write(id);
                }, _ => 0);
            }
            catch (Exception e) when (e is CompressionException or OperationCanceledException or InvalidOperationException)
            {
                // Disposing does not throw: a worker that crashed or was stopped here is reported by the next request,
                // and an exception already under way is not replaced.
            }
        }
    }
}
