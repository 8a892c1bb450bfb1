using Compression.Core.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace Compression.Core.Validation;

/// <summary>
/// Runs the original and the compressed model in ONNX Runtime on the same inputs and measures how far each output
/// moved. The compressed model runs with the session settings its signature records, as the generated class runs it.
/// Sessions use one thread, so that the same models give the same figures on every run.
/// </summary>
public static class ModelValidator
{
    /// <summary>The oldest default opset ONNX Runtime runs.</summary>
    public const long OldestRunnableOpset = 7;

    /// <summary>What a validation compares the compressed model with when it runs the original file.</summary>
    public const string OriginalReference = "original";

    /// <summary>Validates <paramref name="compressedModel"/> against the model at <paramref name="originalPath"/>.</summary>
    /// <param name="originalPath">The original model file (external data is read beside it).</param>
    /// <param name="compressedModel">The compressed model's bytes.</param>
    /// <param name="sessionConfig">Session configuration entries the compressed model needs.</param>
    /// <param name="settings">The sample count and the validation data folder, if any.</param>
    /// <exception cref="CompressionException">ONNX Runtime is missing (OCB0100), a model does not run (OCB0101, OCB0102),
    /// or the validation data does not fit (OCB0103).</exception>
    public static ValidationResult Validate(string originalPath, ReadOnlyMemory<byte> compressedModel, IReadOnlyDictionary<string, string> sessionConfig, CompressionSettings settings) =>
        Compare(originalPath, referenceModel: null, OriginalReference, compressedModel, sessionConfig, settings);

    /// <summary>
    /// Validates <paramref name="compressedModel"/> against <paramref name="referenceModel"/>, a stand-in for the
    /// original that ONNX Runtime can run (the original raised to a newer opset, unquantized).
    /// </summary>
    /// <param name="originalPath">The original model file, for messages.</param>
    /// <param name="referenceModel">The reference model's bytes.</param>
    /// <param name="reference">What the reference is, as the report says it.</param>
    /// <param name="compressedModel">The compressed model's bytes.</param>
    /// <param name="sessionConfig">Session configuration entries the compressed model needs.</param>
    /// <param name="settings">The sample count and the validation data folder, if any.</param>
    public static ValidationResult ValidateAgainstReference(string originalPath, ReadOnlyMemory<byte> referenceModel, string reference, ReadOnlyMemory<byte> compressedModel, IReadOnlyDictionary<string, string> sessionConfig, CompressionSettings settings) =>
        Compare(originalPath, referenceModel, reference, compressedModel, sessionConfig, settings);

