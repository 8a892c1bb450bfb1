using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Compression.Build.Generator.Tests;

/// <summary>An additional file whose content is a string, as the build would pass a file on disk.</summary>
internal sealed class InMemoryAdditionalText(string path, string? text) : AdditionalText
{
    private readonly SourceText? content = text is null ? null : SourceText.From(text, System.Text.Encoding.UTF8);

    public override string Path { get; } = path;

    /// <summary>The content; null stands for a file that could not be read.</summary>
    public override SourceText? GetText(CancellationToken cancellationToken = default) => content;
}
