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

    [Fact]
    public void The_package_targets_write_the_choice_beside_the_report_and_the_pinned_file_gives_the_same_model_without_a_search()
    {
        string validation = LabelledDigits.Write(Path.Combine(project.Directory, "validation"), 0, 120);
        string projectFile = Path.Combine(project.Directory, "app.csproj");
        Directory.CreateDirectory(Path.Combine(project.Directory, "Models"));
        File.Copy(RepositoryPaths.DigitsModel, Path.Combine(project.Directory, "Models", "digits.onnx"));
        string onnx = Path.Combine(project.Directory, "obj", "Debug", $"net{Environment.Version.Major}.0", "onnx", "Models");
        string overrides = Path.Combine(onnx, "digits.onnx.search.json");

        File.WriteAllText(projectFile, SdkProject(validation, "Compress=\"auto\""));
        (int searchExit, string searchLog) = project.RunMSBuild(projectFile, null, "-restore", "-t:OnnxCompressModels");

        Assert.True(searchExit == 0, searchLog);
        Assert.Contains($"Models/digits.onnx: the budget search's choice is in {overrides}; to pin it,", searchLog);
        Assert.True(File.Exists(Path.Combine(onnx, "digits.onnx.report.json")));
        byte[] searched = File.ReadAllBytes(Path.Combine(onnx, "digits.onnx"));

        // Pinned as the message says: the file in the project, Compress="manual". The same model, no search, no file left in obj/.
        File.Copy(overrides, Path.Combine(project.Directory, "digits.search.json"));
        File.WriteAllText(projectFile, SdkProject(validation, "Compress=\"manual\" Overrides=\"digits.search.json\""));
        (int pinnedExit, string pinnedLog) = project.RunMSBuild(projectFile, null, "-t:OnnxCompressModels");

        Assert.True(pinnedExit == 0, pinnedLog);
        Assert.Contains("Models/digits.onnx: compressed in ", pinnedLog);
        Assert.DoesNotContain("budget search", pinnedLog);
        Assert.False(File.Exists(overrides));
        Assert.Equal(searched, File.ReadAllBytes(Path.Combine(onnx, "digits.onnx")));
    }

    /// <summary>An SDK project that imports the package's props and targets from this repository, with the task and compressor built here.</summary>
    private static string SdkProject(string validation, string metadata)
    {
        string build = Path.Combine(RepositoryPaths.Root, "src", "Compression.Build", "build");
        return $"""
            <Project>
              <Import Project="Sdk.props" Sdk="Microsoft.NET.Sdk" />
              <PropertyGroup>
                <TargetFramework>net{Environment.Version.Major}.0</TargetFramework>
                <CompressionBuildTasksAssembly>{Escape(TaskProject.TasksAssembly)}</CompressionBuildTasksAssembly>
                <CompressionBuildTaskFactory>TaskHostFactory</CompressionBuildTaskFactory>
                <OnnxCompressorPath>{Escape(TaskProject.CompressorPath)}</OnnxCompressorPath>
                <OnnxRuntimeLibraryPath>{Escape(AssemblyMetadata.OnnxRuntimeLibraryPath)}</OnnxRuntimeLibraryPath>
                <OnnxCompressionCacheDir>none</OnnxCompressionCacheDir>
                <OnnxValidationData>{Escape(validation)}</OnnxValidationData>
              </PropertyGroup>
              <Import Project="{Escape(Path.Combine(build, "Compression.Build.props"))}" />
              <ItemGroup>
                <OnnxModel Include="Models/digits.onnx" {metadata} />
              </ItemGroup>
              <Import Project="Sdk.targets" Sdk="Microsoft.NET.Sdk" />
              <Import Project="{Escape(Path.Combine(build, "Compression.Build.targets"))}" />
            </Project>
            """;
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
                <OnnxModel Include="Models/digits.onnx" {metadata} CompressedPath="{Escape(output)}" SignaturePath="{Escape(output)}.signature"
                           ReportPath="{Escape(output)}.report.json" SearchOverridesPath="{Escape(output)}.search.json" />
              </ItemGroup>
              <Target Name="Compress">
                <CompressOnnxModels Models="@(OnnxModel)" ProjectSettings="$(_OnnxProjectSettings)"
                                    BaseDirectory="$(MSBuildProjectDirectory)" CompressorPath="{Escape(TaskProject.CompressorPath)}"
                                    OnnxRuntimeLibraryPath="{Escape(AssemblyMetadata.OnnxRuntimeLibraryPath)}" />
              </Target>
            """);
    }

    private static string Escape(string text) => SecurityElement.Escape(text);
}
