using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Compression.Build.Generator.Tests;

/// <summary>Analyzer config options from a dictionary: what MSBuild writes into the generated .editorconfig.</summary>
internal sealed class TestAnalyzerConfigOptions(ImmutableDictionary<string, string> values) : AnalyzerConfigOptions
{
    public static TestAnalyzerConfigOptions Empty { get; } = new(ImmutableDictionary<string, string>.Empty);

    public override bool TryGetValue(string key, [NotNullWhen(true)] out string? value) => values.TryGetValue(key, out value);
}

/// <summary>
/// Global options (<c>build_property.*</c>) and per-file options (<c>build_metadata.AdditionalFiles.*</c>), keyed by
/// additional file path, as the compiler gives them to generators.
/// </summary>
internal sealed class TestAnalyzerConfigOptionsProvider(
    ImmutableDictionary<string, string> globalOptions,
    ImmutableDictionary<string, ImmutableDictionary<string, string>> fileOptions) : AnalyzerConfigOptionsProvider
{
    public override AnalyzerConfigOptions GlobalOptions { get; } = new TestAnalyzerConfigOptions(globalOptions);

    public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => TestAnalyzerConfigOptions.Empty;

    public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
        fileOptions.TryGetValue(textFile.Path, out ImmutableDictionary<string, string>? options)
            ? new TestAnalyzerConfigOptions(options)
            : TestAnalyzerConfigOptions.Empty;
}
