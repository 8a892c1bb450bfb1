namespace Compression.Core.Runtime;

/// <summary>A model loaded into ONNX Runtime, in this process (<see cref="OnnxSession"/>) or in a worker process.</summary>
public interface IModelSession : IDisposable
{
    /// <summary>The model's inputs, in the model's order.</summary>
    IReadOnlyList<OnnxValueInfo> Inputs { get; }

    /// <summary>The model's outputs, in the model's order.</summary>
    IReadOnlyList<OnnxValueInfo> Outputs { get; }

    /// <summary>Runs the model; see <see cref="OnnxSession.Run(ReadOnlySpan{string}, ReadOnlySpan{OnnxTensor}, ReadOnlySpan{string})"/>.</summary>
    OnnxTensor[] Run(ReadOnlySpan<string> names, ReadOnlySpan<OnnxTensor> inputs, ReadOnlySpan<string> outputs);
}

/// <summary>
/// Where the compressor's own ONNX Runtime sessions on a user's model live: in a worker process
/// (<see cref="Isolation.OnnxWorker"/>, so that a crash or hang in ONNX Runtime cannot take the compressor down), or in
/// this process (<see cref="InProcess"/>, where no worker is available).
/// </summary>
public abstract class ModelRunner : IDisposable
{
    /// <summary>Sessions in this process: ONNX Runtime's crashes and hangs are the process's.</summary>
    public static ModelRunner InProcess { get; } = new InProcessRunner();

    /// <summary>True when sessions run in another process.</summary>
    public abstract bool IsIsolated { get; }

    /// <summary>Gets ready for a first session that will come (a worker process starts meanwhile); optional.</summary>
    public virtual void Prepare()
    {
    }

    /// <summary>Loads a model from its bytes.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">The session's settings.</param>
    /// <param name="what">What the model is, for messages (<c>the original model</c>).</param>
    public abstract IModelSession Open(ReadOnlyMemory<byte> model, OnnxSessionOptions options, string what);

    /// <summary>Loads the model file at <paramref name="modelPath"/> (external data is read beside it).</summary>
    public abstract IModelSession Open(string modelPath, OnnxSessionOptions options, string what);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees what the runner holds.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class InProcessRunner : ModelRunner
    {
        public override bool IsIsolated => false;

        public override IModelSession Open(ReadOnlyMemory<byte> model, OnnxSessionOptions options, string what) => new OnnxSession(model, options);

        public override IModelSession Open(string modelPath, OnnxSessionOptions options, string what) => new OnnxSession(modelPath, options);
    }
}

/// <summary>
/// ONNX Runtime refused a model or failed while running it in a worker process: the same failure that raises
/// Microsoft.ML.OnnxRuntime's <c>OnnxRuntimeException</c> in process, with its message.
/// </summary>
public sealed class OnnxRuntimeFailureException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OnnxRuntimeFailureException(string message)
        : base(message)
    {
    }
}
