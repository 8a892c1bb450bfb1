namespace Compression.Build.Tasks.Tests;

/// <summary>
/// The tasks that keep the build's output useful: two models with the same class found before compression
/// (CheckOnnxClassNames), an OnnxModel wildcard that matches nothing (CheckOnnxModelPatterns), and the compressor's output
/// split into one line per model and notes returned to the build (CompressOnnxModels). Each runs in real MSBuild.
/// </summary>
public sealed class BuildOutputTasksTests : IDisposable
{
    private readonly TaskProject project = new();

    public void Dispose() => project.Dispose();

    [Fact]
    public void Two_models_with_the_same_file_name_in_different_folders_are_an_error_naming_both_items_and_the_fix()
    {
        (int exitCode, string log) = project.RunProject("app.csproj", ClassNamesProject(string.Empty));

        Assert.NotEqual(0, exitCode);
        string projectFile = Path.Combine(project.Directory, "app.csproj");
        Assert.Contains(
            $"{projectFile} : error OCB2007: The OnnxModel items 'Models/a/net.onnx' and 'Models/b/net.onnx' would both generate the class 'MyApp.Net'. " +
            "Give one of them its own class name with the ClassName metadata, such as <OnnxModel Update=\"Models/b/net.onnx\" ClassName=\"BNet\" />",
            log);
    }

    [Theory]
    [InlineData("ClassName=\"BNet\"")]
    [InlineData("ResolvedNamespace=\"MyApp.Other\"")]
    [InlineData("GenerateClass=\"false\"")]
    public void The_suggested_fix_or_another_namespace_or_no_class_passes_the_check(string metadata)
    {
        (int exitCode, string log) = project.RunProject("app.csproj", ClassNamesProject(metadata));

        Assert.True(exitCode == 0, log);
        Assert.DoesNotContain("OCB2007", log);
    }

    [Fact]
    public void Class_names_that_differ_only_in_case_collide_as_in_the_generator()
    {
        (int exitCode, string log) = project.RunProject("app.csproj", """
              <ItemGroup>
                <Model Include="Models/digits.onnx" ResolvedNamespace="MyApp" />
                <Model Include="Other/DIGITS.onnx" ResolvedNamespace="MyApp" ClassName="DIGITS" />
                <Model Include="Models/digits.onnx" ResolvedNamespace="MyApp" />
              </ItemGroup>
              <Target Name="Check">
                <CheckOnnxClassNames Models="@(Model)" ProjectFile="$(MSBuildProjectFullPath)" />
              </Target>
            """);

        Assert.NotEqual(0, exitCode);
        // The same file listed twice is one class, not a collision.
        Assert.Single(log.Split('\n'), l => l.Contains("error OCB2007", StringComparison.Ordinal));
        Assert.Contains("'Models/digits.onnx' and 'Other/DIGITS.onnx' would both generate the class 'MyApp.DIGITS'", log);
    }

    [Fact]
    public void A_wildcard_that_matches_no_model_is_a_warning_naming_the_project_and_the_pattern()
    {
        (int exitCode, string log) = project.RunProject("app.csproj", PatternsProject("Models/*.onnx"));

        Assert.True(exitCode == 0, log);
        string projectFile = Path.Combine(project.Directory, "app.csproj");
        Assert.Contains($"{projectFile}(8,6): warning OCB2008: The OnnxModel pattern 'Models/*.onnx' in project 'app.csproj' matches no file", log);
    }

    [Theory]
    [InlineData("Models/*.onnx", "Models/digits.onnx")]
    [InlineData("Models/**/*.onnx", "Models/deep/er/digits.onnx")]
    [InlineData("**/*.onnx", "digits.onnx")]
    [InlineData("Models/d?gits.onnx;Other/*.onnx", "Models/digits.onnx", "Other/x.onnx")]
    public void A_wildcard_that_matches_a_model_gives_no_warning(string pattern, params string[] files)
    {
        foreach (string file in files)
        {
            string path = Path.Combine(project.Directory, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "model");
        }

        (int exitCode, string log) = project.RunProject("app.csproj", PatternsProject(pattern));

        Assert.True(exitCode == 0, log);
        Assert.DoesNotContain("OCB2008", log);
    }

    [Fact]
    public void Only_the_part_of_an_include_that_matches_nothing_is_named()
    {
        Directory.CreateDirectory(Path.Combine(project.Directory, "Models"));
        File.WriteAllText(Path.Combine(project.Directory, "Models", "digits.onnx"), "model");

        (int exitCode, string log) = project.RunProject("app.csproj", PatternsProject("Models/*.onnx;Models/*.ONNX2;Models/digits.onnx"));

        Assert.True(exitCode == 0, log);
        Assert.Single(log.Split('\n'), l => l.Contains("warning OCB2008", StringComparison.Ordinal));
        Assert.Contains("The OnnxModel pattern 'Models/*.ONNX2'", log);
    }

