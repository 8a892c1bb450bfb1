using Microsoft.ML.OnnxRuntime;
using System.Diagnostics;
using System.Text;
using Compression.Core.Opsets;
using Compression.Core.Evaluation;
using Compression.Onnx;
using Compression.Onnx.Protos;
using Compression.Core.Runtime;
using Xunit.Abstractions;

namespace Compression.Core.Tests.Opsets;

/// <summary>
/// The ONNX backend test suite as an oracle for <see cref="OpsetUpgrade"/>: every model of it below the target opset
/// (13, which per-axis DequantizeLinear needs, and 21, which blocked 4-bit DequantizeLinear needs) with dense tensor
/// inputs and outputs is raised to it, run in ONNX Runtime on test_data_set_0, and compared with the expected outputs.
/// </summary>
public sealed class BackendSuiteUpgradeTests(ITestOutputHelper output)
{
    private static readonly string[] Suites = ["node", "pytorch-converted", "pytorch-operator", "simple"];

    /// <summary>
    /// Models whose upgraded outputs differ from the expected ones for reasons that are not the upgrade's, with the
    /// reason. An entry that starts matching fails the test, so the list stays honest.
    /// </summary>
    private static readonly Dictionary<string, string> KnownDifferences = new(StringComparer.Ordinal)
    {
    };

    private enum Status
    {
        /// <summary>Upgraded; the outputs match the expected ones.</summary>
        Matched,

        /// <summary>Upgraded; the outputs match what ONNX Runtime computes for the original model, which differs from the expected outputs.</summary>
        MatchesOriginal,

        /// <summary>The upgrade refused with OCB0005.</summary>
        Refused,

        /// <summary>ONNX Runtime cannot run the original model either (a kernel or locale it lacks), so there is nothing to compare.</summary>
        OriginalDoesNotRun,

        /// <summary>On the known-differences list and still different.</summary>
        KnownDifference,

        /// <summary>Anything else: a wrong output, an upgraded model that does not run, an unexpected exception.</summary>
        Failed,
    }

    private sealed record Outcome(string Name, long Opset, Status Status, string Detail, int ConvertedNodes = 0);

