using System.Diagnostics;
using System.Globalization;
using Compression.Onnx;

namespace Compression.Benchmarks;

/// <summary>
/// What the package costs a developer's build (<c>--build</c>): two console apps with the same three models (the digits
/// MLP, the ResNet-style CNN and a transformer encoder), one with Compression.Build from a folder feed (the models as
/// <c>OnnxModel</c> items), one without it (the same files copied to the output as <c>None</c> items). Both reference
/// Microsoft.ML.OnnxRuntime and are built the way a developer builds: <c>dotnet build</c> with node reuse, console
/// logger. Runs are interleaved (with, without, with, ...), and the table gives medians and their ratio for:
/// <list type="bullet">
/// <item><description>a no-op build (nothing changed);</description></item>
/// <item><description>a first build on a fresh obj/ and bin/ (the restore kept) with a warm shared compression cache
/// (<c>OnnxCompressionCacheDir</c> outside obj/, filled by an earlier build);</description></item>
/// <item><description>a design-time build on a fresh obj/ (what Visual Studio and C# Dev Kit run for IntelliSense: the
/// compile targets with <c>DesignTimeBuild=true</c>, <c>SkipCompilerExecution=true</c>).</description></item>
/// </list>
/// </summary>
internal static class BuildBenchmark
{
    private const string OnnxRuntimeVersion = "1.31.1";

    private static readonly string[] ModelFiles = ["digits.onnx", "resnet.onnx", "transformer.onnx"];

