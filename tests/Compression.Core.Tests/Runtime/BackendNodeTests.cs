using Compression.Core.Runtime;
using System.Text;
using Xunit.Abstractions;

namespace Compression.Core.Tests.Runtime;

/// <summary>
/// The ONNX backend test suite's node tests through <see cref="OnnxSession"/> and real ONNX Runtime: each model is
/// loaded, fed its recorded inputs, and its outputs compared with the recorded reference outputs.
/// </summary>
public class BackendNodeTests(ITestOutputHelper output)
{
    public static TheoryData<string> NodeTests()
    {
        var data = new TheoryData<string>();
        foreach (string name in BackendNodeSuite.Names)
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(NodeTests))]
    public void Node_test_matches_the_reference(string name)
    {
        NodeTestOutcome outcome = BackendNodeSuite.Get(name);
        output.WriteLine($"{outcome.Status}{(outcome.SkipReason is null ? "" : ": " + outcome.SkipReason)}: {outcome.Detail}");
        Assert.True(outcome.Status != NodeTestStatus.Failed, $"{name}: {outcome.Detail}");
    }

    [Fact]
    public void Suite_runs_and_matches_hundreds_of_models()
    {
        Assert.NotEmpty(BackendNodeSuite.Names);
        NodeTestOutcome[] outcomes = BackendNodeSuite.Names.Select(BackendNodeSuite.Get).ToArray();
        var byStatus = outcomes.ToLookup(o => o.Status);
        int ran = outcomes.Length - byStatus[NodeTestStatus.Skipped].Count();

        var report = new StringBuilder();
        report.AppendLine($"ONNX backend node tests in {BackendNodeSuite.NodeTestsDir}: {outcomes.Length}");
        report.AppendLine($"  ran: {ran}, matched: {byStatus[NodeTestStatus.Matched].Count()}, known differences: {byStatus[NodeTestStatus.KnownDifference].Count()}, failed: {byStatus[NodeTestStatus.Failed].Count()}");
        var matched = byStatus[NodeTestStatus.Matched].Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        report.AppendLine($"    of the matched, {BackendNodeSuite.RandomOutputTests.Count(matched.Contains)} have random outputs and were checked by property " +
            $"({string.Join(", ", BackendNodeSuite.RandomOutputTests)})");
        foreach (var (name, why) in BackendNodeSuite.LooserToleranceTests)
        {
            report.AppendLine($"    looser tolerance for {name}: {why}");
        }

        report.AppendLine($"  skipped: {byStatus[NodeTestStatus.Skipped].Count()}");
        foreach (var group in byStatus[NodeTestStatus.Skipped].GroupBy(o => o.SkipReason).OrderByDescending(g => g.Count()))
        {
            report.AppendLine($"    {group.Count()} × {group.Key}:");
            foreach (NodeTestOutcome o in group)
            {
                report.AppendLine($"      {o.Name}: {o.Detail}");
            }
        }

        foreach (NodeTestOutcome o in byStatus[NodeTestStatus.KnownDifference])
        {
            report.AppendLine($"  known difference {o.Name}: {o.Detail}");
        }

        foreach (NodeTestOutcome o in byStatus[NodeTestStatus.Failed])
        {
            report.AppendLine($"  FAILED {o.Name}: {o.Detail}");
        }

        report.AppendLine($"  slowest: {string.Join(", ", outcomes.OrderByDescending(o => o.Elapsed).Take(5).Select(o => $"{o.Name} {o.Elapsed.TotalMilliseconds:F0} ms"))}; total {outcomes.Sum(o => o.Elapsed.TotalSeconds):F1} s");
        output.WriteLine(report.ToString());

        Assert.Empty(byStatus[NodeTestStatus.Failed].Select(o => o.Name));
        Assert.True(byStatus[NodeTestStatus.Matched].Count() >= 200, $"only {byStatus[NodeTestStatus.Matched].Count()} node tests ran and matched");
    }
}
