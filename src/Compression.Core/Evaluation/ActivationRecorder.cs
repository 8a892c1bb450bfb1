using System.Numerics.Tensors;
using Compression.Core.Runtime;
using Compression.Onnx;
using Compression.Onnx.Protos;

namespace Compression.Core.Evaluation;

/// <summary>Receives the values of intermediate tensors, one run at a time; its state must not grow with the runs.</summary>
public interface IActivationCollector
{
    /// <summary>The value this collector wants.</summary>
    string ValueName { get; }

    /// <summary>Takes the value's tensor of one run.</summary>
    void Add(OnnxTensor value);
}

/// <summary>
/// Runs a model in ONNX Runtime with chosen intermediate values exposed as extra outputs, over a sample set, run by run,
/// and hands each value to its collectors; nothing is kept between runs but the collectors' state, so memory does not
/// grow with the number of samples. Calibration (min/max, histograms), Wanda's input norms and GPTQ's Hessians
/// (X^T X of a layer's input) all come from here.
/// </summary>
public static class ActivationRecorder
{
    /// <summary>Runs <paramref name="model"/> on <paramref name="samples"/> and feeds <paramref name="collectors"/>.</summary>
    /// <param name="model">The model; it is not changed (a copy gets the extra outputs).</param>
    /// <param name="samples">The samples, in the model's input order.</param>
    /// <param name="collectors">The collectors; several may want the same value.</param>
    /// <param name="modelPath">The model's path, for messages and for its external data.</param>
    /// <param name="runner">Where the session runs: the compression's worker process, or in process (the default).</param>
    /// <exception cref="CompressionException">A value is not in the model (OCB0103), the model fails on the samples (OCB0101),
    /// or ONNX Runtime crashed or ran out of time in the worker (OCB0105, OCB0106).</exception>
    public static void Record(ModelProto model, SampleSet samples, IReadOnlyList<IActivationCollector> collectors, string modelPath, ModelRunner? runner = null)
    {
        string[] wanted = collectors.Select(c => c.ValueName).Distinct(StringComparer.Ordinal).ToArray();
        using ActivationSession session = Open(model, wanted, samples.Source, modelPath, runner);
        foreach (SampleBatch batch in samples.Batches)
        {
            OnnxTensor[] values = session.Run(batch);
            for (int i = 0; i < wanted.Length; i++)
            {
                foreach (IActivationCollector collector in collectors)
                {
                    if (collector.ValueName == wanted[i])
                    {
                        collector.Add(values[i]);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Opens <paramref name="model"/> in ONNX Runtime with <paramref name="values"/> exposed as outputs, to be run batch by
    /// batch: for callers that pair the values of two models run side by side (distillation: the original and the
    /// compressed model on the same batch).
    /// </summary>
    /// <param name="model">The model; it is not changed (a copy gets the extra outputs).</param>
    /// <param name="values">The values to expose, distinct; <see cref="ActivationSession.Run"/> returns them in this order.</param>
    /// <param name="samplesSource">Where the samples come from, for messages.</param>
    /// <param name="modelPath">The model's path, for messages and for its external data.</param>
    /// <param name="runner">Where the session runs: the compression's worker process, or in process (the default).</param>
    /// <exception cref="CompressionException">A value is not in the model (OCB0103) or the model does not load (OCB0101).</exception>
    public static ActivationSession Open(ModelProto model, IReadOnlyList<string> values, string samplesSource, string modelPath, ModelRunner? runner = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(values);
        string[] wanted = [.. values];
        ModelProto exposed = model.Clone();
        GraphProto graph = exposed.Graph;
        var existing = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        var known = new HashSet<string>(graph.Input.Select(i => i.Name).Concat(graph.Initializer.Select(t => t.Name)).Concat(graph.Node.SelectMany(n => n.Output)), StringComparer.Ordinal);
        var declared = graph.ValueInfo.Concat(graph.Input).GroupBy(v => v.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        foreach (string name in wanted)
        {
            if (!known.Contains(name))
            {
                throw new CompressionException(DiagnosticCodes.InvalidValidationData, modelPath,
                    $"The value '{name}' to record is not in the model's main graph.");
            }

            if (existing.Add(name))
            {
                // ONNX Runtime infers the type of an output the model declares without one.
                graph.Output.Add(declared.TryGetValue(name, out ValueInfoProto? info) ? info.Clone() : new ValueInfoProto { Name = name });
            }
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(modelPath));
        if (directory is not null)
        {
            OnnxModelFile.LoadExternalData(exposed, directory);
        }

        IModelSession session;
        try
        {
            session = (runner ?? ModelRunner.InProcess).Open(OnnxModelFile.ToBytes(exposed), new OnnxSessionOptions { IntraOpThreads = 1 }, "the model on the calibration samples");
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or OnnxRuntimeFailureException)
        {
            throw new CompressionException(DiagnosticCodes.OriginalModelFailsToRun, modelPath,
                $"The model does not load in ONNX Runtime to record its activations on the calibration samples ({samplesSource}): {e.Message.Trim()} " +
                "Check that the model runs in ONNX Runtime.");
        }

        return new ActivationSession(session, wanted, samplesSource, modelPath);
    }

    /// <summary>The float elements of a recorded tensor.</summary>
    /// <exception cref="NotSupportedException">The value is not float.</exception>
    internal static ReadOnlySpan<float> Floats(OnnxTensor value, string name) =>
        value is OnnxTensor<float> floats ? floats.Span : throw new NotSupportedException($"The value '{name}' holds {TensorElementTypes.Name(value.ElementType)}, not float.");
}

/// <summary>A model opened in ONNX Runtime with chosen values exposed as outputs (<see cref="ActivationRecorder.Open"/>), run batch by batch.</summary>
public sealed class ActivationSession : IDisposable
{
    private readonly IModelSession session;
    private readonly string[] inputNames;
    private readonly string[] wanted;
    private readonly string samplesSource;
    private readonly string modelPath;

    internal ActivationSession(IModelSession session, string[] wanted, string samplesSource, string modelPath)
    {
        this.session = session;
        this.wanted = wanted;
        this.samplesSource = samplesSource;
        this.modelPath = modelPath;
        inputNames = session.Inputs.Select(i => i.Name).ToArray();
    }

    /// <summary>The exposed values, in the order <see cref="Run"/> returns them.</summary>
    public IReadOnlyList<string> Values => wanted;

    /// <summary>Runs the model on one batch and returns the exposed values.</summary>
    /// <exception cref="CompressionException">The model fails on the batch (OCB0101).</exception>
    public OnnxTensor[] Run(SampleBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        try
        {
            return session.Run(inputNames, batch.Inputs.ToArray(), wanted);
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or OnnxRuntimeFailureException or NotSupportedException or ArgumentException)
        {
            throw new CompressionException(DiagnosticCodes.OriginalModelFailsToRun, modelPath,
                $"The model fails in ONNX Runtime on the calibration samples ({samplesSource}): {e.Message.Trim()} Give samples that fit the model.");
        }
    }

    /// <inheritdoc />
    public void Dispose() => session.Dispose();
}

/// <summary>The smallest and largest element of a value over every run.</summary>
/// <param name="valueName">The value.</param>
public sealed class MinMaxCollector(string valueName) : IActivationCollector
{
    /// <inheritdoc />
    public string ValueName { get; } = valueName;

    /// <summary>The smallest element seen; +∞ before any.</summary>
    public float Min { get; private set; } = float.PositiveInfinity;

    /// <summary>The largest element seen; -∞ before any.</summary>
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <inheritdoc />
    public void Add(OnnxTensor value)
    {
        ReadOnlySpan<float> values = ActivationRecorder.Floats(value, ValueName);
        if (values.Length > 0)
        {
            Min = Math.Min(Min, TensorPrimitives.Min(values));
            Max = Math.Max(Max, TensorPrimitives.Max(values));
        }
    }
}

/// <summary>A histogram of a value's elements over a fixed range (elements outside it count in the first or last bin).</summary>
public sealed class HistogramCollector : IActivationCollector
{
    /// <summary>Counts elements of <paramref name="valueName"/> in <paramref name="bins"/> equal bins over [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public HistogramCollector(string valueName, float low, float high, int bins)
    {
        if (!(high > low) || bins < 1)
        {
            throw new ArgumentException("The range must be non-empty and the bins at least one.");
        }

        ValueName = valueName;
        Low = low;
        High = high;
        Counts = new long[bins];
    }

    /// <inheritdoc />
    public string ValueName { get; }

    /// <summary>The range's lower end.</summary>
    public float Low { get; }

    /// <summary>The range's upper end.</summary>
    public float High { get; }

    /// <summary>The count per bin.</summary>
    public long[] Counts { get; }

    /// <inheritdoc />
    public void Add(OnnxTensor value)
    {
        double width = ((double)High - Low) / Counts.Length;
        foreach (float element in ActivationRecorder.Floats(value, ValueName))
        {
            int bin = float.IsNaN(element) ? 0 : (int)Math.Clamp(Math.Floor((element - Low) / width), 0, Counts.Length - 1);
            Counts[bin]++;
        }
    }
}

/// <summary>
/// Per-channel statistics of a layer's input along its last axis (the features a MatMul weight's rows meet): the sum of
/// squares of each channel (its L2 norm squared, as Wanda scores weights by), and with <see cref="Gram"/> the matrix
/// X^T X (the Hessian GPTQ and SparseGPT update weights with), over every row of every run.
/// </summary>
public sealed class ChannelStatisticsCollector : IActivationCollector
{
    private readonly bool gram;
    private double[]? sumOfSquares;
    private double[]? gramMatrix;

    /// <summary>Collects the statistics of <paramref name="valueName"/>; <paramref name="withGram"/> adds X^T X (channels² doubles).</summary>
    public ChannelStatisticsCollector(string valueName, bool withGram)
    {
        ValueName = valueName;
        gram = withGram;
    }

    /// <inheritdoc />
    public string ValueName { get; }

    /// <summary>The number of channels (the last axis), once a value was seen.</summary>
    public int Channels { get; private set; }

    /// <summary>The rows seen: every position but the last axis, over every run.</summary>
    public long Rows { get; private set; }

    /// <summary>Each channel's sum of squares.</summary>
    public ReadOnlySpan<double> SumOfSquares => sumOfSquares;

    /// <summary>X^T X, row-major, channels × channels; empty unless asked for.</summary>
    public ReadOnlySpan<double> Gram => gramMatrix;

    /// <inheritdoc />
    public void Add(OnnxTensor value)
    {
        ReadOnlySpan<float> values = ActivationRecorder.Floats(value, ValueName);
        int channels = value.Shape.Length == 0 ? 1 : (int)value.Shape[^1];
        if (Channels == 0)
        {
            Channels = channels;
            sumOfSquares = new double[channels];
            gramMatrix = gram ? new double[channels * channels] : [];
        }
        else if (channels != Channels)
        {
            throw new InvalidOperationException($"The value '{ValueName}' had {Channels} channels and now has {channels}.");
        }

        var row = new double[channels];
        for (int start = 0; start + channels <= values.Length; start += channels)
        {
            Rows++;
            for (int c = 0; c < channels; c++)
            {
                row[c] = values[start + c];
                sumOfSquares![c] += row[c] * row[c];
            }

            if (gram)
            {
                for (int i = 0; i < channels; i++)
                {
                    if (row[i] == 0)
                    {
                        continue;
                    }

                    Span<double> target = gramMatrix.AsSpan(i * channels, channels);
                    TensorPrimitives.MultiplyAdd(row, row[i], target, target);
                }
            }
        }
    }
}
