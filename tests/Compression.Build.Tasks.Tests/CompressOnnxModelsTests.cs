namespace Compression.Build.Tasks.Tests;

public sealed class CompressOnnxModelsTests : IDisposable
{
    private readonly TaskProject project = new();

    public void Dispose() => project.Dispose();

    [Fact]
    public void Compresses_a_model_and_logs_the_summary_where_minimal_verbosity_shows_it()
    {
        // The folder and file names have spaces: the response file must keep each path one argument.
        string model = Path.Combine(project.Directory, "my model.onnx");
        File.Copy(RepositoryPaths.DigitsModel, model);
        string output = Path.Combine(project.Directory, "out dir", "my model.onnx");

        (int exitCode, string log) = project.Run(Parameters(new() { ["OnnxRuntimeLibraryPath"] = AssemblyMetadata.OnnxRuntimeLibraryPath }), models: [Model(model, output, report: true)]);

        Assert.True(exitCode == 0, log);
        // One line per model: what happened, sizes, techniques and the evaluator's figures; the details need -v:normal.
        Assert.Matches(@"my model\.onnx: compressed in \d+\.\ds; 341,444 -> [\d,]+ bytes \(0\.\d\dx\), zipped [\d,]+ -> [\d,]+ \(0\.\d\dx\); .+; validated in ONNX Runtime 1\.31\.1: cosine 0\.99\d+, max abs error \S+\r?\n", log);
        Assert.DoesNotContain("synthesized input sets", log);
        Assert.True(new FileInfo(output).Length < new FileInfo(model).Length);
        Assert.True(File.Exists(output + ".signature"));
        Assert.True(File.Exists(output + ".report.json"));
    }

    [Fact]
    public void A_broken_model_becomes_an_MSBuild_error_with_its_code_and_path()
    {
        string model = Path.Combine(project.Directory, "broken.onnx");
        File.WriteAllText(model, "not a model");
        string output = Path.Combine(project.Directory, "out", "broken.onnx");

        (int exitCode, string log) = project.Run(Parameters(new() { ["ProjectSettings"] = "Validate=false" }), models: [Model(model, output)]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"{model} : error OCB0002:", log);
        Assert.False(File.Exists(output));
        Assert.DoesNotContain("OCB2002", log);
    }

