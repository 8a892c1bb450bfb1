using System.Text.Json;
using System.Text.Json.Serialization;
using Compression.Onnx;

namespace Compression.Core.Search;

/// <summary>
/// The sensitivity table in the compression cache folder (<c>search-KEY.json</c>), keyed by the model, its data, the
/// sample folders and every setting but the budget: a search with another budget, or run again, reads it instead of
/// scoring every layer again. A table a search's time limit cut short is kept too, and the next search scores only the
/// cells it lacks. An unreadable or foreign file is scored again over.
/// </summary>
internal static class TableCache
{
    private const string Format = "onnx-compress sensitivity table 1";

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private sealed record Stored(string Format, string Key, IReadOnlyList<BudgetSearch.TableRow> Rows);

    public static IReadOnlyList<BudgetSearch.TableRow>? Read(string? folder, string key, IReadOnlyList<SearchLayer> layers, IReadOnlyList<SearchCandidate> candidates,
        List<CompressionWarning> warnings)
    {
        if (string.IsNullOrEmpty(folder))
        {
            return null;
        }

        string path = PathOf(folder, key);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            Stored? stored = JsonSerializer.Deserialize<Stored>(File.ReadAllBytes(path), Options);
            if (stored is not null && stored.Format == Format && stored.Key == key && stored.Rows.Count == layers.Count
                && stored.Rows.Zip(layers).All(p => p.First.Node == p.Second.Node
                    && p.First.Cells.All(c => candidates.Any(k => k.Name == c.Candidate && k.AppliesTo(p.Second.OpType)))
                    && p.First.Cells.Select(c => c.Candidate).Distinct(StringComparer.Ordinal).Count() == p.First.Cells.Count
                    && p.First.Cells.All(c => c.Failed is not null || c.Validation is not null)))
            {
                return stored.Rows;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.CacheEntryCorrupt,
                $"The sensitivity table '{path}' in the compression cache could not be read ({e.Message}); the layers were scored again."));
            return null;
        }

        warnings.Add(new CompressionWarning(DiagnosticCodes.CacheEntryCorrupt,
            $"The sensitivity table '{path}' in the compression cache does not fit this model and search; the layers were scored again."));
        return null;
    }

    public static void Write(string? folder, string key, IReadOnlyList<BudgetSearch.TableRow> rows, List<CompressionWarning> warnings)
    {
        if (string.IsNullOrEmpty(folder))
        {
            return;
        }

        string path = PathOf(folder, key);
        try
        {
            Directory.CreateDirectory(folder);
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(new Stored(Format, key, rows), Options);
            AtomicFile.Write(path, "the sensitivity table", stream => stream.Write(json));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OnnxFormatException)
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.CacheNotUsable,
                $"The sensitivity table could not be kept in the compression cache '{folder}' ({e.Message}); the next search scores the layers again."));
        }
    }

    private static string PathOf(string folder, string key) => Path.Combine(Path.GetFullPath(folder), "search-" + key[..32].ToLowerInvariant() + ".json");
}
