using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// The path a user takes: a new console app outside the repository references Compression.Build from a folder feed,
/// lists two models as OnnxModel items, builds, runs, builds again, changes one model's setting, and publishes.
/// </summary>
[Collection(PackageFeedCollection.Name)]
[Trait("Category", "Slow")]
public sealed class FreshAppTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private readonly PackageFeed feed;
    private readonly ITestOutputHelper log;

    public FreshAppTests(PackageFeed feed, ITestOutputHelper log)
    {
        this.feed = feed;
        this.log = log;
    }

    [Fact]
    public void Build_compresses_the_models_generates_classes_and_the_app_predicts_digits()
    {
        string app = CreateApp("FreshApp", sensorWeightThreshold: 1024);
        string bin = Path.Combine(app, "bin", "Debug", "net10.0");

        // 1. The first build compresses both models, validates them in ONNX Runtime (the library comes from the
        //    app's Microsoft.ML.OnnxRuntime package; no ONNXRUNTIME_LIBRARY_PATH), and compiles the generated classes.
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Assert.Matches(@"Models/digits\.onnx: compressed in \d+\.\ds; 341,444 -> ", build.Output);
        Assert.Contains("Models/sensor_fusion.onnx: compressed in ", build.Output);
        Assert.Contains($"validated in ONNX Runtime {PackageFeed.OnnxRuntimeVersion}", build.Output);
        Assert.DoesNotContain("warning CS", build.Output);

        var compressedDigits = new FileInfo(Path.Combine(bin, "Models", "digits.onnx"));
        Assert.True(compressedDigits.Exists, "the compressed model is in the output folder at the model's relative path");
        Assert.True(compressedDigits.Length <= 0.3 * new FileInfo(RepositoryPaths.DigitsModel).Length,
            $"the compressed digits model is {compressedDigits.Length} bytes, more than 0.3x the original");
        Assert.True(File.Exists(Path.Combine(bin, "Models", "sensor_fusion.onnx")));

        // 2. The app runs the compressed models through the generated classes. The digits model (the default form: its weights
        //    are under the dynamic threshold, folded to float at load) needs no session entries. The sensor model (StandardOps:
        //    DequantizeLinear) runs with session options of the app's own that carry an extra entry, and ONNX Runtime applies the entries the model needs: with
        //    them it folds the DequantizeLinear nodes away, without them it keeps them.
        ProcessResult run = Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run");
        AssertAppRan(run, PackageFeed.OnnxRuntimeVersion);

        // 3. A second build compresses nothing and leaves the compressed models as they were.
        DateTime compressedAt = File.GetLastWriteTimeUtc(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx"));
        ProcessResult rebuild = Dotnet(app, "build").ShouldSucceed("the second dotnet build");
        Assert.Contains("Models/digits.onnx: up to date", rebuild.Output);
        Assert.DoesNotContain("Models/digits.onnx: compressed in ", rebuild.Output);
        Assert.DoesNotContain("Models/sensor_fusion.onnx: compressed in ", rebuild.Output);
        Assert.Equal(compressedAt, File.GetLastWriteTimeUtc(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx")));

        // 4. A changed setting recompresses only that model: above its weights' sizes, nothing is quantized.
        WriteProject(app, "FreshApp", sensorWeightThreshold: 100_000);
        ProcessResult changed = Dotnet(app, "build").ShouldSucceed("the build after a setting changed");
        Assert.DoesNotContain("Models/digits.onnx: compressed in ", changed.Output);
        Assert.Contains("Models/sensor_fusion.onnx: compressed in ", changed.Output);
        Assert.Contains("warning OCB0201", changed.Output);

        // 5. Publishing puts the compressed models in the publish folder.
        string publish = Path.Combine(feed.Root, "publish");
        Dotnet(app, "publish", "-o", publish).ShouldSucceed("dotnet publish");
        Assert.Equal(compressedDigits.Length, new FileInfo(Path.Combine(publish, "Models", "digits.onnx")).Length);
    }

    [Fact]
    public void The_oldest_supported_ONNX_Runtime_builds_validates_and_runs_also_under_a_distribution_SDK_RID()
    {
        string app = CreateApp("OldestRuntimeApp", sensorWeightThreshold: 1024, onnxRuntimeVersion: PackageFeed.OldestOnnxRuntimeVersion);

        // A source-built SDK reports a distribution RID (debian.12-x64) that no package's runtimes/ folder has: the
        // targets look the native asset up under the SDK's portable RID.
        ProcessResult build = Dotnet(app, "build", "-p:NETCoreSdkRuntimeIdentifier=debian.12-x64", "-p:UseAppHost=false").ShouldSucceed("dotnet build");
        Assert.Contains($"validated in ONNX Runtime {PackageFeed.OldestOnnxRuntimeVersion}", build.Output);

        // Built without an app host: run the app's assembly with the dotnet host.
        ProcessResult run = Dotnet(app, Path.Combine("bin", "Debug", "net10.0", "OldestRuntimeApp.dll")).ShouldSucceed("dotnet OldestRuntimeApp.dll");
        AssertAppRan(run, PackageFeed.OldestOnnxRuntimeVersion);
    }

    [Fact]
    public void An_app_without_an_ONNX_Runtime_native_package_stops_with_OCB0100_before_compressing()
    {
        string app = CreateApp("NoRuntimeApp", sensorWeightThreshold: 1024, onnxRuntimeVersion: null);

        ProcessResult build = Dotnet(app, "build");

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains(Path.Combine(app, "Models", "digits.onnx") + " : error OCB0100:", build.Output);
        Assert.Contains("Microsoft.ML.OnnxRuntime", build.Output);
        Assert.Contains("OnnxValidate=false", build.Output);
        Assert.DoesNotContain("Models/digits.onnx: compressed in ", build.Output);
    }

    [Fact]
    public void Overrides_samples_and_gates_work_from_a_fresh_app_and_a_change_to_any_of_them_recompresses()
    {
        string app = CreateApp("SettingsApp", sensorWeightThreshold: 1024);
        string obj = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models");
        // Labelled samples as NumPy files, and an overrides file that leaves the first layer in float.
        string samples = Directory.CreateDirectory(Path.Combine(app, "samples")).FullName;
        (float[] pixels, long[] labels) = DigitsRows(64);
        NumPyWriter.Write<float>(Path.Combine(samples, "pixels.npy"), pixels, 64, 64);
        NumPyWriter.Write<long>(Path.Combine(samples, "labels.npy"), labels, 64);
        File.WriteAllText(Path.Combine(app, "digits.overrides.json"), """{ "nodes": { "fc1_matmul": "none" } }""");
        string project = Path.Combine(app, "SettingsApp.csproj");
        File.WriteAllText(project, File.ReadAllText(project)
            .Replace("<OnnxModel Include=\"Models/digits.onnx\" />",
                "<OnnxModel Include=\"Models/digits.onnx\" Overrides=\"digits.overrides.json\" ValidationData=\"samples\" MaxAccuracyDrop=\"1\" />"));

        // 1. The overrides file and the samples apply: fc1 stays float, accuracy is measured against the labels (the details
        //    of the validation come at normal verbosity, the accuracy on the model's one line at the default).
        ProcessResult build = Dotnet(app, "build", "-v:n").ShouldSucceed("dotnet build");
        Assert.Matches(@"Models/digits\.onnx: compressed in .+; validated in ONNX Runtime [\d.]+: cosine \S+, max abs error \S+, accuracy [\d.]+% -> [\d.]+%", build.Output);
        Assert.Contains("8-bit, folded to float at load: 2 MatMul weight tensors", build.Output);
        Assert.Contains("on 64 samples from " + samples, build.Output);
        Assert.Contains("labelled samples; gates: MaxAccuracyDrop met", build.Output);
        string report = File.ReadAllText(Path.Combine(obj, "digits.onnx.report.json"));
        Assert.Contains("\"Quantize=none (node 'fc1_matmul' in overrides file", report);
        Assert.Contains("\"source\": \"metadata MaxAccuracyDrop of OnnxModel 'Models/digits.onnx'\"", report);

        // 2. Nothing changed: nothing recompresses.
        Assert.DoesNotContain("Models/digits.onnx: compressed in ", Dotnet(app, "build").ShouldSucceed("the second build").Output);

        // 3. An edit to the overrides file recompresses the model.
        File.WriteAllText(Path.Combine(app, "digits.overrides.json"), """{ "nodes": { "fc1_matmul": "none", "fc2_matmul": "none" } }""");
        ProcessResult edited = Dotnet(app, "build").ShouldSucceed("the build after the overrides changed");
        Assert.Contains("8-bit, folded to float at load: 1 MatMul weight tensor", edited.Output);
        Assert.DoesNotContain("Models/sensor_fusion.onnx: compressed in ", edited.Output);
        Assert.DoesNotContain("Models/digits.onnx: compressed in ", Dotnet(app, "build").ShouldSucceed("the build after that").Output);

        // 4. A new file in the samples folder recompresses it too.
        NumPyWriter.Write<float>(Path.Combine(samples, "notes.npy"), new float[4], 4);
        Assert.Contains("Models/digits.onnx: compressed in ", Dotnet(app, "build").ShouldSucceed("the build after the samples changed").Output);

        // 5. A gate the model cannot meet fails the build with the figures and writes nothing; warn lets it through.
        DateTime before = File.GetLastWriteTimeUtc(Path.Combine(obj, "digits.onnx"));
        ProcessResult missed = Dotnet(app, "build", "-p:OnnxMinCosineSimilarity=1");
        Assert.NotEqual(0, missed.ExitCode);
        Assert.Contains(Path.Combine(app, "Models", "digits.onnx") + " : error OCB0104:", missed.Output);
        Assert.Contains("below MinCosineSimilarity=1 (project property OnnxMinCosineSimilarity)", missed.Output);
        Assert.Equal(before, File.GetLastWriteTimeUtc(Path.Combine(obj, "digits.onnx")));
        ProcessResult warned = Dotnet(app, "build", "-p:OnnxMinCosineSimilarity=1", "-p:OnnxCompressionGate=warn").ShouldSucceed("the build with CompressionGate=warn");
        Assert.Contains("warning OCB0202:", warned.Output);

        // 6. A bad value names the setting, where it came from, and the valid values.
        ProcessResult bad = Dotnet(app, "build", "-p:OnnxQuantize=int3");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("error OCB0003: Quantize='int3' (project property OnnxQuantize) is not a valid value. Valid values: int8, uint8, int4, uint4, fp16, none.", bad.Output);
    }

    [Fact]
    public void Pruning_clustering_and_channel_pruning_with_calibration_data_build_validate_and_run_from_a_fresh_app()
    {
        string app = CreateApp("SparseApp", sensorWeightThreshold: 1024);
        string obj = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models");
        // Calibration images from the digits' training split (no test image), labelled test rows to validate on.
        string calibration = Directory.CreateDirectory(Path.Combine(app, "calibration")).FullName;
        File.Copy(Path.Combine(RepositoryPaths.Root, "bench", "sparsity", "calibration", "pixels.npy"), Path.Combine(calibration, "pixels.npy"));
        string samples = Directory.CreateDirectory(Path.Combine(app, "samples")).FullName;
        (float[] pixels, long[] labels) = DigitsRows(120);
        NumPyWriter.Write<float>(Path.Combine(samples, "pixels.npy"), pixels, 120, 64);
        NumPyWriter.Write<long>(Path.Combine(samples, "labels.npy"), labels, 120);
        string project = Path.Combine(app, "SparseApp.csproj");
        string original = File.ReadAllText(project);
        void Digits(string metadata) => File.WriteAllText(project, original.Replace(
            "<OnnxModel Include=\"Models/digits.onnx\" />",
            $"<OnnxModel Include=\"Models/digits.onnx\" CalibrationData=\"calibration\" ValidationData=\"samples\" MaxAccuracyDrop=\"1.5\" {metadata} />"));

        // 1. Three quarters of the weights pruned by SparseGPT and the rest clustered to 16 values: the build line gives the
        //    zipped sizes, the gate on the labelled samples is met, and the app still reads the digits.
        Digits("Prune=\"0.75\" PruneCriterion=\"sparsegpt\" Cluster=\"4\"");
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Match line = Regex.Match(build.Output, @"Models/digits\.onnx: compressed in [^;]+; 341,444 -> ([\d,]+) bytes \([\d.]+x\), zipped ([\d,]+) -> ([\d,]+) \(([\d.]+)x\)");
        Assert.True(line.Success, "the digits model's build line gives raw and zipped sizes:\n" + build.Output);
        double zipped = double.Parse(line.Groups[4].Value, CultureInfo.InvariantCulture);
        Assert.True(zipped <= 0.1, $"pruned and clustered, the digits model zips to {zipped}x of the zipped original, more than 0.1x");
        string report = File.ReadAllText(Path.Combine(obj, "digits.onnx.report.json"));
        Assert.Contains("\"sparsity\": 0.75", report);
        Assert.Contains("\"Prune\"", report);
        ProcessResult run = Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run");
        double accuracy = double.Parse(Line(run.Output, "digits accuracy: "), CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy} of the pruned and clustered model is below 0.95:\n{run.Output}");

        // 2. Half the hidden neurons removed and the next layers refit: the file holds fewer weights, the generated class is
        //    the same, and the app reads the digits as well.
        Digits("PrunePattern=\"channel\" Prune=\"0.5\" Quantize=\"none\"");
        ProcessResult channels = Dotnet(app, "build").ShouldSucceed("the build with channel pruning");
        Assert.Contains("Models/digits.onnx: compressed in ", channels.Output);
        long prunedBytes = new FileInfo(Path.Combine(obj, "digits.onnx")).Length;
        Assert.True(prunedBytes < 0.5 * new FileInfo(RepositoryPaths.DigitsModel).Length,
            $"with half the hidden neurons gone the float model is {prunedBytes} bytes, not under half the original");
        run = Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run after channel pruning");
        accuracy = double.Parse(Line(run.Output, "digits accuracy: "), CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy} of the channel-pruned model is below 0.95:\n{run.Output}");

        // 3. A criterion that learns from activations, for a model without calibration data, is an error that says what to give.
        ProcessResult missing = Dotnet(app, "build", "-p:OnnxPrune=0.5", "-p:OnnxPruneCriterion=wanda");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains(Path.Combine(app, "Models", "sensor_fusion.onnx") + " : error OCB0003:", missing.Output);
        Assert.Contains("CalibrationData", missing.Output);
    }

    [Fact]
    public void Compress_auto_searches_within_the_default_budget_the_choice_pins_byte_identical_and_a_new_budget_reuses_the_sensitivity_table()
    {
        string app = CreateApp("SearchApp", sensorWeightThreshold: 1024);
        string compressed = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx");
        string cache = Path.Combine(app, "cache");
        // Labelled samples, the first half of the test rows, for validation and calibration; the app reads the other half.
        string samples = Directory.CreateDirectory(Path.Combine(app, "samples")).FullName;
        (float[] pixels, long[] labels) = DigitsRows(SearchSampleRows);
        NumPyWriter.Write<float>(Path.Combine(samples, "pixels.npy"), pixels, SearchSampleRows, 64);
        NumPyWriter.Write<long>(Path.Combine(samples, "labels.npy"), labels, SearchSampleRows);
        File.WriteAllText(Path.Combine(app, "Program.cs"), SearchProgramSource);
        string project = Path.Combine(app, "SearchApp.csproj");
        void Digits(string metadata) => File.WriteAllText(project, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <RootNamespace>FreshApp</RootNamespace>
                <OnnxCompressionCacheDir>cache</OnnxCompressionCacheDir>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Compression.Build" Version="{feed.Version}" />
                <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="{PackageFeed.OnnxRuntimeVersion}" />
              </ItemGroup>
              <ItemGroup>
                <OnnxModel Include="Models/digits.onnx" ValidationData="samples" CalibrationData="samples" {metadata} />
                <None Include="Models/digits.onnx" Link="Models/original/digits.onnx" CopyToOutputDirectory="PreserveNewest" />
                <None Include="digits-test.csv" CopyToOutputDirectory="PreserveNewest" />
              </ItemGroup>
            </Project>
            """);

        // 1. Compress="auto" and no gate: the search keeps the budget it adds for labelled samples, MaxAccuracyDrop=1, and
        //    the choice it keeps passed it in ONNX Runtime.
        Digits("Compress=\"auto\"");
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build with Compress=auto");
        Assert.Contains("Models/digits.onnx: compressed in ", build.Output);
        string reportPath = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx.report.json");
        string overrides;
        using (var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(reportPath)))
        {
            System.Text.Json.JsonElement search = report.RootElement.GetProperty("search");
            System.Text.Json.JsonElement budget = Assert.Single(search.GetProperty("budget").EnumerateArray());
            Assert.Equal("MaxAccuracyDrop", budget.GetProperty("gate").GetString());
            Assert.Equal(1, budget.GetProperty("limit").GetDouble());
            Assert.Equal("the default budget of Compress=auto", budget.GetProperty("source").GetString());
            int chosen = search.GetProperty("chosen").GetInt32();
            System.Text.Json.JsonElement[] trials = [.. search.GetProperty("trials").EnumerateArray()];
            Assert.True(chosen >= 0 && chosen < trials.Length, $"the search kept trial {chosen} of {trials.Length}:\n{search}");
            Assert.True(trials[chosen].GetProperty("passed").GetBoolean(), $"the kept trial did not pass:\n{trials[chosen]}");
            Assert.Contains(search.GetProperty("layers").EnumerateArray(), layer => layer.GetProperty("chosen").GetString() != "none");
            overrides = search.GetProperty("overrides").GetString()!;
            Assert.Contains("\"nodes\"", overrides);
        }

        byte[] searched = File.ReadAllBytes(compressed);
        long original = new FileInfo(RepositoryPaths.DigitsModel).Length;
        log.WriteLine($"the searched model: {searched.Length} bytes, the original {original}");
        Assert.True(searched.Length < original, $"the searched model is {searched.Length} bytes, not smaller than the original's {original}");

        // The build wrote the choice as an overrides file beside the report, and said where with the default terminal logger.
        string searchFile = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx.search.json");
        Assert.Equal(overrides, File.ReadAllText(searchFile));
        Assert.Contains("the budget search's choice is in", build.Output);

        // 2. The app runs the generated class on the held-back rows: the searched model reads the digits about as well as the original.
        ProcessResult run = Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run");
        double searchedAccuracy = double.Parse(Line(run.Output, "compressed accuracy: "), CultureInfo.InvariantCulture);
        double originalAccuracy = double.Parse(Line(run.Output, "original accuracy: "), CultureInfo.InvariantCulture);
        log.WriteLine($"held-back rows: accuracy {originalAccuracy:F4} original, {searchedAccuracy:F4} searched");
        Assert.True(searchedAccuracy >= originalAccuracy - 0.03,
            $"on the held-back rows the searched model's accuracy {searchedAccuracy} is more than 3 points below the original's {originalAccuracy}:\n{run.Output}");

        // 3. The choice pinned: Compress="manual" with the search's overrides file gives the same bytes.
        File.Copy(searchFile, Path.Combine(app, "digits.search.json"));
        Digits("Compress=\"manual\" Overrides=\"digits.search.json\"");
        ProcessResult pinned = Dotnet(app, "build").ShouldSucceed("the build pinned by the search's overrides file");
        Assert.Contains("Models/digits.onnx: compressed in ", pinned.Output);
        Assert.True(searched.AsSpan().SequenceEqual(File.ReadAllBytes(compressed)), "the model built with the search's overrides file differs from the searched one");

        // 4. Another budget searches again from the sensitivity table in the cache: the table is neither scored nor written again.
        string table = Assert.Single(Directory.GetFiles(cache, "search-*.json"));
        byte[] tableBytes = File.ReadAllBytes(table);
        DateTime tableWritten = File.GetLastWriteTimeUtc(table);
        Digits("Compress=\"auto\" MaxAccuracyDrop=\"0.5\"");
        ProcessResult rebudgeted = Dotnet(app, "build").ShouldSucceed("the build with MaxAccuracyDrop=0.5");
        Assert.Contains("Models/digits.onnx: compressed in ", rebudgeted.Output);
        Assert.Equal(table, Assert.Single(Directory.GetFiles(cache, "search-*.json")));
        Assert.True(tableBytes.AsSpan().SequenceEqual(File.ReadAllBytes(table)), "the sensitivity table was written again");
        Assert.Equal(tableWritten, File.GetLastWriteTimeUtc(table));
        using (var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(reportPath)))
        {
            System.Text.Json.JsonElement budget = Assert.Single(report.RootElement.GetProperty("search").GetProperty("budget").EnumerateArray());
            Assert.Equal("MaxAccuracyDrop", budget.GetProperty("gate").GetString());
            Assert.Equal(0.5, budget.GetProperty("limit").GetDouble());
        }
    }

    /// <summary>The labelled test rows the search validates on; the app reads the rows after them.</summary>
    private const int SearchSampleRows = 180;

    private const string SearchProgramSource = """
        using System.Globalization;
        using Microsoft.ML.OnnxRuntime;
        using FreshApp;

        // The held-back rows: the build validated on the first 180.
        string[] rows = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "digits-test.csv")).Skip(1 + 180).ToArray();
        var pixels = new float[rows.Length * 64];
        var labels = new int[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            float[] fields = rows[r].Split(',').Select(f => float.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            labels[r] = (int)fields[0];
            fields.AsSpan(1).CopyTo(pixels.AsSpan(r * 64, 64));
        }

        using (var compressed = new Digits())
        {
            Console.WriteLine("compressed accuracy: " + Accuracy(compressed));
        }

        using (var options = new SessionOptions())
        using (var original = new Digits(Path.Combine(AppContext.BaseDirectory, "Models", "original", "digits.onnx"), options))
        {
            Console.WriteLine("original accuracy: " + Accuracy(original));
        }

        string Accuracy(Digits digits)
        {
            using Digits.Outputs outputs = digits.Run(pixels);
            ReadOnlySpan<float> logits = outputs.Logits.GetTensorDataAsSpan<float>();
            int correct = 0;
            for (int r = 0; r < rows.Length; r++)
            {
                ReadOnlySpan<float> scores = logits.Slice(r * 10, 10);
                int best = 0;
                for (int d = 1; d < 10; d++) { if (scores[d] > scores[best]) { best = d; } }
                correct += best == labels[r] ? 1 : 0;
            }

            return ((double)correct / rows.Length).ToString("F4", CultureInfo.InvariantCulture);
        }
        """;

    [Fact]
    public void The_compressor_tool_package_installs_and_runs()
    {
        string tools = Path.Combine(feed.Root, "tools");
        Dotnet(feed.Root, "tool", "install", "Compression.Cli", "--version", feed.CliVersion, "--tool-path", tools, "--add-source", feed.FeedDirectory)
            .ShouldSucceed("dotnet tool install");
        string output = Path.Combine(feed.Root, "tool-output", "digits.onnx");
        ProcessResult help = Run(Path.Combine(tools, "onnx-compress"), "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--quantize", help.Output);
        Assert.Contains("--validation-timeout", help.Output);
        Assert.NotEmpty(Directory.GetFiles(tools, "onnx-compress-worker.runtimeconfig.json", SearchOption.AllDirectories));

        ProcessResult compress = Run(Path.Combine(tools, "onnx-compress"), RepositoryPaths.DigitsModel, "-o", output, "--no-validate");
        Assert.True(compress.ExitCode == 0, compress.Output);
        Assert.True(new FileInfo(output).Length <= 0.3 * new FileInfo(RepositoryPaths.DigitsModel).Length);
    }

    [Fact]
    public void The_build_package_holds_the_targets_task_generator_and_one_copy_of_the_compressor()
    {
        using var package = System.IO.Compression.ZipFile.OpenRead(feed.PackagePath("Compression.Build", feed.Version));
        string[] entries = package.Entries.Select(e => e.FullName).ToArray();

        Assert.Contains("build/Compression.Build.props", entries);
        Assert.Contains("build/Compression.Build.targets", entries);
        Assert.Contains("tasks/netstandard2.0/Compression.Build.Tasks.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/Compression.Build.Generator.dll", entries);
        Assert.Contains("tools/net8.0/any/onnx-compress.dll", entries);
        Assert.Contains("tools/net8.0/any/onnx-compress.runtimeconfig.json", entries);
        // The process ONNX Runtime runs the models in, beside Compression.Core.dll.
        Assert.Contains("tools/net8.0/any/onnx-compress-worker.dll", entries);
        Assert.Contains("tools/net8.0/any/onnx-compress-worker.runtimeconfig.json", entries);
        Assert.Contains("tools/net8.0/any/Microsoft.ML.OnnxRuntime.dll", entries);
        Assert.DoesNotContain(entries, e => e.Contains("libonnxruntime", StringComparison.Ordinal) || e.EndsWith("onnxruntime.dll", StringComparison.Ordinal));
        string nuspec = new StreamReader(package.GetEntry("Compression.Build.nuspec")!.Open()).ReadToEnd();
        Assert.Contains($"<dependency id=\"Microsoft.ML.OnnxRuntime.Managed\" version=\"{PackageFeed.OldestOnnxRuntimeVersion}\"", nuspec);
        Assert.DoesNotContain("Compression.Runtime", nuspec);
        Assert.DoesNotContain(entries, e => e.StartsWith("tools/net8.0/any/publish/", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.EndsWith(".resources.dll", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal));
        Assert.Equal(entries.Length, entries.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void A_model_with_external_data_is_built_with_its_data_file_beside_it_and_the_app_runs_it()
    {
        string app = CreateApp("ExternalDataApp", sensorWeightThreshold: 1024);
        string bin = Path.Combine(app, "bin", "Debug", "net10.0");
        // The digits model as large exports write a model: its weights in a data file beside it.
        var model = Compression.Onnx.OnnxModelFile.Load(RepositoryPaths.DigitsModel);
        using (var data = new FileStream(Path.Combine(app, "Models", "digits.weights"), FileMode.Create))
        {
            foreach (var tensor in model.Graph.Initializer.Where(t => t.RawData.Length >= 4096))
            {
                long offset = data.Position;
                data.Write(tensor.RawData.Span);
                new Compression.Onnx.ExternalDataReference("digits.weights", offset, tensor.RawData.Length).ApplyTo(tensor);
            }
        }

        Compression.Onnx.OnnxModelFile.Save(model, Path.Combine(app, "Models", "digits.onnx"));

        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Assert.Contains("note: The weights are in 'digits.onnx.data' beside the model", build.Output);
        Assert.True(File.Exists(Path.Combine(bin, "Models", "digits.onnx.data")), "the data file is copied beside the compressed model");
        Assert.Equal(new FileInfo(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx.data")).Length,
            new FileInfo(Path.Combine(bin, "Models", "digits.onnx.data")).Length);
        AssertAppRan(Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run"), PackageFeed.OnnxRuntimeVersion);

        string publish = Path.Combine(feed.Root, "publish-external");
        Dotnet(app, "publish", "-o", publish).ShouldSucceed("dotnet publish");
        Assert.True(File.Exists(Path.Combine(publish, "Models", "digits.onnx.data")), "the data file is published beside the compressed model");
    }

    [Fact]
    public void A_project_that_copies_its_onnx_files_ships_only_the_compressed_models_and_its_hooks_run_around_the_compressions()
    {
        // The usual way ONNX files reach bin/ before this package: the originals marked to be copied.
        string app = CreateApp("CopiesModelsApp", sensorWeightThreshold: 1024);
        string project = Path.Combine(app, "CopiesModelsApp.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>", """
              <ItemGroup>
                <None Update="Models/*.onnx" CopyToOutputDirectory="PreserveNewest" CopyToPublishDirectory="PreserveNewest" />
                <Content Include="Models/sensor_fusion.onnx" CopyToOutputDirectory="Always" />
                <None Include="Models/digits.onnx" Link="Models/original/digits.onnx" CopyToOutputDirectory="PreserveNewest" />
              </ItemGroup>
              <Target Name="ShowModelsBefore" AfterTargets="OnnxBeforeCompress">
                <Message Importance="high" Text="hook before: @(OnnxCompressedModel->'%(TargetPath)')" />
              </Target>
              <Target Name="ShowModelsAfter" AfterTargets="OnnxAfterCompress">
                <Message Importance="high" Text="hook after: %(OnnxCompressedModel.TargetPath) report exists=$([System.IO.File]::Exists('%(OnnxCompressedModel.ReportPath)'))" />
              </Target>
            </Project>
            """, StringComparison.Ordinal));
        string compressed = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx");

        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Assert.Equal(File.ReadAllBytes(compressed), File.ReadAllBytes(Path.Combine(app, "bin", "Debug", "net10.0", "Models", "digits.onnx")));
        // An original copied to another path on purpose (to compare against) is still copied.
        Assert.Equal(File.ReadAllBytes(RepositoryPaths.DigitsModel), File.ReadAllBytes(Path.Combine(app, "bin", "Debug", "net10.0", "Models", "original", "digits.onnx")));

        // The extension points run before the first compression and after the last, with the models' paths.
        string sep = Path.DirectorySeparatorChar.ToString();
        int before = build.Output.IndexOf($"hook before: Models{sep}digits.onnx;Models{sep}sensor_fusion.onnx", StringComparison.Ordinal);
        int compressedLine = build.Output.IndexOf("Models/digits.onnx: compressed in ", StringComparison.Ordinal);
        int after = build.Output.IndexOf($"hook after: Models{sep}digits.onnx report exists=True", StringComparison.Ordinal);
        Assert.True(before >= 0 && compressedLine > before && after > compressedLine, build.Output);
        Assert.Contains($"hook after: Models{sep}sensor_fusion.onnx report exists=True", build.Output);
        Assert.Equal(File.ReadAllBytes(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "sensor_fusion.onnx")),
            File.ReadAllBytes(Path.Combine(app, "bin", "Debug", "net10.0", "Models", "sensor_fusion.onnx")));

        // Publishing finds one file per path (no NETSDK1152) and it is the compressed one.
        string publish = Path.Combine(feed.Root, "publish-copies");
        Dotnet(app, "publish", "-o", publish).ShouldSucceed("dotnet publish");
        Assert.Equal(File.ReadAllBytes(compressed), File.ReadAllBytes(Path.Combine(publish, "Models", "digits.onnx")));
    }

    [Fact]
    public void A_design_time_build_compresses_nothing_and_still_gives_the_generated_classes()
    {
        string app = CreateApp("DesignTimeApp", sensorWeightThreshold: 1024);
        string onnx = Path.Combine(app, "obj", "Debug", "net10.0", "onnx");

        // What an IDE runs for IntelliSense: the compile targets with DesignTimeBuild=true. Here the compiler runs too, so the
        // generated classes that Program.cs uses must exist.
        ProcessResult designTime = Dotnet(app, "build", "-t:Compile", "-p:DesignTimeBuild=true").ShouldSucceed("a design-time build");
        Assert.DoesNotContain("Models/digits.onnx: compressed in ", designTime.Output);
        Assert.False(File.Exists(Path.Combine(onnx, "Models", "digits.onnx")), "a design-time build compresses nothing");
        Assert.False(File.Exists(Path.Combine(onnx, "Models", "digits.onnx.signature")), "nor writes the compressed set's signature");
        string interfaceOnly = File.ReadAllText(Path.Combine(onnx, "designtime", "Models", "digits.onnx.signature"));
        Assert.Contains("not compressed yet", interfaceOnly, StringComparison.Ordinal);

        // The next real build compresses as if the design-time build had not happened, and the app runs.
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Assert.Contains("Models/digits.onnx: compressed in ", build.Output);
        AssertAppRan(Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run"), PackageFeed.OnnxRuntimeVersion);

        // A design-time build after it reads the compressed model's signature and writes nothing.
        DateTime compressedAt = File.GetLastWriteTimeUtc(Path.Combine(onnx, "Models", "digits.onnx"));
        Dotnet(app, "build", "-t:Compile", "-p:DesignTimeBuild=true").ShouldSucceed("a design-time build after a build");
        Assert.Equal(compressedAt, File.GetLastWriteTimeUtc(Path.Combine(onnx, "Models", "digits.onnx")));
    }

    [Fact]
    public void The_build_says_one_line_per_model_and_each_note_once_with_the_console_logger_and_the_terminal_logger()
    {
        // Three models, two of them in the standard DequantizeLinear form, whose session entry the compressor notes for each;
        // and a wildcard that matches nothing.
        string app = CreateApp("OutputApp", sensorWeightThreshold: 1024);
        Directory.CreateDirectory(Path.Combine(app, "Models", "std"));
        File.Copy(RepositoryPaths.DigitsModel, Path.Combine(app, "Models", "std", "digits_std.onnx"));
        string project = Path.Combine(app, "OutputApp.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace("</Project>", """
              <ItemGroup>
                <OnnxModel Include="Models/std/digits_std.onnx" StandardOps="true" />
                <OnnxModel Include="Missing/*.onnx" />
              </ItemGroup>
            </Project>
            """, StringComparison.Ordinal));
        string[] models = ["Models/digits.onnx", "Models/sensor_fusion.onnx", "Models/std/digits_std.onnx"];
        string onnx = Path.Combine(app, "obj", "Debug", "net10.0", "onnx");

        // The console logger (what a redirected or CI build uses) at its default verbosity.
        ProcessResult build = Dotnet(app, "build", "-tl:off").ShouldSucceed("dotnet build -tl:off");
        AssertOneLinePerModel(build.Output, models, "compressed in ");
        Assert.Matches($@"{Regex.Escape(project)}\(\d+,\d+\): warning OCB2008: The OnnxModel pattern 'Missing/\*\.onnx' in project 'OutputApp\.csproj' matches no file", build.Output);
        ProcessResult rebuild = Dotnet(app, "build", "-tl:off").ShouldSucceed("dotnet build -tl:off, again");
        AssertOneLinePerModel(rebuild.Output, models, "up to date");
        Assert.DoesNotContain(" compressed in ", rebuild.Output);

        // The terminal logger, in a pseudo-terminal as in an interactive shell. It shows high-importance messages from
        // -v:detailed only (below that, only warnings and errors), and there only the high-importance lines.
        // (The compressed models and the compression cache removed, so that the models are compressed again.)
        Directory.Delete(onnx, recursive: true);
        Directory.Delete(Path.Combine(app, "obj", "onnx-cache"), recursive: true);
        string terminal = DotNet.WithoutTerminalCodes(DotnetInTerminal(app, "build", "-tl:on", "-v:d").ShouldSucceed("dotnet build -tl:on -v:d").Output);
        AssertOneLinePerModel(terminal, models, "compressed in ");
        Assert.Contains("warning OCB2008", terminal);
        string upToDate = DotNet.WithoutTerminalCodes(DotnetInTerminal(app, "build", "-tl:on", "-v:d").ShouldSucceed("dotnet build -tl:on -v:d, again").Output);
        AssertOneLinePerModel(upToDate, models, "up to date");

        // At its default verbosity it builds, and still shows the warning.
        string quiet = DotNet.WithoutTerminalCodes(DotnetInTerminal(app, "build", "-tl:on").ShouldSucceed("dotnet build -tl:on").Output);
        Assert.Contains("warning OCB2008", quiet);

        static void AssertOneLinePerModel(string output, string[] models, string what)
        {
            string[] lines = output.Split('\n');
            foreach (string model in models)
            {
                Assert.True(lines.Count(l => l.Contains($"{model}: {what}", StringComparison.Ordinal)) == 1, $"one '{model}: {what}' line in:\n{output}");
            }

            // Compressed models: the size, ratio and the evaluator's figures on the same line.
            Assert.All(lines.Where(l => l.Contains(": compressed in ", StringComparison.Ordinal)), l =>
                Assert.Matches(@"compressed in \d+\.\ds; [\d,]+ -> [\d,]+ bytes \(\d\.\d\dx\), zipped [\d,]+ -> [\d,]+ \(\d\.\d\dx\); .+; validated in ONNX Runtime [\d.]+: cosine \d\.\d+", l));
            int notes = lines.Count(l => l.Contains("session.disable_quant_qdq", StringComparison.Ordinal));
            Assert.True(notes == (what == "up to date" ? 0 : 1), $"{notes} lines with the session entry's note in:\n{output}");
        }
    }

    [Fact]
    public void Two_models_with_the_same_file_name_stop_the_build_before_any_compression_and_the_suggested_ClassName_fixes_it()
    {
        string app = CreateApp("SameNameApp", sensorWeightThreshold: 1024);
        Directory.CreateDirectory(Path.Combine(app, "Models", "b"));
        File.Copy(RepositoryPaths.DigitsModel, Path.Combine(app, "Models", "b", "digits.onnx"));
        string project = Path.Combine(app, "SameNameApp.csproj");
        string withBoth = File.ReadAllText(project).Replace("</Project>", """
              <ItemGroup>
                <OnnxModel Include="Models/b/digits.onnx" />
              </ItemGroup>
            </Project>
            """, StringComparison.Ordinal);
        File.WriteAllText(project, withBoth);

        ProcessResult build = Dotnet(app, "build", "-tl:off");
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains($"{project} : error OCB2007: The OnnxModel items 'Models/digits.onnx' and 'Models/b/digits.onnx' would both generate the class 'FreshApp.Digits'.", build.Output);
        Assert.DoesNotContain("OCB1004", build.Output);
        string onnx = Path.Combine(app, "obj", "Debug", "net10.0", "onnx");
        Assert.False(Directory.Exists(onnx) && Directory.EnumerateFiles(onnx, "*.onnx", SearchOption.AllDirectories).Any(), "no model was compressed");

        // The fix the error suggests, as it says it.
        string fix = Regex.Match(build.Output, "such as (<OnnxModel Update=\"Models/b/digits.onnx\" ClassName=\"\\w+\" />)").Groups[1].Value;
        Assert.Equal("<OnnxModel Update=\"Models/b/digits.onnx\" ClassName=\"BDigits\" />", fix);
        File.WriteAllText(project, withBoth.Replace("</Project>", $"<ItemGroup>{fix}</ItemGroup></Project>", StringComparison.Ordinal));
        ProcessResult fixedBuild = Dotnet(app, "build", "-tl:off").ShouldSucceed("the build with the suggested ClassName");
        Assert.Contains("Models/b/digits.onnx: compressed in ", fixedBuild.Output);
    }

    [Fact]
    public void An_embedded_model_is_loaded_from_the_assembly_and_the_generated_API_builds_clean_under_the_trim_and_AOT_analyzers()
    {
        // OnnxEmbed embeds every model; the sensor model opts out with its metadata and stays beside the app.
        string app = CreateApp("EmbedApp", sensorWeightThreshold: 1024);
        string project = Path.Combine(app, "EmbedApp.csproj");
        File.WriteAllText(project, File.ReadAllText(project)
            .Replace("<RootNamespace>FreshApp</RootNamespace>",
                "<RootNamespace>FreshApp</RootNamespace><OnnxEmbed>true</OnnxEmbed><EnableTrimAnalyzer>true</EnableTrimAnalyzer><EnableAotAnalyzer>true</EnableAotAnalyzer><EnableSingleFileAnalyzer>true</EnableSingleFileAnalyzer>", StringComparison.Ordinal)
            .Replace("StandardOps=\"true\" />", "StandardOps=\"true\" Embed=\"false\" />", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(app, "Program.cs"), EmbedProgramSource);
        string bin = Path.Combine(app, "bin", "Debug", "net10.0");

        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Assert.DoesNotContain("warning CS", build.Output);
        Assert.DoesNotContain("warning IL", build.Output);
        Assert.False(File.Exists(Path.Combine(bin, "Models", "digits.onnx")), "an embedded model is not copied to the output folder");
        Assert.True(File.Exists(Path.Combine(bin, "Models", "sensor_fusion.onnx")), "a model with Embed=\"false\" is");

        ProcessResult run = Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run");
        Assert.Equal("Compression.Build/Models/digits.onnx", Line(run.Output, "resources: "));
        Assert.Equal(
            new FileInfo(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx")).Length.ToString(CultureInfo.InvariantCulture),
            Line(run.Output, "resource bytes: "));
        double accuracy = double.Parse(Line(run.Output, "digits accuracy: "), CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy} on the held-out digits is below 0.95:\n{run.Output}");
        Assert.Equal("True", Line(run.Output, "batch matches run: "));
        Assert.Equal("[2, 3]", Line(run.Output, "sensor scores shape: "));

        string publish = Path.Combine(feed.Root, "publish-embed");
        Dotnet(app, "publish", "-o", publish).ShouldSucceed("dotnet publish");
        Assert.False(File.Exists(Path.Combine(publish, "Models", "digits.onnx")), "an embedded model is not published as a file");
        Assert.True(File.Exists(Path.Combine(publish, "Models", "sensor_fusion.onnx")));
    }

    private const string EmbedProgramSource = """
        using System.Globalization;
        using FreshApp;

        string[] rows = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "digits-test.csv")).Skip(1).ToArray();
        var samples = new List<float[]>();
        var labels = new int[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            float[] fields = rows[r].Split(',').Select(f => float.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            labels[r] = (int)fields[0];
            samples.Add(fields[1..]);
        }

        Console.WriteLine("resources: " + string.Join(", ", typeof(Digits).Assembly.GetManifestResourceNames()));
        using (Stream resource = typeof(Digits).Assembly.GetManifestResourceStream(Digits.ModelResourceName)!)
        {
            Console.WriteLine("resource bytes: " + resource.Length);
        }

        using var digits = new Digits();
        using Digits.Outputs outputs = digits.RunBatch(samples);
        Digits.TensorView<float> logits = outputs.LogitsView;
        int correct = 0;
        for (int r = 0; r < rows.Length; r++)
        {
            int best = 0;
            for (int d = 1; d < 10; d++) { if (logits[r, d] > logits[r, best]) { best = d; } }
            correct += best == labels[r] ? 1 : 0;
        }

        Console.WriteLine("digits accuracy: " + ((double)correct / rows.Length).ToString("F4", CultureInfo.InvariantCulture));
        using (Digits.Outputs first = digits.Run(samples[0]))
        {
            Console.WriteLine("batch matches run: " + first.LogitsView.Span.SequenceEqual(logits.Slice(0).Span));
        }

        using var fusion = new SensorFusion();
        using (SensorFusion.Outputs result = fusion.Run(new float[2 * 64], new float[2 * 16]))
        {
            Console.WriteLine("sensor scores shape: [" + string.Join(", ", result.ScoresShape.ToArray()) + "]");
        }
        """;

    [Fact]
    public void Two_target_frameworks_and_a_Release_build_compress_each_model_once_and_the_rest_come_from_the_cache()
    {
        string app = CreateApp("MultiTargetApp", sensorWeightThreshold: 1024);
        string project = Path.Combine(app, "MultiTargetApp.csproj");
        File.WriteAllText(project, File.ReadAllText(project).Replace(
            "<TargetFramework>net10.0</TargetFramework>", "<TargetFrameworks>net8.0;net10.0</TargetFrameworks><LangVersion>latest</LangVersion>", StringComparison.Ordinal));

        // The two target frameworks build in parallel: one compresses each model, the other waits for it and restores.
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build of two target frameworks");
        foreach (string model in new[] { "Models/digits.onnx", "Models/sensor_fusion.onnx" })
        {
            string[] summaries = SummaryLines(build.Output, model);
            Assert.True(summaries.Length == 2, build.Output);
            Assert.Single(summaries, l => l.Contains(": from cache in ", StringComparison.Ordinal));
        }

        // A Release build compresses nothing: every model comes from the cache in obj/, shared by all configurations.
        ProcessResult release = Dotnet(app, "build", "-c", "Release", "-f", "net10.0").ShouldSucceed("dotnet build -c Release");
        Assert.All(new[] { "Models/digits.onnx", "Models/sensor_fusion.onnx" }, model =>
            Assert.Contains(": from cache in ", Assert.Single(SummaryLines(release.Output, model)), StringComparison.Ordinal));
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(app, "obj", "onnx-cache")).Length);

        // Every output is the same bytes, whichever build compressed it.
        string reference = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models");
        foreach (string other in new[] { Path.Combine(app, "obj", "Debug", "net8.0", "onnx", "Models"), Path.Combine(app, "obj", "Release", "net10.0", "onnx", "Models") })
        {
            foreach (string name in new[] { "digits.onnx", "digits.onnx.signature", "digits.onnx.report.json", "sensor_fusion.onnx", "sensor_fusion.onnx.signature", "sensor_fusion.onnx.report.json" })
            {
                Assert.True(File.ReadAllBytes(Path.Combine(reference, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(other, name))), $"{other}/{name} differs");
            }
        }

        Assert.Equal(File.ReadAllBytes(Path.Combine(app, "bin", "Debug", "net8.0", "Models", "digits.onnx")), File.ReadAllBytes(Path.Combine(app, "bin", "Debug", "net10.0", "Models", "digits.onnx")));
        AssertAppRan(Dotnet(app, "run", "--no-build", "-f", "net10.0").ShouldSucceed("dotnet run"), PackageFeed.OnnxRuntimeVersion);
    }

    [Fact]
    public void A_broken_model_fails_the_build_with_a_code_and_the_model_path()
    {
        string app = CreateApp("BrokenModelApp", sensorWeightThreshold: 1024);
        File.WriteAllText(Path.Combine(app, "Models", "digits.onnx"), "this is not an ONNX model");

        ProcessResult build = Dotnet(app, "build");

        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains(Path.Combine(app, "Models", "digits.onnx") + " : error OCB0002:", build.Output);
        Assert.False(File.Exists(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx")), "nothing is written for the broken model");
    }

    [ChromiumFact]
    public void The_HTML_report_covers_both_models_draws_their_charts_in_Chromium_and_references_nothing_external()
    {
        string app = CreateApp("ReportApp", sensorWeightThreshold: 1024);
        string page = Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "report.html");

        // 1. The build writes one page for both models after compressing them, and prints its path once.
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Assert.Single(build.Output.Split('\n'), line => line.Trim() == $"Compression report: {page}");
        string html = File.ReadAllText(page);
        foreach (string external in new[] { "<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import", "http:", "https:" })
        {
            Assert.DoesNotContain(external, html, StringComparison.OrdinalIgnoreCase);
        }

        // 2. Chromium lays out, for each model, a bar before and after for every weight tensor of its report, and the
        //    bits-per-weight and sparsity bars; the quantized tensors' bars have a width, and their after bar is shorter.
        IReadOnlyList<RenderedSection> sections = HeadlessChromium.MeasureBars(page, feed.Root, log.WriteLine);
        Assert.Equal(["Models/digits.onnx", "Models/sensor_fusion.onnx"], sections.Select(s => s.Source));
        foreach (RenderedSection section in sections)
        {
            string report = File.ReadAllText(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", section.Source + ".report.json"));
            using var json = System.Text.Json.JsonDocument.Parse(report);
            string[] quantized = [.. json.RootElement.GetProperty("passes")[0].GetProperty("changed").EnumerateArray().Select(c => c.GetProperty("name").GetString()!)];
            Assert.NotEmpty(quantized);
            foreach (string tensor in quantized)
            {
                RenderedBar before = Assert.Single(section.Bars, b => b.Chart == "size-chart" && b.Tensor == tensor && b.Class == "bar before");
                RenderedBar after = Assert.Single(section.Bars, b => b.Chart == "size-chart" && b.Tensor == tensor && b.Class == "bar after");
                RenderedBar bits = Assert.Single(section.Bars, b => b.Chart == "bits-chart" && b.Tensor == tensor && b.Class == "bar bits");
                Assert.Single(section.Bars, b => b.Chart == "bits-chart" && b.Tensor == tensor && b.Class == "bar sparsity");
                Assert.All(new[] { before, after, bits }, b => Assert.True(b.Width > 0 && b.Height > 0, $"{section.Source}: the {b.Class} bar of {tensor} is drawn {b.Width} x {b.Height}."));
                Assert.True(after.Width < before.Width, $"{section.Source}: {tensor} is drawn {after.Width} px after, not shorter than {before.Width} px before.");
            }
        }

        // 3. Nothing changed: the page is not written again, and its path is still printed once.
        DateTime writtenAt = File.GetLastWriteTimeUtc(page);
        ProcessResult rebuild = Dotnet(app, "build").ShouldSucceed("the second dotnet build");
        Assert.Single(rebuild.Output.Split('\n'), line => line.Trim() == $"Compression report: {page}");
        Assert.Equal(writtenAt, File.GetLastWriteTimeUtc(page));

        // 4. OnnxHtmlReport=false: no page, no line.
        File.Delete(page);
        ProcessResult off = Dotnet(app, "build", "-p:OnnxHtmlReport=false").ShouldSucceed("the build with OnnxHtmlReport=false");
        Assert.DoesNotContain("Compression report:", off.Output);
        Assert.False(File.Exists(page));
    }

    private static (float[] Pixels, long[] Labels) DigitsRows(int rows)
    {
        string[] lines = File.ReadAllLines(RepositoryPaths.DigitsTestData).Skip(1).Take(rows).ToArray();
        var pixels = new float[rows * 64];
        var labels = new long[rows];
        for (int r = 0; r < rows; r++)
        {
            float[] fields = lines[r].Split(',').Select(f => float.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            labels[r] = (long)fields[0];
            fields.AsSpan(1).CopyTo(pixels.AsSpan(r * 64, 64));
        }

        return (pixels, labels);
    }

    private static void AssertAppRan(ProcessResult run, string onnxRuntimeVersion)
    {
        Assert.Equal(onnxRuntimeVersion, Line(run.Output, "onnx runtime: "));
        double accuracy = double.Parse(Line(run.Output, "digits accuracy: "), CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy} on the held-out digits is below 0.95:\n{run.Output}");
        Assert.Equal("0", Line(run.Output, "digits session entries: "));
        Assert.Equal("0", Line(run.Output, "digits DequantizeLinear count, plain options: "));
        Assert.Equal("0", Line(run.Output, "DequantizeLinear with the generated options: "));
        Assert.NotEqual("0", Line(run.Output, "DequantizeLinear with plain options: "));
        Assert.Equal("True", Line(run.Output, "binding matches run: "));
        Assert.Equal("True", Line(run.Output, "async matches run: "));
        Assert.Equal("[2, 3]", Line(run.Output, "sensor scores shape: "));
        Assert.Equal("features", Line(run.Output, "shape check names: "));
    }

    private string CreateApp(string name, int sensorWeightThreshold, string? onnxRuntimeVersion = PackageFeed.OnnxRuntimeVersion)
    {
        string app = Directory.CreateDirectory(Path.Combine(feed.Root, name)).FullName;
        Directory.CreateDirectory(Path.Combine(app, "Models"));
        File.Copy(RepositoryPaths.DigitsModel, Path.Combine(app, "Models", "digits.onnx"), overwrite: true);
        File.Copy(RepositoryPaths.DigitsTestData, Path.Combine(app, "digits-test.csv"), overwrite: true);
        SensorFusionModel.Write(Path.Combine(app, "Models", "sensor_fusion.onnx"));
        File.WriteAllText(Path.Combine(app, "NuGet.config"), feed.NuGetConfig);
        File.WriteAllText(Path.Combine(app, "Program.cs"), ProgramSource);
        WriteProject(app, name, sensorWeightThreshold, onnxRuntimeVersion);
        return app;
    }

    private void WriteProject(string app, string name, int sensorWeightThreshold, string? onnxRuntimeVersion = PackageFeed.OnnxRuntimeVersion) =>
        File.WriteAllText(Path.Combine(app, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <RootNamespace>FreshApp</RootNamespace>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Compression.Build" Version="{feed.Version}" />
                {(onnxRuntimeVersion is null ? "" : $"<PackageReference Include=\"Microsoft.ML.OnnxRuntime\" Version=\"{onnxRuntimeVersion}\" />")}
              </ItemGroup>
              <ItemGroup>
                <OnnxModel Include="Models/digits.onnx" />
                <OnnxModel Include="Models/sensor_fusion.onnx" WeightThreshold="{sensorWeightThreshold}" StandardOps="true" />
                <None Include="digits-test.csv" CopyToOutputDirectory="PreserveNewest" />
              </ItemGroup>
            </Project>
            """);

    private const string ProgramSource = """
        using System.Globalization;
        using System.Text;
        using Microsoft.ML.OnnxRuntime;
        using FreshApp;

        string[] rows = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "digits-test.csv")).Skip(1).ToArray();
        var pixels = new float[rows.Length * 64];
        var labels = new int[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            float[] fields = rows[r].Split(',').Select(f => float.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            labels[r] = (int)fields[0];
            fields.AsSpan(1).CopyTo(pixels.AsSpan(r * 64, 64));
        }

        Console.WriteLine("onnx runtime: " + OrtEnv.Instance().GetVersionString());
        string modelPath = Path.Combine(AppContext.BaseDirectory, Digits.ModelPath);
        string optimized = Path.Combine(AppContext.BaseDirectory, "optimized.onnx");
        Console.WriteLine("digits session entries: " + Digits.SessionConfigEntries.Count);
        using (var plain = new SessionOptions { OptimizedModelFilePath = optimized })
        using (var withPlain = new Digits(modelPath, plain))
        {
        }

        Console.WriteLine("digits DequantizeLinear count, plain options: " + Count(File.ReadAllBytes(optimized), "DequantizeLinear"));

        // Session options of the app's own: the generated entries, one more entry, and the optimized graph written out.
        string sensorPath = Path.Combine(AppContext.BaseDirectory, SensorFusion.ModelPath);
        using (SessionOptions options = SensorFusion.CreateSessionOptions())
        {
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            options.OptimizedModelFilePath = optimized;
            using var withOptions = new SensorFusion(sensorPath, options);
        }

        Console.WriteLine("DequantizeLinear with the generated options: " + Count(File.ReadAllBytes(optimized), "DequantizeLinear"));
        using (var plain = new SessionOptions { OptimizedModelFilePath = optimized })
        using (var withPlain = new SensorFusion(sensorPath, plain))
        {
        }

        Console.WriteLine("DequantizeLinear with plain options: " + Count(File.ReadAllBytes(optimized), "DequantizeLinear"));

        using var digits = new Digits();
        using Digits.Outputs outputs = digits.Run(pixels);
        float[] logits = outputs.Logits.GetTensorDataAsSpan<float>().ToArray();
        int correct = 0;
        for (int r = 0; r < rows.Length; r++)
        {
            ReadOnlySpan<float> scores = logits.AsSpan(r * 10, 10);
            int best = 0;
            for (int d = 1; d < 10; d++) { if (scores[d] > scores[best]) { best = d; } }
            correct += best == labels[r] ? 1 : 0;
        }

        Console.WriteLine("digits accuracy: " + ((double)correct / rows.Length).ToString("F4", CultureInfo.InvariantCulture));

        // Caller buffers, bound once.
        var boundLogits = new float[rows.Length * 10];
        var boundProbabilities = new float[rows.Length * 10];
        using (OrtValue input = OrtValue.CreateTensorValueFromMemory(pixels, new long[] { rows.Length, 64 }))
        using (OrtValue logitsValue = OrtValue.CreateTensorValueFromMemory(boundLogits, new long[] { rows.Length, 10 }))
        using (OrtValue probabilitiesValue = OrtValue.CreateTensorValueFromMemory(boundProbabilities, new long[] { rows.Length, 10 }))
        using (Digits.Binding binding = digits.Bind(input, logitsValue, probabilitiesValue))
        {
            binding.Run();
        }

        Console.WriteLine("binding matches run: " + boundLogits.AsSpan().SequenceEqual(logits));
        using (Digits.Outputs later = await digits.RunAsync(pixels))
        {
            Console.WriteLine("async matches run: " + later.Logits.GetTensorDataAsSpan<float>().SequenceEqual(logits));
        }

        using var fusion = new SensorFusion();
        using (SensorFusion.Outputs result = fusion.Run(new float[2 * 64], new float[2 * 16]))
        {
            Console.WriteLine("sensor scores shape: [" + string.Join(", ", result.Scores.GetTensorTypeAndShape().Shape) + "]");
        }

        try
        {
            fusion.Run(new float[2 * 64], new float[2 * 15]);
        }
        catch (ArgumentException e)
        {
            Console.WriteLine("shape check names: " + e.ParamName);
        }

        static int Count(byte[] bytes, string text)
        {
            byte[] pattern = Encoding.ASCII.GetBytes(text);
            int count = 0;
            for (int at = bytes.AsSpan().IndexOf(pattern); at >= 0; at = bytes.AsSpan(at + 1).IndexOf(pattern) is int next && next >= 0 ? at + 1 + next : -1)
            {
                count++;
            }

            return count;
        }
        """;

    private ProcessResult Dotnet(string directory, params string[] arguments)
    {
        ProcessResult result = DotNet.Run(directory, feed.Environment, Timeout, arguments);
        log.WriteLine($"$ dotnet {string.Join(' ', arguments)} (exit {result.ExitCode})\n{result.Output}");
        return result;
    }

    private ProcessResult DotnetInTerminal(string directory, params string[] arguments)
    {
        ProcessResult result = DotNet.RunInTerminal(directory, feed.Environment, Timeout, arguments);
        log.WriteLine($"$ script: dotnet {string.Join(' ', arguments)} (exit {result.ExitCode})\n{result.Output}");
        return result;
    }

    private ProcessResult Run(string program, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        log.WriteLine($"$ {program} {string.Join(' ', arguments)} (exit {process.ExitCode})\n{output}");
        return new ProcessResult(process.ExitCode, output);
    }

    /// <summary>The compressor's summary lines for <paramref name="model"/> in a build's output, trimmed.</summary>
    private static string[] SummaryLines(string output, string model) =>
        output.Split('\n').Select(l => l.Trim()).Where(l => l.Contains(model + ": ", StringComparison.Ordinal) && l.Contains(" bytes (", StringComparison.Ordinal))
            .Select(l => l[l.IndexOf(model + ": ", StringComparison.Ordinal)..]).ToArray();

    private static string Line(string output, string prefix)
    {
        foreach (string line in output.Split('\n'))
        {
            int at = line.IndexOf(prefix, StringComparison.Ordinal);
            if (at >= 0)
            {
                return line[(at + prefix.Length)..].Trim();
            }
        }

        throw new Xunit.Sdk.XunitException($"No line starts with '{prefix}' in:\n{output}");
    }
}