    private static ValidationResult Compare(string originalPath, ReadOnlyMemory<byte>? referenceModel, string reference, ReadOnlyMemory<byte> compressedModel, IReadOnlyDictionary<string, string> sessionConfig, CompressionSettings settings)
    {
        string version = RuntimeVersion(originalPath);
        var originalOptions = new OnnxSessionOptions { IntraOpThreads = 1 };
        var compressedOptions = originalOptions.Clone();
        foreach (KeyValuePair<string, string> entry in sessionConfig)
        {
            compressedOptions.ConfigEntries[entry.Key] = entry.Value;
        }

        using OnnxSession original = Open(() => referenceModel is { } bytes ? new OnnxSession(bytes, originalOptions) : new OnnxSession(originalPath, originalOptions), DiagnosticCodes.OriginalModelFailsToRun, originalPath,
            "The original model does not load in ONNX Runtime {0}, so the compressed model cannot be compared with it: {1} " +
            "Check that the model runs in ONNX Runtime, or turn validation off (OnnxValidate=false, --no-validate).", version);
        using OnnxSession compressed = Open(() => new OnnxSession(compressedModel, compressedOptions), DiagnosticCodes.CompressedModelFailsToRun, originalPath,
            "The compressed model does not load in ONNX Runtime {0}: {1} Nothing was written. Report this with the model, " +
            "or leave this model uncompressed (Quantize=none).", version);

        IReadOnlyList<(IReadOnlyList<ValidationInput> Described, OnnxTensor[] Tensors)> samples = PrepareInputs(original, settings, originalPath);
        string[] inputNames = original.Inputs.Select(i => i.Name).ToArray();
        var comparers = original.Outputs.Select(o => new OutputComparer(o.Name)).ToArray();
        foreach ((_, OnnxTensor[] tensors) in samples)
        {
            OnnxTensor[] expected = RunModel(original, inputNames, tensors, DiagnosticCodes.OriginalModelFailsToRun, originalPath,
                "The original model fails in ONNX Runtime {0} on the validation inputs: {1} Give validation inputs that fit the model " +
                "(OnnxValidationData, --validation-data) or turn validation off.", version);
            OnnxTensor[] actual = RunModel(compressed, inputNames, tensors, DiagnosticCodes.CompressedModelFailsToRun, originalPath,
                "The compressed model fails in ONNX Runtime {0} where the original runs: {1} Nothing was written. Report this with the model, " +
                "or leave this model uncompressed (Quantize=none).", version);
            for (int i = 0; i < comparers.Length; i++)
            {
                try
                {
                    comparers[i].Add(expected[i], actual[i]);
                }
                catch (InvalidOperationException e)
                {
                    throw new CompressionException(DiagnosticCodes.CompressedModelFailsToRun, originalPath,
                        $"The compressed model's {e.Message}. Nothing was written. Report this with the model.");
                }
            }
        }

        return new ValidationResult(version, samples.Count, samples[0].Described, comparers.Select(c => c.Result()).ToList(), reference);
    }

    private static string RuntimeVersion(string modelPath)
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

    private static OnnxSession Open(Func<OnnxSession> create, string code, string modelPath, string message, string version)
    {
        try
        {
            return create();
        }
        catch (OnnxRuntimeException e)
        {
            throw new CompressionException(code, modelPath, string.Format(System.Globalization.CultureInfo.InvariantCulture, message, version, EndSentence(e.Message)), e);
        }
    }

    private static OnnxTensor[] RunModel(OnnxSession session, string[] names, OnnxTensor[] inputs, string code, string modelPath, string message, string version)
    {
        try
        {
            return session.Run(names, inputs, ReadOnlySpan<string>.Empty);
        }
        catch (Exception e) when (e is OnnxRuntimeException or NotSupportedException)
        {
            throw new CompressionException(code, modelPath, string.Format(System.Globalization.CultureInfo.InvariantCulture, message, version, EndSentence(e.Message)), e);
        }
    }

    private static IReadOnlyList<(IReadOnlyList<ValidationInput>, OnnxTensor[])> PrepareInputs(OnnxSession original, CompressionSettings settings, string modelPath)
    {
        if (settings.ValidationDataDirectory is not null)
        {
            return [ValidationData.Load(settings.ValidationDataDirectory, original.Inputs, modelPath)];
        }

        IReadOnlyList<long[]> shapes = InputSynthesizer.ResolveShapes(original.Inputs);
        var described = original.Inputs
            .Select((input, i) => new ValidationInput(input.Name, TensorElementTypes.Name(input.ElementType), shapes[i], "synthesized"))
            .ToList();
        var samples = new List<(IReadOnlyList<ValidationInput>, OnnxTensor[])>();
        for (int sample = 0; sample < Math.Max(1, settings.ValidationSamples); sample++)
        {
            try
            {
                samples.Add((described, InputSynthesizer.Create(original.Inputs, shapes, sample)));
            }
            catch (NotSupportedException e)
            {
                throw new CompressionException(DiagnosticCodes.InvalidValidationData, modelPath,
                    $"Validation cannot synthesize inputs for this model: {e.Message}. Give validation inputs " +
                    "(OnnxValidationData, --validation-data) or turn validation off (OnnxValidate=false, --no-validate).");
            }
        }

        return samples;
    }

    private static string EndSentence(string text)
    {
        text = text.Trim();
        return text.EndsWith('.') ? text : text + ".";
    }
}
