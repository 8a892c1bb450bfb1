using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// A test that needs headless Chromium: the test project's build installs it (Debian package <c>chromium</c>, see
/// build/DebianPackages.targets), and the test is skipped, saying why, only where that build could not (not root, no
/// apt-get).
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (!File.Exists(HeadlessChromium.ExecutablePath))
        {
            Skip = $"Chromium is not installed at {HeadlessChromium.ExecutablePath}, and the build of this test project could not install it " +
                "(it installs the Debian package chromium when it runs as root with apt-get and flock). Install it with 'apt-get install chromium'.";
        }
    }
}

/// <summary>The bars Chromium laid out in one section of the HTML report.</summary>
/// <param name="Source">The section's model.</param>
/// <param name="Bars">Each bar: its chart, its class, and its width and height in CSS pixels as laid out.</param>
internal sealed record RenderedSection(string Source, IReadOnlyList<RenderedBar> Bars);

/// <summary>A bar as Chromium laid it out.</summary>
internal sealed record RenderedBar(string Chart, string Class, string Tensor, double Width, double Height);

/// <summary>Renders pages in headless Chromium and reads back what it laid out.</summary>
internal static partial class HeadlessChromium
{
    public static string ExecutablePath => AssemblyMetadata.Get("ChromiumPath");

    /// <summary>
    /// Lays out <paramref name="page"/> in Chromium and returns, per <c>section.model</c>, the size of every chart bar
    /// (<c>svg.chart rect.bar</c>) as drawn. The page has no script of its own; the measurement is a script added to a copy
    /// of it beside the original, and Chromium prints the DOM after running it.
    /// </summary>
    public static IReadOnlyList<RenderedSection> MeasureBars(string page, string workFolder, Action<string> log)
    {
        string copy = Path.Combine(Path.GetDirectoryName(page)!, "measured-" + Path.GetFileName(page));
        string html = File.ReadAllText(page);
        Assert.Contains("</body>", html, StringComparison.Ordinal);
        File.WriteAllText(copy, html.Replace("</body>", MeasuringScript + "</body>", StringComparison.Ordinal));
        try
        {
            string dom = Run(workFolder, log, "--dump-dom", new Uri(copy).AbsoluteUri);
            Match measured = MeasuredPattern().Match(dom);
            Assert.True(measured.Success, $"Chromium's DOM has no measurements:\n{dom[..Math.Min(dom.Length, 2000)]}");
            string json = System.Net.WebUtility.HtmlDecode(measured.Groups[1].Value);
            return JsonSerializer.Deserialize<List<RenderedSection>>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        }
        finally
        {
            File.Delete(copy);
        }
    }

    private static string Run(string workFolder, Action<string> log, params string[] arguments)
    {
        var start = new ProcessStartInfo(ExecutablePath) { RedirectStandardOutput = true, RedirectStandardError = true };
        // As root Chromium needs --no-sandbox; a fresh profile folder keeps runs apart.
        foreach (string argument in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + Path.Combine(workFolder, "chromium-profile"), .. arguments])
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("Chromium did not finish within 2 minutes.");
        }

        log($"$ chromium {string.Join(' ', arguments)} (exit {process.ExitCode})\n{error.Result}");
        Assert.True(process.ExitCode == 0, $"Chromium exited with {process.ExitCode}:\n{error.Result}");
        return output.Result;
    }

    private const string MeasuringScript = """
        <script>
        const sections = [...document.querySelectorAll('section.model')].map(section => ({
          source: section.dataset.source,
          bars: [...section.querySelectorAll('svg.chart rect.bar')].map(bar => {
            const box = bar.getBoundingClientRect();
            return { chart: bar.closest('svg').classList[1], class: bar.getAttribute('class'), tensor: bar.parentElement.dataset.tensor, width: box.width, height: box.height };
          }),
        }));
        const pre = document.createElement('pre');
        pre.id = 'measured';
        pre.textContent = JSON.stringify(sections);
        document.body.appendChild(pre);
        </script>
        """;

    [GeneratedRegex("<pre id=\"measured\">(.*?)</pre>", RegexOptions.Singleline)]
    private static partial Regex MeasuredPattern();
}
