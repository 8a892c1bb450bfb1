using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Compression.Core.Runtime.Isolation;

/// <summary>
/// The worker's side (<c>onnx-compress-worker</c>): loads models into ONNX Runtime and runs them as the compressor
/// asks over standard input and output (<see cref="WorkerProtocol"/>), one request at a time, until its input ends.
/// It kills itself when the compressor's process ends, even while ONNX Runtime is busy, so that no worker outlives it.
/// </summary>
public static class OnnxWorkerServer
{
    /// <summary>Serves requests; returns the process's exit code.</summary>
    /// <param name="args"><c>--library PATH</c>: the ONNX Runtime library to load; <c>--parent PID</c>: the process to
    /// outlive by no more than a moment.</param>
    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--library":
                    OnnxRuntimeLibrary.UseLibrary(args[i + 1]);
                    break;
                case "--parent":
                    WatchParent(int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default:
                    Console.Error.WriteLine($"onnx-compress-worker: unknown argument '{args[i]}'.");
                    return 2;
            }
        }

        // Standard output carries the answers: stray managed writes go to standard error instead.
        using Stream output = Console.OpenStandardOutput();
        Console.SetOut(Console.Error);
        using Stream input = Console.OpenStandardInput();
        return Serve(input, output);
    }

    private static int Serve(Stream input, Stream output)
    {
        using var reader = new BinaryReader(input, WorkerProtocol.Utf8, leaveOpen: true);
        using var writer = new BinaryWriter(new BufferedStream(output, 1 << 16), WorkerProtocol.Utf8, leaveOpen: false);
        try
        {
            // Ready means ONNX Runtime is loaded, while the compressor still reads the model.
            OnnxRuntimeLibrary.EnsureLoaded();
        }
        catch (OnnxRuntimeNotFoundException)
        {
            // The first session says why.
        }

        writer.Write(WorkerProtocol.Hello);
        writer.Flush();
        var sessions = new Dictionary<int, OnnxSession>();
        try
        {
            while (true)
            {
                int op = input.ReadByte();
                if (op < 0)
                {
                    return 0;
                }

                // Each request is read whole before it runs, so that a failure leaves the stream at the next one.
                Action<BinaryWriter> answer;
                switch (op)
                {
                    case WorkerProtocol.OpenBytes:
                    case WorkerProtocol.OpenPath:
                    {
                        int id = reader.ReadInt32();
                        byte[]? bytes = null;
                        string? path = null;
                        if (op == WorkerProtocol.OpenBytes)
                        {
                            bytes = new byte[reader.ReadInt32()];
                            input.ReadExactly(bytes);
                        }
                        else
                        {
                            path = reader.ReadString();
                        }

                        OnnxSessionOptions options = WorkerProtocol.ReadOptions(reader);
                        answer = Attempt(() =>
                        {
                            OnnxSession session = bytes is not null ? new OnnxSession(bytes, options) : new OnnxSession(path!, options);
                            sessions[id] = session;
                            return w =>
                            {
                                WorkerProtocol.WriteInfos(w, session.Inputs);
                                WorkerProtocol.WriteInfos(w, session.Outputs);
                            };
                        });
                        break;
                    }

                    case WorkerProtocol.Run:
                    {
                        int id = reader.ReadInt32();
                        string[] names = WorkerProtocol.ReadStrings(reader);
                        OnnxTensor[] tensors = WorkerProtocol.ReadTensors(reader);
                        string[] outputs = WorkerProtocol.ReadStrings(reader);
                        answer = Attempt(() =>
                        {
                            OnnxTensor[] results = sessions[id].Run(names, tensors, outputs);
                            return w => WorkerProtocol.WriteTensors(w, results);
                        });
                        break;
                    }

                    case WorkerProtocol.Close:
                    {
                        int id = reader.ReadInt32();
                        answer = Attempt(() =>
                        {
                            if (sessions.Remove(id, out OnnxSession? session))
                            {
                                session.Dispose();
                            }

                            return _ => { };
                        });
                        break;
                    }

                    case WorkerProtocol.KillSelf:
                        KillSelf(reader.ReadInt32());
                        return 1;

                    default:
                        Console.Error.WriteLine($"onnx-compress-worker: unknown request {op}.");
                        return 2;
                }

                answer(writer);
                writer.Flush();
            }
        }
        finally
        {
            foreach (OnnxSession session in sessions.Values)
            {
                session.Dispose();
            }
        }
    }

    /// <summary>Runs a request; its answer is the status byte and the result, or the failure's kind and message.</summary>
    private static Action<BinaryWriter> Attempt(Func<Action<BinaryWriter>> request)
    {
        try
        {
            Action<BinaryWriter> result = request();
            return w =>
            {
                w.Write(WorkerProtocol.Ok);
                result(w);
            };
        }
        catch (Exception e)
        {
            byte kind = e switch
            {
                OnnxRuntimeException => WorkerProtocol.FailureOnnxRuntime,
                FileNotFoundException => WorkerProtocol.FailureFileNotFound,
                ArgumentException => WorkerProtocol.FailureArgument,
                NotSupportedException => WorkerProtocol.FailureNotSupported,
                _ => WorkerProtocol.FailureOther,
            };
            string message = kind == WorkerProtocol.FailureOther ? $"{e.GetType().Name}: {e.Message}" : e.Message;
            return w =>
            {
                w.Write(WorkerProtocol.Failed);
                w.Write(kind);
                w.Write(message);
            };
        }
    }

    /// <summary>Kills this process once the process <paramref name="parentId"/> has ended.</summary>
    private static void WatchParent(int parentId)
    {
        Process parent;
        try
        {
            parent = Process.GetProcessById(parentId);
        }
        catch (ArgumentException)
        {
            // The compressor has already gone.
            Process.GetCurrentProcess().Kill();
            return;
        }

        var watcher = new Thread(() =>
        {
            parent.WaitForExit();
            Process.GetCurrentProcess().Kill();
        })
        {
            IsBackground = true,
            Name = "parent watcher",
        };
        watcher.Start();
    }

    /// <summary>Test hook: ends this process as a native crash would: an invalid read in native code (SIGSEGV),
    /// <c>abort()</c> as a failed check or C++ <c>terminate</c> calls it (SIGABRT), or another signal raised.</summary>
    private static void KillSelf(int signal)
    {
        Console.Error.WriteLine($"onnx-compress-worker: killing itself with signal {signal}, as asked.");
        Console.Error.Flush();
        if (!OperatingSystem.IsWindows())
        {
            switch (signal)
            {
                case 11:
                    _ = StringLength(IntPtr.Zero);
                    break;
                case 6:
                    Abort();
                    break;
                default:
                    _ = Raise(signal);
                    Thread.Sleep(5000);
                    break;
            }
        }

        Environment.FailFast("The worker was asked to crash.");
    }

    [DllImport("libc", EntryPoint = "strlen")]
    private static extern nint StringLength(IntPtr text);

    [DllImport("libc", EntryPoint = "abort")]
    private static extern void Abort();

    [DllImport("libc", EntryPoint = "raise")]
    private static extern int Raise(int signal);
}
