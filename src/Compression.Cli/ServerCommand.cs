using System.Globalization;
using System.IO.Pipes;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace Compression.Cli;

/// <summary>
/// <c>onnx-compress --server NAME [IDLE-SECONDS]</c>: a compressor that stays up between builds, as the C# compiler's
/// server (VBCSCompiler) does, so that a build pays neither .NET's start-up nor the compressor's first-call (JIT) costs.
/// The build's task starts it and talks to it over a named pipe (a Unix domain socket, or a Windows named pipe, open to
/// the same user only) named after the compressor, the ONNX Runtime library and the settings of the environment the
/// compressor reads, so that a server only ever serves builds that would have run the same compressor the same way.
/// </summary>
/// <remarks>
/// A request is the arguments of one run (what <c>onnx-compress</c> takes on its command line; the build sends
/// <c>--each</c> with response files); the reply streams the run's output and error lines as they are written, then its
/// exit code. Requests run side by side, each on its own thread. A client that goes away (a cancelled build) cancels its
/// run, which then writes nothing, as Ctrl+C does. The server ends when no request has come for the idle time, or on
/// SIGTERM; it ignores SIGINT, which a terminal sends to the whole process group of a build the user stops (the build's
/// own cancellation reaches the server through the pipe).
/// </remarks>
public static class ServerCommand
{
    /// <summary>The option that selects this mode; it comes first on the command line.</summary>
    public const string OptionName = "--server";

    /// <summary>What a request starts with: the protocol, so that a client and a server of different versions refuse each other.</summary>
    public const string Protocol = "onnx-compress server 1";

    /// <summary>A reply frame: a line the run wrote to its output.</summary>
    public const byte OutputLine = 1;

    /// <summary>A reply frame: a line the run wrote to its error stream.</summary>
    public const byte ErrorLine = 2;

    /// <summary>A reply frame: the run's exit code; the last frame.</summary>
    public const byte ExitCode = 3;

    /// <summary>How long the server waits for a request before it ends, unless told otherwise.</summary>
    public static readonly TimeSpan DefaultIdleTime = TimeSpan.FromMinutes(5);

    /// <summary>Whether <paramref name="args"/> ask for the server.</summary>
    public static bool Selected(string[] args) => args is [OptionName, ..];

    /// <summary>Serves requests on the pipe named in <paramref name="args"/> until it is idle for long enough; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter error)
    {
        if (args.Length is < 2 or > 3 || args[1].Length == 0
            || (args.Length == 3 && !(double.TryParse(args[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0)))
        {
            error.WriteLine($"onnx-compress: error: {OptionName} takes a pipe name and, optionally, the idle time in seconds before the server ends.");
            return CompressCommand.UsageError;
        }

        TimeSpan idle = args.Length == 3 ? TimeSpan.FromSeconds(double.Parse(args[2], CultureInfo.InvariantCulture)) : DefaultIdleTime;
        using var stopping = new CancellationTokenSource();
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => context.Cancel = true);
        using PosixSignalRegistration terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stopping.Cancel();
        });

