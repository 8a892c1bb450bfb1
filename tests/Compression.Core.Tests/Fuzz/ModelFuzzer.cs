using Compression.Core.Evaluation;
using Compression.Core.Passes.Quantization;

namespace Compression.Core.Tests.Fuzz;

/// <summary>
/// Runs the compressor in-process on mutated models (<see cref="ModelMutator"/>), validation off, and counts the outcomes:
/// <c>success</c>, each diagnostic code, and <c>uncoded</c> for any exception that is not a coded
/// <see cref="CompressionException"/>. <see cref="Uncoded"/> lists those and the OCB0009 faults (the compressor failing on
/// a model its checks at load passed), which the fuzz is there to find. Case numbers pick the seed, the mutation and the settings, so every case is
/// reproducible from its number alone.
/// </summary>
internal sealed class ModelFuzzer(IReadOnlyList<(string Name, byte[] Bytes)> seeds, string folder)
{
    private static readonly string[] Quantizations = ["int8", "int8", "int4", "fp16", "none", "uint8"];

    /// <summary>Outcome name (<c>success</c>, a code, <c>uncoded</c>) to count.</summary>
    public SortedDictionary<string, int> Counts { get; } = new(StringComparer.Ordinal);

    /// <summary>The cases that ended in an uncoded exception or OCB0009: what the case was and what was thrown.</summary>
    public List<string> Uncoded { get; } = [];

    /// <summary>Called with each case's number and description before it runs (to find a case that kills the process).</summary>
    public Action<int, string>? Starting { get; init; }

    /// <summary>Whether the compressions validate in ONNX Runtime (in this process: a crash in ONNX Runtime ends it).</summary>
    public bool Validate { get; init; }

    /// <summary>Runs cases <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1.</summary>
    public void Run(int first, int count)
    {
        for (int caseNumber = first; caseNumber < first + count; caseNumber++)
        {
            RunCase(caseNumber);
        }
    }

    /// <summary>Runs one case and counts its outcome; returns the outcome.</summary>
    public string RunCase(int caseNumber)
    {
        (string seedName, byte[] seed) = seeds[caseNumber % seeds.Count];
        (byte[] bytes, string description) = ModelMutator.Mutate(seed, caseNumber / seeds.Count);
        Starting?.Invoke(caseNumber, $"{seedName}: {description}");
        string input = Path.Combine(folder, $"case{caseNumber}.onnx");
        string output = Path.Combine(folder, $"case{caseNumber}.out.onnx");
        File.WriteAllBytes(input, bytes);
        CompressionSettings settings = CompressionSettings.Default
            .Set(EvaluationSettings.Validate, Validate)
            .Set(QuantizationSettings.Quantize, Quantizations[caseNumber % Quantizations.Length])
            .Set(QuantizationSettings.WeightThreshold, caseNumber % 3 == 0 ? 1024L : 0L);
        string outcome;
        Exception? thrown = null;
        try
        {
            // On the caller's thread and stack: deep subgraphs must not need a larger one.
            ModelCompressor.Compress(new CompressionRequest(input, output) { Settings = settings });
        }
        catch (Exception e)
        {
            thrown = e;
        }

        if (thrown is null)
        {
            outcome = "success";
        }
        else if (thrown is CompressionException { Code.Length: > 0 } coded && coded.Code != DiagnosticCodes.CompressorFault)
        {
            outcome = coded.Code;
        }
        else
        {
            // OCB0009 is coded, but says the compressor failed where the checks at load passed the model: a fault to fix.
            outcome = thrown is CompressionException fault ? fault.Code : "uncoded";
            Exception cause = thrown is CompressionException { InnerException: { } inner } ? inner : thrown;
            Uncoded.Add($"case {caseNumber} ({seedName}: {description}): {cause.GetType().Name}: {cause.Message}\n{cause.StackTrace}");
        }

        foreach (string file in Directory.GetFiles(folder))
        {
            File.Delete(file);
        }

        Counts[outcome] = Counts.GetValueOrDefault(outcome) + 1;
        return outcome;
    }
}