    public static int Run(BenchmarkOptions options)
    {
        string root = BenchModels.RepositoryRoot();
        string work = Directory.CreateTempSubdirectory("compression-build-bench-").FullName;
        try
        {
            string feed = Directory.CreateDirectory(Path.Combine(work, "feed")).FullName;
            string packages = Directory.CreateDirectory(Path.Combine(work, "packages")).FullName;
            string cache = Path.Combine(work, "compression-cache");
            var environment = new Dictionary<string, string>
            {
                ["NUGET_PACKAGES"] = packages,
                ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
                ["DOTNET_NOLOGO"] = "1",
                ["MSBUILDTERMINALLOGGER"] = "off",
            };

            Console.Error.WriteLine("packing Compression.Build into a folder feed ...");
            Dotnet(root, environment, "pack", "src/Compression.Build/Compression.Build.csproj", "-c", "Release", "-o", feed);
            Dotnet(root, environment, "pack", "src/Compression.Cli/Compression.Cli.csproj", "-c", "Release", "--no-build", "-o", feed);
            string version = PackageVersion(feed);
            AddRestoredPackage(feed, "Microsoft.ML.OnnxRuntime", OnnxRuntimeVersion);
            AddRestoredPackage(feed, "Microsoft.ML.OnnxRuntime.Managed", OnnxRuntimeVersion);

            string models = Directory.CreateDirectory(Path.Combine(work, "models")).FullName;
            File.Copy(Path.Combine(root, "samples", "Digits", "Models", "digits.onnx"), Path.Combine(models, "digits.onnx"));
            OnnxModelFile.Save(GeneratedModels.ResNet(), Path.Combine(models, "resnet.onnx"));
            OnnxModelFile.Save(TransformerModel.Build(), Path.Combine(models, "transformer.onnx"));

            string with = CreateApp(work, "WithPackage", models, feed, withPackage: true, version, cache);
            string without = CreateApp(work, "WithoutPackage", models, feed, withPackage: false, version, cache);
            Dotnet(with, environment, "restore");
            Dotnet(without, environment, "restore");

            Console.WriteLine($"Compression.Build {version}, ONNX Runtime {OnnxRuntimeVersion}; .NET SDK {DotnetVersion(environment)}, {Environment.ProcessorCount} logical processors, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
            Console.WriteLine($"Models: {string.Join(", ", ModelFiles.Select(m => $"{m} ({new FileInfo(Path.Combine(models, m)).Length / 1e6:0.0} MB)"))}");
            Console.WriteLine($"{options.Iterations} interleaved runs of each app per row after one untimed run; medians.");
            Console.WriteLine();

            // The first build of each: it fills the shared compression cache.
            TimeSpan coldWith = Time(with, environment, "build", "--no-restore");
            TimeSpan coldWithout = Time(without, environment, "build", "--no-restore");
            Console.Error.WriteLine($"first builds: with the package {coldWith.TotalSeconds:0.0} s (compresses and validates), without {coldWithout.TotalSeconds:0.0} s");

            var rows = new List<(string Name, (Timing With, Timing Without) Timings, string Target)>
            {
                ("No-op `dotnet build`", Measure(options, with, without, environment, _ => { }, "build", "--no-restore"), "<= 1.15x"),
                ("First build, fresh obj/ and bin/, warm shared cache", Measure(options, with, without, environment, FreshObj, "build", "--no-restore"), "<= 1.3x"),
                ("Design-time build, fresh obj/", Measure(options, with, without, environment, FreshObj, "build", "--no-restore", "-t:Compile", "-p:DesignTimeBuild=true", "-p:SkipCompilerExecution=true", "-p:ProvideCommandLineArgs=true"), "<= 1.3x"),
            };

            Console.WriteLine("| Build | With Compression.Build | Without | Ratio | Target |");
            Console.WriteLine("|---|---|---|---|---|");
            foreach ((string name, (Timing w, Timing wo), string target) in rows)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {w.Median / 1000:0.00} s | {wo.Median / 1000:0.00} s | {w.Median / wo.Median:0.00}x | {target} |"));
            }

            return 0;
        }
        finally
        {
            Dotnet(work, new Dictionary<string, string>(), "build-server", "shutdown");
            if (Environment.GetEnvironmentVariable("COMPRESSION_BENCH_KEEP") == "1")
            {
                Console.Error.WriteLine($"kept the apps, the feed and the packages in {work} (COMPRESSION_BENCH_KEEP=1)");
                work = Path.Combine(work, "nothing-to-remove");
            }

            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Runs the two apps' builds interleaved, each after <paramref name="before"/>; the first round is not timed.</summary>
    private static (Timing With, Timing Without) Measure(BenchmarkOptions options, string with, string without, IReadOnlyDictionary<string, string> environment, Action<string> before, params string[] arguments)
    {
        var timings = new[] { new Timing(), new Timing() };
        string[] apps = [with, without];
        for (int round = -1; round < options.Iterations; round++)
        {
            // Alternate which app goes first, so that neither always follows the other's leftovers.
            for (int k = 0; k < 2; k++)
            {
                int index = (round + k + 2) % 2;
                before(apps[index]);
                TimeSpan elapsed = Time(apps[index], environment, arguments);
                if (round >= 0)
                {
                    timings[index].Add(elapsed);
                }
            }
        }

        return (timings[0], timings[1]);
    }

    /// <summary>Removes what a build wrote (bin/, obj/Debug/) and keeps the restore's output (obj/project.assets.json ...).</summary>
    private static void FreshObj(string app)
    {
        foreach (string folder in new[] { Path.Combine(app, "bin"), Path.Combine(app, "obj", "Debug") })
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    private static string CreateApp(string work, string name, string models, string feed, bool withPackage, string version, string cache)
    {
        string app = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
        Directory.CreateDirectory(Path.Combine(app, "Models"));
        foreach (string model in ModelFiles)
        {
            File.Copy(Path.Combine(models, model), Path.Combine(app, "Models", model));
        }

        string items = withPackage
            ? $"""
                <PackageReference Include="Compression.Build" Version="{version}" />
                <OnnxModel Include="Models/*.onnx" />
              """
            : """
                <None Update="Models/*.onnx" CopyToOutputDirectory="PreserveNewest" />
              """;
        File.WriteAllText(Path.Combine(app, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <OnnxCompressionCacheDir>{cache}</OnnxCompressionCacheDir>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="{OnnxRuntimeVersion}" />
            {items}
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), "Console.WriteLine(\"Models: \" + Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, \"Models\")).Length);\n");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
              </packageSources>
              <packageSourceMapping>
                <packageSource key="local">
                  <package pattern="Compression.*" />
                  <package pattern="Microsoft.ML.OnnxRuntime" />
                  <package pattern="Microsoft.ML.OnnxRuntime.Managed" />
                </packageSource>
                <packageSource key="nuget.org">
                  <package pattern="*" />
                </packageSource>
              </packageSourceMapping>
            </configuration>
            """);
        return app;
    }

    /// <summary>The version of the Compression.Build package just packed, from its file name.</summary>
    private static string PackageVersion(string feed)
    {
        const string prefix = "Compression.Build.";
        string file = Directory.GetFiles(feed, prefix + "*.nupkg").Select(Path.GetFileName).OfType<string>()
            .Single(f => char.IsDigit(f[prefix.Length]) && !f.EndsWith(".snupkg", StringComparison.Ordinal));
        return file[prefix.Length..^".nupkg".Length];
    }

    private static void AddRestoredPackage(string feed, string id, string version)
    {
        string lower = id.ToLowerInvariant();
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string source = Path.Combine(packages, lower, version, $"{lower}.{version}.nupkg");
        if (!File.Exists(source))
        {
            throw new FileNotFoundException($"{source} is missing: build the repository's tests first (they restore {id} {version}).", source);
        }

        File.Copy(source, Path.Combine(feed, $"{lower}.{version}.nupkg"));
    }

    private static string DotnetVersion(IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo("dotnet", "--version") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach ((string key, string value) in environment)
        {
            info.Environment[key] = value;
        }

        using Process process = Process.Start(info)!;
        string version = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return version;
    }

    private static TimeSpan Time(string directory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var clock = Stopwatch.StartNew();
        Dotnet(directory, environment, arguments);
        return clock.Elapsed;
    }

    private static void Dotnet(string directory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment)
        {
            info.Environment[key] = value;
        }

        using Process process = Process.Start(info)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && arguments[0] != "build-server")
        {
            throw new InvalidOperationException($"dotnet {string.Join(' ', arguments)} failed in {directory} with exit code {process.ExitCode}:\n{output}\n{error.Result}");
        }
    }
}