    [Theory]
    [InlineData(13, 340)]
    [InlineData(21, 700)]
    public void Models_below_the_target_opset_are_upgraded_and_still_compute_their_expected_outputs(long target, int minimumMatched)
    {
        var clock = Stopwatch.StartNew();
        List<string> models = Suites
            .SelectMany(suite => Directory.GetFiles(Path.Combine(AssemblyMetadata.OnnxTestDataDir, suite), "model.onnx", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal)
            .ToList();
        List<Outcome> outcomes = models
            .AsParallel().AsOrdered().WithDegreeOfParallelism(2)
            .Select(path => Evaluate(path, target))
            .Where(o => o is not null)
            .Select(o => o!)
            .ToList();

        var report = new StringBuilder();
        report.AppendLine($"{outcomes.Count} models below opset {target} with dense tensor inputs and outputs ({clock.Elapsed.TotalSeconds:F1} s):");
        foreach (IGrouping<Status, Outcome> group in outcomes.GroupBy(o => o.Status).OrderBy(g => g.Key))
        {
            report.AppendLine($"  {group.Key}: {group.Count()}");
        }

        foreach (IGrouping<long, Outcome> group in outcomes.Where(o => o.Status == Status.Matched).GroupBy(o => o.Opset).OrderBy(g => g.Key))
        {
            report.AppendLine($"  matched at opset {group.Key}: {group.Count()}");
        }

        List<Outcome> rewritten = outcomes.Where(o => o.ConvertedNodes > 0).ToList();
        report.AppendLine($"{rewritten.Count} of them needed rewrites ({rewritten.Sum(o => o.ConvertedNodes)} nodes): " +
            string.Join(", ", rewritten.Select(o => $"{o.Name} ({o.ConvertedNodes})")));
        foreach (Outcome outcome in outcomes.Where(o => o.Status != Status.Matched).OrderBy(o => o.Status))
        {
            report.AppendLine($"{outcome.Status} {outcome.Name} (opset {outcome.Opset}): {outcome.Detail.Split('\n')[0]}");
        }

        output.WriteLine(report.ToString());

        Assert.Empty(outcomes.Where(o => o.Status == Status.Failed).Select(o => $"{o.Name}: {o.Detail}"));
        int matched = outcomes.Count(o => o.Status is Status.Matched or Status.MatchesOriginal);
        Assert.True(matched >= minimumMatched, $"only {matched} models upgraded and matched");

        // The one refusal: Scan-8's batch axis (no rewrite is known). Anything else refused is a regression.
        Assert.Equal(["node/test_scan_sum"], outcomes.Where(o => o.Status == Status.Refused).Select(o => o.Name));
    }

    // Null for models the test does not apply to (at the target opset or newer, no default domain, not only dense tensors).
    private static Outcome? Evaluate(string modelPath, long target)
    {
        string name = $"{Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(modelPath)))}/{Path.GetFileName(Path.GetDirectoryName(modelPath))}";
        ModelProto model = OnnxModelFile.Load(modelPath);
        long? opset = OpsetVersions.DefaultDomainVersion(model);
        if (opset is not long from || from >= target)
        {
            return null;
        }

        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        ValueInfoProto[] inputs = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToArray();
        if (inputs.Concat(model.Graph.Output).Any(v => v.Type?.ValueCase != TypeProto.ValueOneofCase.TensorType))
        {
            return null;
        }

        string data = Path.Combine(Path.GetDirectoryName(modelPath)!, "test_data_set_0");
        OnnxTensor[] feeds = inputs.Select((input, k) => Read(Path.Combine(data, $"input_{k}.pb"), input)).ToArray();
        OnnxTensor[] expected = model.Graph.Output.Select((value, k) => Read(Path.Combine(data, $"output_{k}.pb"), value)).ToArray();
        string[] names = inputs.Select(i => i.Name).ToArray();

        try
        {
            return Compare(name, from, target, model, names, feeds, expected);
        }
        catch (Exception e)
        {
            return new Outcome(name, from, Status.Failed, $"{e.GetType().Name}: {e.Message}");
        }
    }

    private static Outcome Compare(string name, long from, long target, ModelProto model, string[] names, OnnxTensor[] feeds, OnnxTensor[] expected)
    {
        ModelProto upgraded = model.Clone();
        OpsetChange? change;
        try
        {
            change = OpsetUpgrade.Apply(upgraded, target);
        }
        catch (CompressionException e) when (e.Code == DiagnosticCodes.OpsetUpgradeBlocked)
        {
            return new Outcome(name, from, Status.Refused, e.Message);
        }

        Assert.NotNull(change);
        string? problem;
        OnnxTensor[]? results = null;
        try
        {
            results = OrtHarness.Run(upgraded, names, feeds);
            problem = OrtHarness.Difference(expected, results);
        }
        catch (OnnxRuntimeException e)
        {
            problem = $"the upgraded model does not run: {e.Message}";
        }

        bool known = KnownDifferences.TryGetValue(name, out string? why);
        if (problem is null)
        {
            return known
                ? new Outcome(name, from, Status.Failed, $"matches now; remove it from the known differences ({why})")
                : new Outcome(name, from, Status.Matched, $"{change.ConvertedNodes} node(s) converted", change.ConvertedNodes);
        }

        if (known)
        {
            return new Outcome(name, from, Status.KnownDifference, $"{why} [{problem}]");
        }

        // ONNX Runtime runs opset 7 and newer: see whether it computes the same for the original model.
        if (from < 7)
        {
            return new Outcome(name, from, Status.Failed, problem);
        }

        OnnxTensor[] original;
        try
        {
            original = OrtHarness.Run(model, names, feeds);
        }
        catch (OnnxRuntimeException e)
        {
            return results is null
                ? new Outcome(name, from, Status.OriginalDoesNotRun, e.Message)
                : new Outcome(name, from, Status.Failed, $"{problem}; the original does not run: {e.Message}");
        }

        return results is not null && OrtHarness.Difference(original, results) is null
            ? new Outcome(name, from, Status.MatchesOriginal, $"ONNX Runtime differs from the reference for the original too ({problem})", change.ConvertedNodes)
            : new Outcome(name, from, Status.Failed, problem);
    }

    // Reads a test tensor; ONNX wrote bfloat16 tensors as UINT16 (numpy has no bfloat16).
    private static OnnxTensor Read(string path, ValueInfoProto declared)
    {
        OnnxTensor tensor = TensorConversion.ToOnnxTensor(OnnxDataFile.LoadTensor(path));
        return declared.Type.TensorType.ElemType == (int)TensorElementType.BFloat16 && tensor.ElementType == TensorElementType.UInt16
            ? new OnnxTensor<ushort>(tensor.As<ushort>().Memory, tensor.Shape, TensorElementType.BFloat16)
            : tensor;
    }
}
