using System.Globalization;
using Compression.Core.Runtime;
using Compression.Core.Settings;
using Microsoft.ML.OnnxRuntime;

namespace Compression.Core.Evaluation;

/// <summary>
/// Judges compressed models against the original: the original runs once on the samples (the validation data, or
/// synthesized inputs) and its outputs are kept; each candidate then runs on the same samples and is scored: max and
/// mean absolute error, cosine similarity and top-1 agreement per output, and accuracy when the samples carry labels.
/// Candidates run with the session entries their signature records, as the generated class runs them. Sessions use one
/// thread, so that the same models give the same figures on every run, and live where the <see cref="ModelRunner"/> puts
/// them: in the compression's worker process, so that a crash or hang in ONNX Runtime is a coded error (OCB0105, OCB0106).
/// </summary>
public sealed class Evaluator
{
    /// <summary>The oldest default opset ONNX Runtime runs.</summary>
    public const long OldestRunnableOpset = 7;

    /// <summary>What a candidate is compared with when the original file itself runs.</summary>
    public const string OriginalReference = "original";

    private readonly List<OnnxTensor[]> referenceOutputs;
    private readonly string[] inputNames;
    private readonly string modelPath;
    private readonly ModelRunner runner;

    private Evaluator(string runtimeVersion, SampleSet samples, string[] inputNames, IReadOnlyList<OnnxValueInfo> outputs, List<OnnxTensor[]> referenceOutputs, string reference, string modelPath, ModelRunner runner)
    {
        this.runner = runner;
        RuntimeVersion = runtimeVersion;
        Samples = samples;
        this.inputNames = inputNames;
        Outputs = outputs;
        this.referenceOutputs = referenceOutputs;
        Reference = reference;
        this.modelPath = modelPath;
    }

    /// <summary>The ONNX Runtime that runs the models.</summary>
    public string RuntimeVersion { get; }

    /// <summary>The samples.</summary>
    public SampleSet Samples { get; }

    /// <summary>The model's outputs.</summary>
    public IReadOnlyList<OnnxValueInfo> Outputs { get; }

    /// <summary>What candidates are compared with.</summary>
    public string Reference { get; }

    /// <summary>Runs the original (or <paramref name="referenceModel"/>, a stand-in ONNX Runtime can run) on the samples.</summary>
    /// <param name="originalPath">The original model (external data is read beside it).</param>
    /// <param name="referenceModel">A stand-in for the original (the original raised to a newer opset), or null.</param>
    /// <param name="reference">What the reference is, as the report says it.</param>
    /// <param name="settings">The model's settings: validation data and sample count.</param>
    /// <param name="runner">Where the sessions run: a worker process (<see cref="Runtime.Isolation.OnnxWorker"/>), or in process.</param>
    /// <exception cref="CompressionException">ONNX Runtime is missing (OCB0100), the original does not run (OCB0101),
    /// the validation data does not fit (OCB0103), or ONNX Runtime crashed or ran out of time in the worker (OCB0105,
    /// OCB0106).</exception>
    public static Evaluator Open(string originalPath, byte[]? referenceModel, string reference, ResolvedSettings settings, ModelRunner runner)
    {
        ArgumentNullException.ThrowIfNull(runner);
        string version = RuntimeVersionOf(originalPath);
        string what = referenceModel is null ? "the original model" : "the original model raised to a newer opset";
        using IModelSession original = Open(() => referenceModel is { } bytes ? runner.Open(bytes, Options(null), what) : runner.Open(originalPath, Options(null), what),
            DiagnosticCodes.OriginalModelFailsToRun, originalPath,
            "The original model does not load in ONNX Runtime {0}, so the compressed model cannot be compared with it: {1} " +
            "Check that the model runs in ONNX Runtime, or turn validation off (OnnxValidate=false, --no-validate).", version);
        SampleSet samples = LoadSamples(original.Inputs, settings, EvaluationSettings.ValidationData, originalPath);
        string[] names = original.Inputs.Select(i => i.Name).ToArray();
        var outputs = new List<OnnxTensor[]>(samples.Batches.Count);
        foreach (SampleBatch batch in samples.Batches)
        {
            outputs.Add(RunModel(original, names, batch, DiagnosticCodes.OriginalModelFailsToRun, originalPath,
                "The original model fails in ONNX Runtime {0} on the validation inputs: {1} Give validation inputs that fit the model " +
                "(OnnxValidationData, --validation-data) or turn validation off.", version));
        }

        return new Evaluator(version, samples, names, original.Outputs, outputs, reference, originalPath, runner);
    }

    /// <summary>The samples <paramref name="setting"/> names for a model with <paramref name="inputs"/>, else synthesized ones.</summary>
    public static SampleSet LoadSamples(IReadOnlyList<OnnxValueInfo> inputs, ResolvedSettings settings, PathSetting setting, string modelPath)
    {
        string folder = settings.Get(setting);
        return folder.Length > 0
            ? SampleSet.Load(folder, inputs, modelPath, setting)
            : SampleSet.Synthesize(inputs, (int)settings.Get(EvaluationSettings.ValidationSamples), modelPath);
    }