    [Theory]
    [InlineData("<OnnxModel Include=\"Models/*.onnx\" Condition=\"'$(Never)' == 'true'\" />")]
    [InlineData("<OnnxModel Include=\"$(ModelFolder)/*.onnx\" />")]
    [InlineData("<OnnxModel Include=\"Models/missing.onnx\" />")]
    public void Patterns_only_MSBuild_can_evaluate_and_plain_paths_are_left_alone(string item)
    {
        (int exitCode, string log) = project.RunProject("app.csproj", $"""
              <ItemGroup>
                {item}
              </ItemGroup>
              <Target Name="Check">
                <CheckOnnxModelPatterns ProjectFile="$(MSBuildProjectFullPath)" />
              </Target>
            """);

        Assert.True(exitCode == 0, log);
        Assert.DoesNotContain("OCB2008", log);
    }

    [Fact]
    public void The_compressor_says_one_line_per_model_at_minimal_verbosity_and_returns_its_notes_for_the_build_to_say_once()
    {
        // The task names each model by its item spec: the originals are two copies, in a folder of their own.
        string first = Path.Combine(project.Directory, "in", "first.onnx");
        string second = Path.Combine(project.Directory, "in", "second.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(first)!);
        File.Copy(RepositoryPaths.DigitsModel, first);
        File.Copy(RepositoryPaths.DigitsModel, second);
        string firstOutput = Path.Combine(project.Directory, "out", "first.onnx");
        string secondOutput = Path.Combine(project.Directory, "out", "second.onnx");

        // Standard DequantizeLinear needs a session entry, which the compressor gives as a note.
        (int exitCode, string log) = project.RunProject("compress.proj", $"""
              <ItemGroup>
                <Model Include="{first}" CompressedPath="{firstOutput}" SignaturePath="{firstOutput}.signature" />
                <Model Include="{second}" CompressedPath="{secondOutput}" SignaturePath="{secondOutput}.signature" />
              </ItemGroup>
              <Target Name="Compress">
                <CompressOnnxModels Models="@(Model)" ProjectSettings="StandardOps=true%0AValidate=false" CompressorPath="{TaskProject.CompressorPath}">
                  <Output TaskParameter="Notes" ItemName="Note" />
                  <Output TaskParameter="CompressedModels" ItemName="Compressed" />
                </CompressOnnxModels>
                <Message Importance="high" Text="distinct note: %(Note.Identity)" />
                <Message Importance="high" Text="compressed: @(Compressed->Count())" />
              </Target>
            """);

        Assert.True(exitCode == 0, log);
        string[] lines = log.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Single(lines, l => l.Contains($"{first}: compressed in ", StringComparison.Ordinal) && l.Contains(" bytes (0.", StringComparison.Ordinal) && l.EndsWith("; not validated", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains($"{second}: compressed in ", StringComparison.Ordinal));
        // The details are logged at normal importance, which minimal verbosity leaves out.
        Assert.DoesNotContain(lines, l => l.StartsWith($"  {first}: 341,444 -> ", StringComparison.Ordinal));
        string note = Assert.Single(lines, l => l.Contains("distinct note: ", StringComparison.Ordinal));
        Assert.Contains("session.disable_quant_qdq", note);
        Assert.DoesNotContain(lines, l => l.Contains("  note: ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Trim() == "compressed: 2");
    }

    private static string ClassNamesProject(string secondMetadata) => $"""
          <ItemGroup>
            <Model Include="Models/a/net.onnx" ResolvedNamespace="MyApp" GenerateClass="true" />
            <Model Include="Models/b/net.onnx" {(secondMetadata.StartsWith("ResolvedNamespace", StringComparison.Ordinal) ? secondMetadata : "ResolvedNamespace=\"MyApp\" " + secondMetadata)} />
          </ItemGroup>
          <Target Name="Check">
            <CheckOnnxClassNames Models="@(Model)" ProjectFile="$(MSBuildProjectFullPath)" />
          </Target>
        """;

    private static string PatternsProject(string include) => $"""
          <ItemGroup>
            <OnnxModel Include="{include}" />
          </ItemGroup>
          <Target Name="Check">
            <CheckOnnxModelPatterns ProjectFile="$(MSBuildProjectFullPath)" />
          </Target>
        """;
}
