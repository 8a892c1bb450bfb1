using System.Text.Json.Nodes;

namespace Compression.Testing;

/// <summary>
/// Compression reports without their measured times: a report holds the compression's duration (the JSON property
/// <c>timing</c>), which differs from run to run, while everything else in it is the same for the same model and
/// settings. Tests that compare two runs' reports compare them through this.
/// </summary>
internal static class ReportJson
{
    /// <summary>The report's JSON with its <c>timing</c> property removed, as compact text.</summary>
    public static string WithoutTiming(string json)
    {
        JsonNode root = JsonNode.Parse(json) ?? throw new InvalidOperationException("The report is the JSON null.");
        JsonObject report = root.AsObject();
        if (!report.Remove("timing"))
        {
            throw new InvalidOperationException("The report has no 'timing' property.");
        }

        return report.ToJsonString();
    }

    /// <summary>The report file's JSON with its <c>timing</c> property removed.</summary>
    public static string WithoutTiming(byte[] file) => WithoutTiming(System.Text.Encoding.UTF8.GetString(file));
}
