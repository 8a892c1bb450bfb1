using System.IO.Compression;
using System.Text;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// A local folder feed with this repository's packages, packed once for all end-to-end tests, plus a package that
/// ships ONNX Runtime's native library in the layout of Microsoft.ML.OnnxRuntime (runtimes/&lt;rid&gt;/native/),
/// which is not on this project's NuGet feed. Apps restore from it into a packages folder of their own, so that no
/// earlier copy of the same version in the user's NuGet cache is used.
/// </summary>
public sealed class PackageFeed : IDisposable
{
    public const string Version = "0.1.0";
    public const string NativeRuntimePackage = "Test.OnnxRuntime.Native";
    public const string NativeRuntimeVersion = "1.23.2";

    public PackageFeed()
    {
        Root = Directory.CreateTempSubdirectory("compression-build-e2e-").FullName;
        FeedDirectory = Directory.CreateDirectory(Path.Combine(Root, "feed")).FullName;
        PackagesDirectory = Directory.CreateDirectory(Path.Combine(Root, "packages")).FullName;

        var environment = new Dictionary<string, string?>();
        TimeSpan timeout = TimeSpan.FromMinutes(10);
        DotNet.Run(RepositoryPaths.Root, environment, timeout, "pack", "src/Compression.Build/Compression.Build.csproj", "-c", "Release", "-o", FeedDirectory)
            .ShouldSucceed("dotnet pack Compression.Build");
        DotNet.Run(RepositoryPaths.Root, environment, timeout, "pack", "src/Compression.Runtime/Compression.Runtime.csproj", "-c", "Release", "--no-build", "-o", FeedDirectory)
            .ShouldSucceed("dotnet pack Compression.Runtime");
        DotNet.Run(RepositoryPaths.Root, environment, timeout, "pack", "src/Compression.Cli/Compression.Cli.csproj", "-c", "Release", "--no-build", "-o", FeedDirectory)
            .ShouldSucceed("dotnet pack Compression.Cli");
        WriteNativeRuntimePackage();
    }

    /// <summary>The temporary folder that holds the feed, the packages folder and the apps.</summary>
    public string Root { get; }

    public string FeedDirectory { get; }

    public string PackagesDirectory { get; }

    /// <summary>The environment every dotnet command of an app runs with.</summary>
    public IReadOnlyDictionary<string, string?> Environment => new Dictionary<string, string?>
    {
        ["NUGET_PACKAGES"] = PackagesDirectory,
    };

    /// <summary>A NuGet.config that restores only from this feed.</summary>
    public string NuGetConfig => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <clear />
            <add key="local" value="{FeedDirectory}" />
          </packageSources>
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

    private void WriteNativeRuntimePackage()
    {
        string path = Path.Combine(FeedDirectory, $"{NativeRuntimePackage}.{NativeRuntimeVersion}.nupkg");
        using ZipArchive zip = ZipFile.Open(path, ZipArchiveMode.Create);
        WriteText(zip, $"{NativeRuntimePackage}.nuspec", $"""
            <?xml version="1.0" encoding="utf-8"?>
            <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
              <metadata>
                <id>{NativeRuntimePackage}</id>
                <version>{NativeRuntimeVersion}</version>
                <authors>Compression.Build tests</authors>
                <description>ONNX Runtime's native library in the layout of Microsoft.ML.OnnxRuntime, for tests.</description>
              </metadata>
            </package>
            """);
        WriteText(zip, "[Content_Types].xml", """
            <?xml version="1.0" encoding="utf-8"?>
            <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
              <Default Extension="nuspec" ContentType="application/octet" />
              <Default Extension="so" ContentType="application/octet" />
            </Types>
            """);
        zip.CreateEntryFromFile(AssemblyMetadata.OnnxRuntimeLibraryPath, "runtimes/linux-x64/native/libonnxruntime.so", CompressionLevel.Fastest);
    }

    private static void WriteText(ZipArchive zip, string name, string text)
    {
        using Stream stream = zip.CreateEntry(name).Open();
        stream.Write(Encoding.UTF8.GetBytes(text));
    }
}

[CollectionDefinition(Name)]
public sealed class PackageFeedCollection : ICollectionFixture<PackageFeed>
{
    public const string Name = "package feed";
}