    /// <summary>Runs <paramref name="candidate"/> on the samples and compares it with the reference.</summary>
    /// <exception cref="CompressionException">The candidate does not load or run, or computes outputs of another type or shape (OCB0102).</exception>
    public ValidationResult Score(ReadOnlyMemory<byte> candidate, IReadOnlyDictionary<string, string> sessionConfig) =>
        Score(() => runner.Open(candidate, Options(sessionConfig), "the compressed model"));

    /// <summary>Runs the candidate in <paramref name="candidatePath"/> on the samples and compares it with the reference:
    /// ONNX Runtime reads the file, and its external data beside it, itself.</summary>
    /// <exception cref="CompressionException">The candidate does not load or run, or computes outputs of another type or shape (OCB0102).</exception>
    public ValidationResult Score(string candidatePath, IReadOnlyDictionary<string, string> sessionConfig) =>
        Score(() => runner.Open(candidatePath, Options(sessionConfig), "the compressed model"));

    /// <summary>
    /// Runs <paramref name="candidate"/> on the samples, compares it with the reference, then runs the samples
    /// <paramref name="timedRuns"/> more times and gives the fastest run, in milliseconds (the first run warms the session).
    /// </summary>
    /// <exception cref="CompressionException">The candidate does not load or run, or computes outputs of another type or shape (OCB0102).</exception>
    public (ValidationResult Result, double Milliseconds) ScoreTimed(ReadOnlyMemory<byte> candidate, IReadOnlyDictionary<string, string> sessionConfig, int timedRuns)
    {
        double fastest = double.PositiveInfinity;
        ValidationResult result = Score(() => runner.Open(candidate, Options(sessionConfig), "the compressed model"), session =>
        {
            for (int run = 0; run < timedRuns; run++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                foreach (SampleBatch batch in Samples.Batches)
                {
                    _ = RunModel(session, inputNames, batch, DiagnosticCodes.CompressedModelFailsToRun, modelPath,
                        "The compressed model fails in ONNX Runtime {0} where the original runs: {1}", RuntimeVersion);
                }

                fastest = Math.Min(fastest, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        });
        return (result, fastest);
    }

    private ValidationResult Score(Func<IModelSession> openCandidate, Action<IModelSession>? afterScoring = null)
    {
        using IModelSession compressed = Open(openCandidate, DiagnosticCodes.CompressedModelFailsToRun, modelPath,
            "The compressed model does not load in ONNX Runtime {0}: {1} Nothing was written. Report this with the model, " +
            "or leave this model uncompressed (Quantize=none).", RuntimeVersion);
        var comparers = Outputs.Select(o => new OutputComparer(o.Name)).ToArray();
        var accuracy = new AccuracyCounter();
        for (int b = 0; b < Samples.Batches.Count; b++)
        {
            SampleBatch batch = Samples.Batches[b];
            OnnxTensor[] expected = referenceOutputs[b];
            OnnxTensor[] actual = RunModel(compressed, inputNames, batch, DiagnosticCodes.CompressedModelFailsToRun, modelPath,
                "The compressed model fails in ONNX Runtime {0} where the original runs: {1} Nothing was written. Report this with the model, " +
                "or leave this model uncompressed (Quantize=none).", RuntimeVersion);
            for (int i = 0; i < comparers.Length; i++)
            {
                try
                {
                    comparers[i].Add(expected[i], actual[i]);
                }
                catch (InvalidOperationException e)
                {
                    throw new CompressionException(DiagnosticCodes.CompressedModelFailsToRun, modelPath,
                        $"The compressed model's {e.Message}. Nothing was written. Report this with the model.");
                }
            }

            accuracy.Add(batch, expected, actual);
        }

        afterScoring?.Invoke(compressed);
        return new ValidationResult(RuntimeVersion, Samples.Samples, Samples.Described, comparers.Select(c => c.Result()).ToList(), Reference, Samples.Source,
            accuracy.Result(Outputs));
    }

    /// <summary>Checks <paramref name="result"/> against the gates the settings set; an empty list when none is set.</summary>
    /// <exception cref="CompressionException">MaxAccuracyDrop is set but the samples carry no labels (OCB0103).</exception>
    public static IReadOnlyList<GateCheck> CheckGates(ValidationResult result, ResolvedSettings settings, string modelPath)
    {
        var checks = new List<GateCheck>();
        double maxDrop = settings.Get(EvaluationSettings.MaxAccuracyDrop);
        if (!double.IsNaN(maxDrop))
        {
            AccuracyResult accuracy = result.Accuracy ?? throw new CompressionException(DiagnosticCodes.InvalidValidationData, modelPath,
                $"MaxAccuracyDrop={maxDrop.ToString(CultureInfo.InvariantCulture)} ({settings.OriginOf(EvaluationSettings.MaxAccuracyDrop)}) needs labelled validation data, " +
                "but the samples carry no labels. Give ValidationData with labels.npy (NumPy samples) or expected outputs (output_K.pb), " +
                "or use MinCosineSimilarity or MaxOutputError instead.");
            checks.Add(new GateCheck(EvaluationSettings.MaxAccuracyDrop.Name, maxDrop, accuracy.Drop, accuracy.Drop <= maxDrop));
        }

        double minCosine = settings.Get(EvaluationSettings.MinCosineSimilarity);
        if (!double.IsNaN(minCosine))
        {
            double lowest = result.Outputs.Where(o => o.CosineSimilarity is not null).Select(o => o.CosineSimilarity!.Value).DefaultIfEmpty(1).Min();
            checks.Add(new GateCheck(EvaluationSettings.MinCosineSimilarity.Name, minCosine, lowest, lowest >= minCosine));
        }

        double minTop1 = settings.Get(EvaluationSettings.MinTop1Agreement);
        if (!double.IsNaN(minTop1))
        {
            double lowest = Math.Round(100 * result.Outputs.Where(o => o.Top1Agreement is not null).Select(o => o.Top1Agreement!.Value).DefaultIfEmpty(1).Min(), 6);
            checks.Add(new GateCheck(EvaluationSettings.MinTop1Agreement.Name, minTop1, lowest, lowest >= minTop1));
        }

        double maxError = settings.Get(EvaluationSettings.MaxOutputError);
        if (!double.IsNaN(maxError))
        {
            double largest = result.Outputs.Select(o => o.MaxAbsError).DefaultIfEmpty(0).Max();
            checks.Add(new GateCheck(EvaluationSettings.MaxOutputError.Name, maxError, largest, largest <= maxError));
        }

        return checks;
    }

    private static OnnxSessionOptions Options(IReadOnlyDictionary<string, string>? sessionConfig)
    {
        var options = new OnnxSessionOptions { IntraOpThreads = 1 };
        foreach (KeyValuePair<string, string> entry in sessionConfig ?? new Dictionary<string, string>())
        {
            options.ConfigEntries[entry.Key] = entry.Value;
        }

        return options;
    }

    private static string RuntimeVersionOf(string modelPath)
    {
        try
        {
            return OnnxRuntimeLibrary.Version;
        }
        catch (OnnxRuntimeNotFoundException e)
        {
            throw new CompressionException(DiagnosticCodes.OnnxRuntimeNotFound, modelPath,
                e.Message + " Or turn validation off (OnnxValidate=false, --no-validate) to compress without ONNX Runtime.", e);
        }
    }

    private static IModelSession Open(Func<IModelSession> create, string code, string modelPath, string message, string version)
    {
        try
        {
            return create();
        }
        catch (Exception e) when (e is OnnxRuntimeException or OnnxRuntimeFailureException)
        {
            throw new CompressionException(code, modelPath, string.Format(CultureInfo.InvariantCulture, message, version, EndSentence(e.Message)), e);
        }
    }

    private static OnnxTensor[] RunModel(IModelSession session, string[] names, SampleBatch batch, string code, string modelPath, string message, string version)
    {
        try
        {
            return session.Run(names, batch.Inputs.ToArray(), ReadOnlySpan<string>.Empty);
        }
        catch (Exception e) when (e is OnnxRuntimeException or OnnxRuntimeFailureException or NotSupportedException or ArgumentException)
        {
            throw new CompressionException(code, modelPath, string.Format(CultureInfo.InvariantCulture, message, version, EndSentence(e.Message)), e);
        }
    }

    private static string EndSentence(string text)
    {
        text = text.Trim();
        return text.EndsWith('.') ? text : text + ".";
    }

    /// <summary>Counts correct predictions of both models on labelled rows: the highest score of the first classifier-like output.</summary>
    private sealed class AccuracyCounter
    {
        private int output = -1;
        private long samples;
        private long originalCorrect;
        private long compressedCorrect;
        private bool unlabelled;
        private string labelSource = "labels.npy";

        public void Add(SampleBatch batch, OnnxTensor[] original, OnnxTensor[] compressed)
        {
            if (output < 0)
            {
                output = Array.FindIndex(original, t => OutputComparer.Top1(t) is not null);
            }

            long[]? labels = batch.Labels?.ToArray();
            if (labels is null && batch.ExpectedOutputs is { } expected && output >= 0 && output < expected.Count)
            {
                labels = OutputComparer.Top1(expected[output]);
                labelSource = "the expected outputs' highest scores";
            }

            if (output < 0 || labels is null)
            {
                unlabelled = true;
                return;
            }

            long[] a = OutputComparer.Top1(original[output])!;
            long[] b = OutputComparer.Top1(compressed[output])!;
            if (a.Length != labels.Length)
            {
                unlabelled = true;
                return;
            }

            for (int row = 0; row < labels.Length; row++)
            {
                samples++;
                originalCorrect += a[row] == labels[row] ? 1 : 0;
                compressedCorrect += b[row] == labels[row] ? 1 : 0;
            }
        }

        public AccuracyResult? Result(IReadOnlyList<OnnxValueInfo> outputs) => unlabelled || samples == 0
            ? null
            : new AccuracyResult(outputs[output].Name, labelSource, samples,
                Math.Round(100.0 * originalCorrect / samples, 6), Math.Round(100.0 * compressedCorrect / samples, 6));
    }
}