        var server = new Server(args[1], idle, stopping.Token);
        return server.Serve();
    }

    private sealed class Server(string name, TimeSpan idle, CancellationToken stopping)
    {
        private readonly object gate = new();
        private int running;
        private DateTime lastActivity = DateTime.UtcNow;

        public int Serve()
        {
            var runs = new List<Task>();
            while (!stopping.IsCancellationRequested)
            {
                NamedPipeServerStream pipe;
                try
                {
                    pipe = new NamedPipeServerStream(name, PipeDirection.InOut, NamedPipeServerStream.MaxAllowedServerInstances,
                        PipeTransmissionMode.Byte, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
                }
                catch (IOException)
                {
                    // Another server holds the name (two builds started one at the same moment): that one serves.
                    return CompressCommand.Success;
                }

                try
                {
                    if (!WaitForClient(pipe))
                    {
                        pipe.Dispose();
                        break;
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException)
                {
                    pipe.Dispose();
                    continue;
                }

                lock (gate)
                {
                    running++;
                }

                runs.RemoveAll(r => r.IsCompleted);
                runs.Add(Task.Run(() => Handle(pipe)));
            }

            Task.WaitAll([.. runs]);
            return CompressCommand.Success;
        }

        /// <summary>Waits for the next client; false once the server has been idle for <c>idle</c> (or is told to stop).</summary>
        private bool WaitForClient(NamedPipeServerStream pipe)
        {
            Task connected = pipe.WaitForConnectionAsync(stopping);
            while (true)
            {
                // WaitAny, unlike Wait, does not throw for a wait cancelled by SIGTERM.
                if (Task.WaitAny([connected], TimeSpan.FromSeconds(1)) == 0)
                {
                    if (connected.IsCompletedSuccessfully)
                    {
                        return true;
                    }

                    if (stopping.IsCancellationRequested)
                    {
                        return false;
                    }

                    connected.GetAwaiter().GetResult();
                }

                lock (gate)
                {
                    if (stopping.IsCancellationRequested || (running == 0 && DateTime.UtcNow - lastActivity > idle))
                    {
                        return false;
                    }
                }
            }
        }

        private void Handle(NamedPipeServerStream pipe)
        {
            using (pipe)
            using (var cancellation = new CancellationTokenSource())
            {
                try
                {
                    var reader = new BinaryReader(pipe, Encoding.UTF8, leaveOpen: true);
                    var writer = new BinaryWriter(pipe, Encoding.UTF8, leaveOpen: true);
                    if (reader.ReadString() != Protocol)
                    {
                        return;
                    }

                    int count = reader.ReadInt32();
                    if (count is < 0 or > 100_000)
                    {
                        return;
                    }

                    string[] args = new string[count];
                    for (int i = 0; i < count; i++)
                    {
                        args[i] = reader.ReadString();
                    }

                    // The client sends nothing more: the end of the stream means it went away, and the run is cancelled.
                    _ = Task.Run(() =>
                    {
                        try
                        {
                            while (pipe.ReadByte() >= 0)
                            {
                            }
                        }
                        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
                        {
                        }

                        try
                        {
                            cancellation.Cancel();
                        }
                        catch (ObjectDisposedException)
                        {
                        }
                    });

                    using var output = new FrameWriter(writer, OutputLine);
                    using var error = new FrameWriter(writer, ErrorLine);
                    int exitCode;
                    try
                    {
                        exitCode = EachCommand.Selected(args)
                            ? EachCommand.Run(args, output, error, cancellation.Token)
                            : CompressCommand.RunOne(args, output, error, cancellation.Token);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        // What would have ended a process of its own: said, and the server stays up for the next build.
                        error.WriteLine($"onnx-compress: error: the compressor failed: {e}");
                        exitCode = CompressCommand.Failed;
                    }

                    output.Flush();
                    error.Flush();
                    lock (writer)
                    {
                        writer.Write(ExitCode);
                        writer.Write(exitCode);
                        writer.Flush();
                    }
                }
                catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException)
                {
                    // The client went away; its run was cancelled.
                }
                finally
                {
                    lock (gate)
                    {
                        running--;
                        lastActivity = DateTime.UtcNow;
                    }

                    // A compression leaves large dead arrays; an idle server should not hold them.
                    GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                    GC.Collect();
                }
            }
        }
    }

    /// <summary>A writer that sends each line it is given as one frame of its kind, as soon as the line ends.</summary>
    private sealed class FrameWriter(BinaryWriter writer, byte kind) : TextWriter
    {
        private readonly StringBuilder line = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (line)
            {
                if (value == '\n')
                {
                    Send();
                }
                else if (value != '\r')
                {
                    line.Append(value);
                }
            }
        }

        public override void Write(string? value)
        {
            foreach (char c in value ?? string.Empty)
            {
                Write(c);
            }
        }

        public override void WriteLine(string? value)
        {
            lock (line)
            {
                Write(value);
                Send();
            }
        }

        public override void Flush()
        {
            lock (line)
            {
                if (line.Length > 0)
                {
                    Send();
                }
            }
        }

        private void Send()
        {
            string text = line.ToString();
            line.Clear();
            lock (writer)
            {
                writer.Write(kind);
                writer.Write(text);
                writer.Flush();
            }
        }
    }
}
