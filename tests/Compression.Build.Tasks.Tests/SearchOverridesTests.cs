using System.Security;
using System.Text.Json;

namespace Compression.Build.Tasks.Tests;

/// <summary>
/// <c>Compress=auto</c> through the build: the settings reach the compressor through the package's generated settings list
/// (semicolons in a value included), the task passes <c>--write-overrides</c>, and the build names the file and how to pin it.
/// Each runs the real task in real MSBuild with the compressor built from this repository.
/// </summary>
public sealed class SearchOverridesTests : IDisposable
{
    private static readonly string SettingsTargets = Path.Combine(RepositoryPaths.Root, "src", "Compression.Build", "build", "Compression.Build.Settings.targets");

    private readonly TaskProject project = new();

    public void Dispose() => project.Dispose();

    [Fact]
    public void A_search_writes_its_choice_and_the_build_names_the_file_and_how_to_pin_it()
    {
        string validation = LabelledDigits.Write(Path.Combine(project.Directory, "validation data"), 0, 120);

        (int exitCode, string log) = Run(
            $"<OnnxCompress>auto</OnnxCompress><OnnxValidationData>{Escape(validation)}</OnnxValidationData><OnnxSearchTechniques>quantize;cluster</OnnxSearchTechniques>",
            string.Empty);

        Assert.True(exitCode == 0, log);
        string overrides = Output("digits.onnx.search.json");
        Assert.Contains(
            $"Models/digits.onnx: the budget search's choice is in {overrides}; to pin it, copy that file into the project and give the model " +
            "Overrides=\"that file\" with Compress=\"manual\".",
            log);
        using JsonDocument file = JsonDocument.Parse(File.ReadAllText(overrides));
        Assert.Equal(["fc1_matmul", "fc2_matmul", "fc3_matmul"], file.RootElement.GetProperty("nodes").EnumerateObject().Select(n => n.Name));

        // The semicolon-separated project property reached the compressor whole: the search used both techniques.
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(Output("digits.onnx.report.json")));
        JsonElement search = report.RootElement.GetProperty("search");
        Assert.Equal(["quantize", "cluster"], search.GetProperty("techniques").EnumerateArray().Select(t => t.GetString()));
        Assert.Contains(search.GetProperty("candidates").EnumerateArray(), c => c.GetString() == "cluster 16 values");
        Assert.Equal(File.ReadAllText(overrides), search.GetProperty("overrides").GetString());
        JsonElement setting = report.RootElement.GetProperty("settings").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "SearchTechniques");
        Assert.Equal(("quantize,cluster", "project property OnnxSearchTechniques"), (setting.GetProperty("value").GetString(), setting.GetProperty("source").GetString()));
    }

    [Fact]
    public void Metadata_with_a_semicolon_reaches_the_compressor_whole_and_beats_the_project_property()
    {
        string validation = LabelledDigits.Write(Path.Combine(project.Directory, "validation"), 0, 120);

        (int exitCode, string log) = Run(
            $"<OnnxValidationData>{Escape(validation)}</OnnxValidationData><OnnxSearchTechniques>quantize</OnnxSearchTechniques>",
            "Compress=\"auto\" SearchTechniques=\"cluster;prune\"");

        Assert.True(exitCode == 0, log);
        using JsonDocument report = JsonDocument.Parse(File.ReadAllText(Output("digits.onnx.report.json")));
        Assert.Equal(["prune", "cluster"], report.RootElement.GetProperty("search").GetProperty("techniques").EnumerateArray().Select(t => t.GetString()));
        Assert.True(File.Exists(Output("digits.onnx.search.json")));
    }

    [Fact]
    public void Without_a_search_the_build_says_nothing_of_it_and_an_earlier_searchs_file_is_removed()
    {
        string stale = Output("digits.onnx.search.json");
        Directory.CreateDirectory(Path.GetDirectoryName(stale)!);
        File.WriteAllText(stale, """{ "nodes": { "fc1_matmul": "none" } }""");

        (int exitCode, string log) = Run("<OnnxValidate>false</OnnxValidate>", string.Empty);

        Assert.True(exitCode == 0, log);
        Assert.False(File.Exists(stale));
        Assert.DoesNotContain("budget search", log);
        Assert.True(File.Exists(Output("digits.onnx")));
    }

    private string Output(string name) => Path.Combine(project.Directory, "obj dir", name);

    /// <summary>A project as the package's targets make it: the properties, the generated settings list, one OnnxModel item, and the task.</summary>
    private (int ExitCode, string Log) Run(string properties, string metadata)
    {
        string model = Path.Combine(project.Directory, "Models", "digits.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(model)!);
        File.Copy(RepositoryPaths.DigitsModel, model, overwrite: true);
        string output = Output("digits.onnx");
        return project.RunProject("app.proj", $"""
              <PropertyGroup>{properties}</PropertyGroup>
              <Import Project="{Escape(SettingsTargets)}" />
              <ItemGroup>
                <OnnxModel Include="Models/digits.onnx" {metadata} />
              </ItemGroup>
              <Target Name="Compress">
                <CompressOnnxModel Model="@(OnnxModel)" OutputPath="{Escape(output)}" SignaturePath="{Escape(output)}.signature" ReportPath="{Escape(output)}.report.json"
                                   SearchOverridesPath="{Escape(output)}.search.json" SourceName="%(OnnxModel.Identity)" ProjectSettings="$(_OnnxProjectSettings)"
                                   BaseDirectory="$(MSBuildProjectDirectory)" CompressorPath="{Escape(TaskProject.CompressorPath)}"
                                   OnnxRuntimeLibraryPath="{Escape(AssemblyMetadata.OnnxRuntimeLibraryPath)}" />
              </Target>
            """);
    }

    private static string Escape(string text) => SecurityElement.Escape(text);
}
