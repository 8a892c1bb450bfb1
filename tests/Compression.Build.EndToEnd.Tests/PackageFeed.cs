namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// A local folder feed with this repository's packages, packed once for all end-to-end tests, and the ONNX Runtime
/// packages apps reference (Microsoft.ML.OnnxRuntime and .Managed at <see cref="OnnxRuntimeVersion"/> and at the oldest
/// supported <see cref="OldestOnnxRuntimeVersion"/>), taken from the NuGet packages folder this test project restored them
/// into. Apps restore from this feed (their other dependencies from nuget.org), into a packages folder of their own, so
/// that no earlier copy of the same version in the user's NuGet cache is used.
/// </summary>
public sealed class PackageFeed : IDisposable
{
    /// <summary>The ONNX Runtime the repository tests with.</summary>
    public const string OnnxRuntimeVersion = "1.31.1";

    /// <summary>The oldest ONNX Runtime the generated classes and the compressor support.</summary>
    public const string OldestOnnxRuntimeVersion = "1.30.0";

    public PackageFeed()
    {
        Root = Directory.CreateTempSubdirectory("compression-build-e2e-").FullName;
        FeedDirectory = Directory.CreateDirectory(Path.Combine(Root, "feed")).FullName;
        PackagesDirectory = Directory.CreateDirectory(Path.Combine(Root, "packages")).FullName;

        var environment = new Dictionary<string, string?>();
        TimeSpan timeout = TimeSpan.FromMinutes(10);
        DotNet.Run(RepositoryPaths.Root, environment, timeout, "pack", "src/Compression.Build/Compression.Build.csproj", "-c", "Release", "-o", FeedDirectory)
            .ShouldSucceed("dotnet pack Compression.Build");
        DotNet.Run(RepositoryPaths.Root, environment, timeout, "pack", "src/Compression.Cli/Compression.Cli.csproj", "-c", "Release", "--no-build", "-o", FeedDirectory)
            .ShouldSucceed("dotnet pack Compression.Cli");
        Version = PackedVersion("Compression.Build");
        CliVersion = PackedVersion("Compression.Cli");
        foreach (string version in new[] { OnnxRuntimeVersion, OldestOnnxRuntimeVersion })
        {
            AddRestoredPackage("Microsoft.ML.OnnxRuntime", version);
            AddRestoredPackage("Microsoft.ML.OnnxRuntime.Managed", version);
        }
    }

    /// <summary>
    /// The version of the Compression.Build package in the feed. Every pack stamps its own (0.1.0-dev.UTC time; see
    /// Directory.Build.props), so it is read from the package, as is <see cref="CliVersion"/>.
    /// </summary>
    public string Version { get; }

    /// <summary>The version of the Compression.Cli tool package in the feed.</summary>
    public string CliVersion { get; }

    /// <summary>The temporary folder that holds the feed, the packages folder and the apps.</summary>
    public string Root { get; }

    public string FeedDirectory { get; }

    public string PackagesDirectory { get; }

    /// <summary>The environment every dotnet command of an app runs with.</summary>
    public IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?>
    {
        ["NUGET_PACKAGES"] = PackagesDirectory,
    };

    /// <summary>
    /// A NuGet.config that takes this repository's packages and ONNX Runtime from this feed only, and their other
    /// dependencies (System.Numerics.Tensors, ...) from nuget.org, as a user's restore would.
    /// </summary>
    public string NuGetConfig => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <clear />
            <add key="local" value="{FeedDirectory}" />
            <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
          </packageSources>
          <packageSourceMapping>
            <packageSource key="local">
              <package pattern="Compression.*" />
              <package pattern="FreshLibrary" />
              <package pattern="Microsoft.ML.OnnxRuntime" />
              <package pattern="Microsoft.ML.OnnxRuntime.Managed" />
            </packageSource>
            <packageSource key="nuget.org">
              <package pattern="*" />
            </packageSource>
          </packageSourceMapping>
        </configuration>
        """;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The path of the package <paramref name="id"/> in the feed.</summary>
    public string PackagePath(string id, string version) => Path.Combine(FeedDirectory, $"{id}.{version}.nupkg");

    /// <summary>The nuspec of a package: its metadata and dependencies.</summary>
    public static string ReadNuspec(string packagePath, string id)
    {
        using var package = System.IO.Compression.ZipFile.OpenRead(packagePath);
        using var reader = new StreamReader(package.GetEntry(id + ".nuspec")!.Open());
        return reader.ReadToEnd();
    }

    /// <summary>The version of the one package <paramref name="id"/> packed into the feed, from its nuspec.</summary>
    private string PackedVersion(string id)
    {
        string[] packages = Directory.GetFiles(FeedDirectory, id + ".*.nupkg")
            .Where(p => char.IsAsciiDigit(Path.GetFileName(p)[(id.Length + 1)..][0]))
            .ToArray();
        Assert.True(packages.Length == 1, $"the feed should hold one {id} package: {string.Join(", ", packages)}");
        string nuspec = ReadNuspec(packages[0], id);
        string version = System.Xml.Linq.XDocument.Parse(nuspec).Root!.Elements().First(e => e.Name.LocalName == "metadata")
            .Elements().First(e => e.Name.LocalName == "version").Value;
        Assert.Equal(packages[0], PackagePath(id, version));
        return version;
    }

    /// <summary>Links (or copies) a package this test project restored into the feed.</summary>
    private void AddRestoredPackage(string id, string version)
    {
        string lower = id.ToLowerInvariant();
        string source = Path.Combine(NuGetPackagesFolder(), lower, version, $"{lower}.{version}.nupkg");
        Assert.True(File.Exists(source), $"{source} is missing: the end-to-end test project restores {id} {version} (see its csproj).");
        string target = Path.Combine(FeedDirectory, $"{lower}.{version}.nupkg");
        try
        {
            File.CreateSymbolicLink(target, source);
        }
        catch (IOException)
        {
            File.Copy(source, target);
        }
        catch (UnauthorizedAccessException)
        {
            File.Copy(source, target);
        }
    }

    private static string NuGetPackagesFolder() =>
        System.Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(System.Environment.GetFolderPath(System.Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}

[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "package feed";
}
