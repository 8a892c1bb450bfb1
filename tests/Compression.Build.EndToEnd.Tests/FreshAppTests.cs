using System.Globalization;
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
        //    app's ONNX Runtime package), and compiles the generated classes.
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build");
        Assert.Contains("Models/digits.onnx: 341,444 -> ", build.Output);
        Assert.Contains("Models/sensor_fusion.onnx: ", build.Output);
        Assert.Contains("validated in ONNX Runtime 1.23.2", build.Output);
        Assert.DoesNotContain("warning CS", build.Output);

        var compressedDigits = new FileInfo(Path.Combine(bin, "Models", "digits.onnx"));
        Assert.True(compressedDigits.Exists, "the compressed model is in the output folder at the model's relative path");
        Assert.True(compressedDigits.Length <= 0.3 * new FileInfo(RepositoryPaths.DigitsModel).Length,
            $"the compressed digits model is {compressedDigits.Length} bytes, more than 0.3x the original");
        Assert.True(File.Exists(Path.Combine(bin, "Models", "sensor_fusion.onnx")));

        // 2. The app runs the compressed models through the generated classes.
        ProcessResult run = Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run");
        double accuracy = double.Parse(Line(run.Output, "digits accuracy: "), CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy} on the held-out digits is below 0.95:\n{run.Output}");
        Assert.Equal("[2, 3]", Line(run.Output, "sensor scores shape: "));
        Assert.Equal("features", Line(run.Output, "shape check names: "));

        // 3. A second build compresses nothing and leaves the compressed models as they were.
        DateTime compressedAt = File.GetLastWriteTimeUtc(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx"));
        ProcessResult rebuild = Dotnet(app, "build").ShouldSucceed("the second dotnet build");
        Assert.DoesNotContain("Models/digits.onnx: ", rebuild.Output);
        Assert.DoesNotContain("Models/sensor_fusion.onnx: ", rebuild.Output);
        Assert.Equal(compressedAt, File.GetLastWriteTimeUtc(Path.Combine(app, "obj", "Debug", "net10.0", "onnx", "Models", "digits.onnx")));

        // 4. A changed setting recompresses only that model: above its weights' sizes, nothing is quantized.
        WriteProject(app, "FreshApp", sensorWeightThreshold: 100_000);
        ProcessResult changed = Dotnet(app, "build").ShouldSucceed("the build after a setting changed");
        Assert.DoesNotContain("Models/digits.onnx: ", changed.Output);
        Assert.Contains("Models/sensor_fusion.onnx: ", changed.Output);
        Assert.Contains("warning OCB0201", changed.Output);

        // 5. Publishing puts the compressed models in the publish folder.
        string publish = Path.Combine(feed.Root, "publish");
        Dotnet(app, "publish", "-o", publish).ShouldSucceed("dotnet publish");
        Assert.Equal(compressedDigits.Length, new FileInfo(Path.Combine(publish, "Models", "digits.onnx")).Length);
    }

    [Fact]
    public void The_compressor_tool_package_installs_and_runs()
    {
        string tools = Path.Combine(feed.Root, "tools");
        Dotnet(feed.Root, "tool", "install", "Compression.Cli", "--version", PackageFeed.Version, "--tool-path", tools, "--add-source", feed.FeedDirectory)
            .ShouldSucceed("dotnet tool install");
        string output = Path.Combine(feed.Root, "tool-output", "digits.onnx");
        ProcessResult help = Run(Path.Combine(tools, "onnx-compress"), "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--quantize", help.Output);

        ProcessResult compress = Run(Path.Combine(tools, "onnx-compress"), RepositoryPaths.DigitsModel, "-o", output, "--no-validate");
        Assert.True(compress.ExitCode == 0, compress.Output);
        Assert.True(new FileInfo(output).Length <= 0.3 * new FileInfo(RepositoryPaths.DigitsModel).Length);
    }

    [Fact]
    public void The_build_package_holds_the_targets_task_generator_and_one_copy_of_the_compressor()
    {
        using var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed.FeedDirectory, $"Compression.Build.{PackageFeed.Version}.nupkg"));
        string[] entries = package.Entries.Select(e => e.FullName).ToArray();

        Assert.Contains("build/Compression.Build.props", entries);
        Assert.Contains("build/Compression.Build.targets", entries);
        Assert.Contains("tasks/netstandard2.0/Compression.Build.Tasks.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/Compression.Build.Generator.dll", entries);
        Assert.Contains("tools/net8.0/any/onnx-compress.dll", entries);
        Assert.Contains("tools/net8.0/any/onnx-compress.runtimeconfig.json", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("tools/net8.0/any/publish/", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal));
        Assert.Equal(entries.Length, entries.Distinct(StringComparer.OrdinalIgnoreCase).Count());
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

    private string CreateApp(string name, int sensorWeightThreshold)
    {
        string app = Directory.CreateDirectory(Path.Combine(feed.Root, name)).FullName;
        Directory.CreateDirectory(Path.Combine(app, "Models"));
        File.Copy(RepositoryPaths.DigitsModel, Path.Combine(app, "Models", "digits.onnx"), overwrite: true);
        File.Copy(RepositoryPaths.DigitsTestData, Path.Combine(app, "digits-test.csv"), overwrite: true);
        SensorFusionModel.Write(Path.Combine(app, "Models", "sensor_fusion.onnx"));
        File.WriteAllText(Path.Combine(app, "NuGet.config"), feed.NuGetConfig);
        File.WriteAllText(Path.Combine(app, "Program.cs"), ProgramSource);
        WriteProject(app, name, sensorWeightThreshold);
        return app;
    }

    private static void WriteProject(string app, string name, int sensorWeightThreshold) =>
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
                <PackageReference Include="Compression.Build" Version="{PackageFeed.Version}" />
                <PackageReference Include="{PackageFeed.NativeRuntimePackage}" Version="{PackageFeed.NativeRuntimeVersion}" />
              </ItemGroup>
              <ItemGroup>
                <OnnxModel Include="Models/digits.onnx" />
                <OnnxModel Include="Models/sensor_fusion.onnx" WeightThreshold="{sensorWeightThreshold}" />
                <None Include="digits-test.csv" CopyToOutputDirectory="PreserveNewest" />
              </ItemGroup>
            </Project>
            """);

    private const string ProgramSource = """
        using System.Globalization;
        using Compression.Runtime;
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

        using var digits = new Digits();
        ReadOnlySpan<float> logits = digits.Run(pixels).Logits.Span;
        int correct = 0;
        for (int r = 0; r < rows.Length; r++)
        {
            ReadOnlySpan<float> scores = logits.Slice(r * 10, 10);
            int best = 0;
            for (int d = 1; d < 10; d++) { if (scores[d] > scores[best]) { best = d; } }
            correct += best == labels[r] ? 1 : 0;
        }

        Console.WriteLine("digits accuracy: " + ((double)correct / rows.Length).ToString("F4", CultureInfo.InvariantCulture));

        using var fusion = new SensorFusion();
        var result = fusion.Run(new float[2 * 64], new float[2 * 16]);
        Console.WriteLine("sensor scores shape: " + OnnxTensor.FormatShape(result.Scores.Shape));
        try
        {
            fusion.Run(new float[2 * 64], new float[2 * 15]);
        }
        catch (ArgumentException e)
        {
            Console.WriteLine("shape check names: " + e.ParamName);
        }
        """;

    private ProcessResult Dotnet(string directory, params string[] arguments)
    {
        ProcessResult result = DotNet.Run(directory, feed.Environment, Timeout, arguments);
        log.WriteLine($"$ dotnet {string.Join(' ', arguments)} (exit {result.ExitCode})\n{result.Output}");
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