    [Fact]
    public void An_unknown_setting_value_is_an_error_that_says_which_values_exist()
    {
        string output = Path.Combine(project.Directory, "out", "digits.onnx");

        (int exitCode, string log) = project.Run(Parameters(new() { ["ProjectSettings"] = "Quantize=int3%0AValidate=false" }), models: [Model(RepositoryPaths.DigitsModel, output)]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("error OCB0003:", log);
        Assert.Contains("Quantize='int3' (project property OnnxQuantize) is not a valid value. Valid values: int8, uint8, int4, uint4, fp16, none.", log);
    }

    [Fact]
    public void Validation_without_ONNX_Runtime_is_an_error_that_says_how_to_provide_it()
    {
        string output = Path.Combine(project.Directory, "out", "digits.onnx");
        string emptyPackages = Path.Combine(project.Directory, "empty-packages");
        Directory.CreateDirectory(emptyPackages);

        (int exitCode, string log) = project.Run(Parameters([]), emptyPackages, models: [Model(RepositoryPaths.DigitsModel, output)]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("error OCB0100:", log);
        Assert.Contains("ONNXRUNTIME_LIBRARY_PATH", log);
        Assert.Contains("OnnxValidate=false", log);
    }

    [Fact]
    public void Turning_validation_off_warns_and_needs_no_ONNX_Runtime()
    {
        string output = Path.Combine(project.Directory, "out", "digits.onnx");

        (int exitCode, string log) = project.Run(Parameters(new() { ["ProjectSettings"] = "Validate=false" }), models: [Model(RepositoryPaths.DigitsModel, output)]);

        Assert.True(exitCode == 0, log);
        Assert.Contains("warning OCB0200:", log);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void The_cache_folder_is_passed_to_the_compressor_and_none_turns_it_off()
    {
        string cache = Path.Combine(project.Directory, "cache");
        (int, string) Run(string name, string cacheDirectory) =>
            project.Run(Parameters(new() { ["ProjectSettings"] = "Validate=false", ["CacheDirectory"] = cacheDirectory }),
                models: [Model(RepositoryPaths.DigitsModel, Path.Combine(project.Directory, name, "digits.onnx"))]);

        (int firstExit, string first) = Run("first", cache);
        (int secondExit, string second) = Run("second", cache);
        (int offExit, string off) = Run("off", "none");

        Assert.True(firstExit == 0, first);
        Assert.True(secondExit == 0, second);
        Assert.True(offExit == 0, off);
        Assert.DoesNotContain(": from cache in ", first);
        Assert.Contains(": from cache in ", second);
        Assert.DoesNotContain(": from cache in ", off);
        Assert.Single(Directory.GetDirectories(cache));
        Assert.Equal(File.ReadAllBytes(Path.Combine(project.Directory, "first", "digits.onnx")), File.ReadAllBytes(Path.Combine(project.Directory, "second", "digits.onnx")));
    }

    [Fact]
    public void A_missing_compressor_is_reported_as_OCB2002()
    {
        string output = Path.Combine(project.Directory, "out", "digits.onnx");
        Dictionary<string, string> parameters = Parameters(new() { ["ProjectSettings"] = "Validate=false" });
        parameters["CompressorPath"] = Path.Combine(project.Directory, "missing", "onnx-compress.dll");

        (int exitCode, string log) = project.Run(parameters, models: [Model(RepositoryPaths.DigitsModel, output)]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("error OCB2002:", log);
        Assert.Contains("OnnxCompressorPath", log);
    }

    [Fact]
    public void A_compressor_that_stops_without_an_error_line_is_reported_as_OCB2002()
    {
        string output = Path.Combine(project.Directory, "out", "digits.onnx");
        Dictionary<string, string> parameters = Parameters(new() { ["ProjectSettings"] = "Validate=false" });
        parameters["CompressorPath"] = TaskProject.TasksAssembly; // a library, not an app: dotnet refuses to run it

        (int exitCode, string log) = project.Run(parameters, models: [Model(RepositoryPaths.DigitsModel, output)]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("error OCB2002:", log);
        Assert.Contains("exit code", log);
    }

    [Fact]
    public void Several_models_run_in_one_compressor_and_one_that_fails_neither_stops_the_others_nor_counts_as_compressed()
    {
        string broken = Path.Combine(project.Directory, "broken.onnx");
        File.WriteAllText(broken, "not a model");
        string first = Path.Combine(project.Directory, "out", "first.onnx");
        string failed = Path.Combine(project.Directory, "out", "broken.onnx");
        string last = Path.Combine(project.Directory, "out", "last.onnx");
        string page = Path.Combine(project.Directory, "out", "report.html");

        (int exitCode, string log) = project.Run(
            Parameters(new() { ["ProjectSettings"] = "Validate=false", ["HtmlReportPath"] = page, ["HtmlReports"] = first + ".report.json" }),
            models: [Model(RepositoryPaths.DigitsModel, first, report: true), Model(broken, failed), Model(RepositoryPaths.DigitsModel, last)]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains($"{broken} : error OCB0002:", log);
        Assert.True(File.Exists(first + ".signature"));
        Assert.True(File.Exists(last + ".signature"));
        Assert.False(File.Exists(failed));
        // Only the two that succeeded are returned, for the build to stamp; the page waits for a run where all succeeded.
        string compressed = Assert.Single(log.Split('\n'), l => l.Contains("compressed: ", StringComparison.Ordinal)).Trim();
        Assert.Equal($"compressed: {RepositoryPaths.DigitsModel};{RepositoryPaths.DigitsModel}", compressed);
        Assert.False(File.Exists(page));
        Assert.DoesNotContain("OCB2002", log);
        Assert.DoesNotContain("onnx-compress --each:", log);
    }

    [Fact]
    public void The_same_process_writes_the_HTML_report_once_every_model_is_compressed()
    {
        string first = Path.Combine(project.Directory, "out", "first.onnx");
        string second = Path.Combine(project.Directory, "out", "second.onnx");
        string page = Path.Combine(project.Directory, "out", "report.html");

        (int exitCode, string log) = project.Run(
            Parameters(new() { ["ProjectSettings"] = "Validate=false", ["HtmlReportPath"] = page, ["HtmlReports"] = $"{first}.report.json;{second}.report.json" }),
            models: [Model(RepositoryPaths.DigitsModel, first, report: true), Model(RepositoryPaths.DigitsModel, second, report: true)]);

        Assert.True(exitCode == 0, log);
        string html = File.ReadAllText(page);
        Assert.Contains("first.onnx", html);
        Assert.Contains("second.onnx", html);
        Assert.True(File.GetLastWriteTimeUtc(page) >= File.GetLastWriteTimeUtc(second + ".report.json"));
    }

    [Fact]
    public void Interface_only_writes_each_signature_and_returns_no_compressed_model()
    {
        string first = Path.Combine(project.Directory, "design time", "first.onnx");
        string second = Path.Combine(project.Directory, "design time", "second.onnx");

        (int exitCode, string log) = project.Run(Parameters(new() { ["InterfaceOnly"] = "true" }),
            models: [Model(RepositoryPaths.DigitsModel, first), Model(RepositoryPaths.DigitsModel, second)]);

        Assert.True(exitCode == 0, log);
        Assert.True(File.Exists(first + ".signature"));
        Assert.True(File.Exists(second + ".signature"));
        Assert.False(File.Exists(first));
        Assert.Contains(log.Split('\n'), l => l.Trim() == "compressed:");
    }

    [Fact]
    public void With_the_server_the_first_run_starts_it_the_next_uses_it_and_both_write_what_a_process_writes()
    {
        string byProcess = Path.Combine(project.Directory, "process", "digits.onnx");
        string first = Path.Combine(project.Directory, "server", "first.onnx");
        string second = Path.Combine(project.Directory, "server", "second.onnx");
        // An idle time of its own gives this test a server of its own, which ends soon after.
        var server = new Dictionary<string, string> { ["ProjectSettings"] = "Validate=false", ["UseServer"] = "true", ["ServerIdleTime"] = "3" };

        (int processExit, string processLog) = project.Run(Parameters(new() { ["ProjectSettings"] = "Validate=false" }), models: [Model(RepositoryPaths.DigitsModel, byProcess)], verbosity: "detailed");
        (int firstExit, string firstLog) = project.Run(Parameters(server), models: [Model(RepositoryPaths.DigitsModel, first)], verbosity: "detailed");
        (int secondExit, string secondLog) = project.Run(Parameters(server), models: [Model(RepositoryPaths.DigitsModel, second)], verbosity: "detailed");

        Assert.True(processExit == 0, processLog);
        Assert.True(firstExit == 0, firstLog);
        Assert.True(secondExit == 0, secondLog);
        Assert.DoesNotContain("compressor's server", processLog);
        Assert.Contains("Started the compressor's server 'onnx-compress-", firstLog);
        Assert.Contains("Running the compressions in the compressor's server 'onnx-compress-", firstLog);
        Assert.DoesNotContain("Started the compressor's server", secondLog);
        Assert.Contains("Running the compressions in the compressor's server 'onnx-compress-", secondLog);
        // The lines come back as a process writes them: the summary, and the warning as an MSBuild warning.
        Assert.Contains($"{RepositoryPaths.DigitsModel}: compressed in ", secondLog);
        Assert.Contains("warning OCB0200:", secondLog);
        Assert.Contains("compressed: " + RepositoryPaths.DigitsModel, secondLog);
        Assert.Equal(File.ReadAllBytes(byProcess), File.ReadAllBytes(first));
        Assert.Equal(File.ReadAllBytes(byProcess), File.ReadAllBytes(second));
        Assert.Equal(File.ReadAllBytes(byProcess + ".signature"), File.ReadAllBytes(second + ".signature"));
    }

    [Fact]
    public void With_the_server_a_failing_model_is_the_same_MSBuild_error_as_in_a_process()
    {
        string broken = Path.Combine(project.Directory, "broken.onnx");
        File.WriteAllText(broken, "not a model");

        (int exitCode, string log) = project.Run(
            Parameters(new() { ["ProjectSettings"] = "Validate=false", ["UseServer"] = "true", ["ServerIdleTime"] = "3" }),
            models: [Model(broken, Path.Combine(project.Directory, "out", "broken.onnx"))], verbosity: "detailed");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Running the compressions in the compressor's server", log);
        Assert.Contains($"{broken} : error OCB0002:", log);
        Assert.DoesNotContain("OCB2002", log);
    }

    [Fact]
    public void A_server_that_cannot_start_leaves_the_compressor_to_a_process_of_its_own()
    {
        string output = Path.Combine(project.Directory, "out", "digits.onnx");
        Dictionary<string, string> parameters = Parameters(new() { ["ProjectSettings"] = "Validate=false", ["UseServer"] = "true", ["ServerIdleTime"] = "3" });
        parameters["CompressorPath"] = TaskProject.TasksAssembly; // a library, not an app: dotnet runs neither the server nor the process

        (int exitCode, string log) = project.Run(parameters, models: [Model(RepositoryPaths.DigitsModel, output)], verbosity: "detailed");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Started the compressor's server", log);
        Assert.Contains("did not answer; the compressor runs in a process of its own", log);
        Assert.Contains("error OCB2002:", log);
    }

    private static Dictionary<string, string> Parameters(Dictionary<string, string> extra)
    {
        var parameters = new Dictionary<string, string> { ["CompressorPath"] = TaskProject.CompressorPath };
        foreach ((string name, string value) in extra)
        {
            parameters[name] = value;
        }

        return parameters;
    }

    /// <summary>A model item as the targets give it: the original, and where its outputs go.</summary>
    private static Dictionary<string, string> Model(string model, string output, bool report = false)
    {
        var item = new Dictionary<string, string>
        {
            ["Include"] = model,
            ["CompressedPath"] = output,
            ["SignaturePath"] = output + ".signature",
        };
        if (report)
        {
            item["ReportPath"] = output + ".report.json";
        }

        return item;
    }
}
