using System.Globalization;
using System.IO.Compression;
using Xunit.Abstractions;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// A class library ships a model: it adds Compression.Build from the folder feed as `dotnet add package` does, lists a model,
/// and is packed into the feed. An app that references the library's package, and one that references the library's
/// project, get the compressed model in their output and publish folders and run it through the library's generated class.
/// </summary>
[Collection(PackageFeedCollection.Name)]
[Trait("Category", "Slow")]
public sealed class LibraryPackageTests
{
    private const string LibraryVersion = "1.0.0";
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private readonly PackageFeed feed;
    private readonly ITestOutputHelper log;

    public LibraryPackageTests(PackageFeed feed, ITestOutputHelper log)
    {
        this.feed = feed;
        this.log = log;
    }

    [Fact]
    public void A_packed_library_ships_its_compressed_model_and_an_app_that_references_its_package_runs_it()
    {
        string solution = CreateSolution("library-package");
        string library = CreateLibrary(solution);

        // The library's package: the compressed model (not the original) beside a targets file that copies it, the generated
        // class in the library's assembly, ONNX Runtime as a dependency and Compression.Build not.
        ProcessResult pack = Dotnet(library, "pack", "-c", "Release", "-o", feed.FeedDirectory).ShouldSucceed("dotnet pack of the library");
        Assert.Contains("Models/digits.onnx: compressed in ", pack.Output);
        Assert.DoesNotContain("warning OCB", pack.Output);
        byte[] compressed = File.ReadAllBytes(Path.Combine(library, "obj", "Release", "net8.0", "onnx", "Models", "digits.onnx"));
        Assert.NotEqual(File.ReadAllBytes(RepositoryPaths.DigitsModel), compressed);
        string packagePath = feed.PackagePath("FreshLibrary", LibraryVersion);
        using (ZipArchive package = ZipFile.OpenRead(packagePath))
        {
            string[] entries = package.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains("lib/net8.0/FreshLibrary.dll", entries);
            Assert.Contains("buildTransitive/net8.0/FreshLibrary.targets", entries);
            Assert.Equal(compressed, ReadEntry(package, "buildTransitive/net8.0/onnx/Models/digits.onnx"));
            Assert.Single(entries, e => e.EndsWith(".onnx", StringComparison.Ordinal));
            Assert.DoesNotContain(entries, e => e.EndsWith(".signature", StringComparison.Ordinal) || e.EndsWith(".report.json", StringComparison.Ordinal));
        }

        string nuspec = PackageFeed.ReadNuspec(packagePath, "FreshLibrary");
        Assert.DoesNotContain("Compression.Build", nuspec, StringComparison.Ordinal);
        Assert.Contains($"<dependency id=\"Microsoft.ML.OnnxRuntime\" version=\"{PackageFeed.OnnxRuntimeVersion}\"", nuspec);

        // An app that references only the library's package (ONNX Runtime comes with it), on a newer .NET than the library's.
        string app = CreateApp(solution, "PackageApp", $"""<PackageReference Include="FreshLibrary" Version="{LibraryVersion}" />""");
        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build of the app");
        Assert.DoesNotContain("Models/digits.onnx: compressed in ", build.Output);
        Assert.Equal(compressed, File.ReadAllBytes(Path.Combine(app, "bin", "Debug", "net10.0", "Models", "digits.onnx")));
        AssertAppRan(Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run of the app"));

        string publish = Path.Combine(solution, "publish");
        Dotnet(app, "publish", "-o", publish).ShouldSucceed("dotnet publish of the app");
        Assert.Equal(compressed, File.ReadAllBytes(Path.Combine(publish, "Models", "digits.onnx")));
        AssertAppRan(Dotnet(publish, Path.Combine(publish, "PackageApp.dll")).ShouldSucceed("the published app"));
    }

    [Fact]
    public void An_app_that_references_the_library_project_gets_the_compressed_model_in_its_output_and_publish_folders()
    {
        string solution = CreateSolution("library-project");
        string library = CreateLibrary(solution);
        string app = CreateApp(solution, "ProjectApp", """<ProjectReference Include="../FreshLibrary/FreshLibrary.csproj" />""");

        ProcessResult build = Dotnet(app, "build").ShouldSucceed("dotnet build of the app and the library");
        Assert.Contains("Models/digits.onnx: compressed in ", build.Output);
        byte[] compressed = File.ReadAllBytes(Path.Combine(library, "obj", "Debug", "net8.0", "onnx", "Models", "digits.onnx"));
        Assert.NotEqual(File.ReadAllBytes(RepositoryPaths.DigitsModel), compressed);
        Assert.Equal(compressed, File.ReadAllBytes(Path.Combine(app, "bin", "Debug", "net10.0", "Models", "digits.onnx")));
        AssertAppRan(Dotnet(app, "run", "--no-build").ShouldSucceed("dotnet run of the app"));

        string publish = Path.Combine(solution, "publish");
        Dotnet(app, "publish", "-o", publish).ShouldSucceed("dotnet publish of the app");
        Assert.Equal(compressed, File.ReadAllBytes(Path.Combine(publish, "Models", "digits.onnx")));
    }

    [Fact]
    public void Packing_warns_where_the_package_would_depend_on_Compression_Build_or_on_no_ONNX_Runtime_and_stops_without_the_models()
    {
        // Compression.Build written by hand without PrivateAssets, no ONNX Runtime reference (validation off).
        string solution = CreateSolution("library-dependencies");
        string library = Directory.CreateDirectory(Path.Combine(solution, "BareLibrary")).FullName;
        Directory.CreateDirectory(Path.Combine(library, "Models"));
        File.Copy(RepositoryPaths.DigitsModel, Path.Combine(library, "Models", "digits.onnx"));
        File.WriteAllText(Path.Combine(library, "BareLibrary.csproj"), $$"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net8.0</TargetFramework>
                <OnnxValidate>false</OnnxValidate>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Compression.Build" Version="{{feed.Version}}" />
                <OnnxModel Include="Models/digits.onnx" />
              </ItemGroup>
            </Project>
            """);
        string output = Path.Combine(solution, "packages");

        // Restored and packed before any build: the compressed model is missing, and nothing is packed.
        Dotnet(library, "restore").ShouldSucceed("dotnet restore");
        ProcessResult unbuilt = Dotnet(library, "pack", "--no-build", "-o", output);
        Assert.NotEqual(0, unbuilt.ExitCode);
        Assert.Contains(Path.Combine(library, "Models", "digits.onnx") + " : error OCB2004:", unbuilt.Output);
        Assert.False(Directory.Exists(output) && Directory.GetFiles(output, "*.nupkg").Length > 0, "nothing is packed");

        ProcessResult pack = Dotnet(library, "pack", "-o", output).ShouldSucceed("dotnet pack");
        Assert.Contains("warning OCB2005:", pack.Output);
        Assert.Contains("Add PrivateAssets=\"all\" to the PackageReference of Compression.Build.", pack.Output);
        Assert.Contains("warning OCB2006:", pack.Output);
        string nuspec = PackageFeed.ReadNuspec(Path.Combine(output, "BareLibrary.1.0.0.nupkg"), "BareLibrary");
        Assert.Contains("<dependency id=\"Compression.Build\"", nuspec, StringComparison.Ordinal);
    }

    /// <summary>A folder for a library and its apps, with the feed's NuGet.config, which every project in it uses.</summary>
    private string CreateSolution(string name)
    {
        string solution = Directory.CreateDirectory(Path.Combine(feed.Root, name)).FullName;
        File.WriteAllText(Path.Combine(solution, "NuGet.config"), feed.NuGetConfig);
        return solution;
    }

    /// <summary>
    /// The library: Compression.Build added with `dotnet add package` (which writes PrivateAssets="all" for a development
    /// dependency), ONNX Runtime for validation and for its users, the digits model, and a class of its own that uses the
    /// generated one.
    /// </summary>
    private string CreateLibrary(string solution)
    {
        string library = Directory.CreateDirectory(Path.Combine(solution, "FreshLibrary")).FullName;
        Directory.CreateDirectory(Path.Combine(library, "Models"));
        File.Copy(RepositoryPaths.DigitsModel, Path.Combine(library, "Models", "digits.onnx"));
        string project = Path.Combine(library, "FreshLibrary.csproj");
        File.WriteAllText(project, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net8.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <RootNamespace>FreshLibrary</RootNamespace>
                <Version>{LibraryVersion}</Version>
                <Description>Recognizes handwritten digits.</Description>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="{PackageFeed.OnnxRuntimeVersion}" />
              </ItemGroup>
              <ItemGroup>
                <OnnxModel Include="Models/digits.onnx" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(library, "DigitReader.cs"), """
            namespace FreshLibrary;

            /// <summary>Reads digits from 8 x 8 images with the compressed model, through its generated class.</summary>
            public static class DigitReader
            {
                public static int[] Read(float[] pixels)
                {
                    using var digits = new Digits();
                    using Digits.Outputs outputs = digits.Run(pixels);
                    ReadOnlySpan<float> logits = outputs.Logits.GetTensorDataAsSpan<float>();
                    var read = new int[pixels.Length / 64];
                    for (int r = 0; r < read.Length; r++)
                    {
                        ReadOnlySpan<float> scores = logits.Slice(r * 10, 10);
                        int best = 0;
                        for (int d = 1; d < 10; d++) { if (scores[d] > scores[best]) { best = d; } }
                        read[r] = best;
                    }

                    return read;
                }
            }
            """);
        Dotnet(library, "add", "package", "Compression.Build", "--version", feed.Version).ShouldSucceed("dotnet add package Compression.Build");
        string written = File.ReadAllText(project);
        Assert.Contains("<PrivateAssets>all</PrivateAssets>", written, StringComparison.Ordinal);
        return library;
    }

    /// <summary>An app without Compression.Build or ONNX Runtime of its own, that reads digits through the library.</summary>
    private static string CreateApp(string solution, string name, string reference)
    {
        string app = Directory.CreateDirectory(Path.Combine(solution, name)).FullName;
        File.Copy(RepositoryPaths.DigitsTestData, Path.Combine(app, "digits-test.csv"));
        File.WriteAllText(Path.Combine(app, name + ".csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                {reference}
                <None Include="digits-test.csv" CopyToOutputDirectory="PreserveNewest" CopyToPublishDirectory="PreserveNewest" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Globalization;

            string[] rows = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "digits-test.csv")).Skip(1).ToArray();
            var pixels = new float[rows.Length * 64];
            var labels = new int[rows.Length];
            for (int r = 0; r < rows.Length; r++)
            {
                float[] fields = rows[r].Split(',').Select(f => float.Parse(f, CultureInfo.InvariantCulture)).ToArray();
                labels[r] = (int)fields[0];
                fields.AsSpan(1).CopyTo(pixels.AsSpan(r * 64, 64));
            }

            int[] read = FreshLibrary.DigitReader.Read(pixels);
            int correct = read.Where((digit, r) => digit == labels[r]).Count();
            Console.WriteLine("model path: " + FreshLibrary.Digits.ModelPath);
            Console.WriteLine("digits accuracy: " + ((double)correct / rows.Length).ToString("F4", CultureInfo.InvariantCulture));
            """);
        return app;
    }

    private static void AssertAppRan(ProcessResult run)
    {
        Assert.Contains("model path: Models/digits.onnx", run.Output);
        string line = run.Output.Split('\n').Single(l => l.StartsWith("digits accuracy: ", StringComparison.Ordinal));
        double accuracy = double.Parse(line["digits accuracy: ".Length..].Trim(), CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.95, $"accuracy {accuracy} on the held-out digits is below 0.95:\n{run.Output}");
    }

    private static byte[] ReadEntry(ZipArchive package, string name)
    {
        using Stream entry = package.GetEntry(name)!.Open();
        using var copy = new MemoryStream();
        entry.CopyTo(copy);
        return copy.ToArray();
    }

    private ProcessResult Dotnet(string directory, params string[] arguments)
    {
        ProcessResult result = DotNet.Run(directory, feed.Environment, Timeout, arguments);
        log.WriteLine($"$ dotnet {string.Join(' ', arguments)} (exit {result.ExitCode})\n{result.Output}");
        return result;
    }
}
