using System.IO.Compression;
using System.Text.RegularExpressions;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// What a user sees of the two packages before installing them, and what a debugger finds: icon, readme, project and
/// repository, the development-dependency flag, a version newer than any earlier pack, and a symbol package beside each.
/// </summary>
[Collection(PackageFeedCollection.Name)]
[Trait("Category", "Slow")]
public sealed class PackageMetadataTests
{
    private const string ProjectUrl = "https://github.com/compression-build/compression-build";
    private readonly PackageFeed feed;

    public PackageMetadataTests(PackageFeed feed)
    {
        this.feed = feed;
    }

    [Theory]
    [InlineData("Compression.Build", "# Compression.Build")]
    [InlineData("Compression.Cli", "# onnx-compress")]
    public void Each_package_has_an_icon_its_readme_the_project_and_repository_and_a_symbol_package(string id, string readmeTitle)
    {
        string version = id == "Compression.Build" ? feed.Version : feed.CliVersion;
        // A prerelease stamped with the time of the pack: a later pack is a newer version than any copy in a NuGet cache.
        Assert.Matches(new Regex(@"^0\.1\.0-dev\.20\d{12}$"), version);

        string packagePath = feed.PackagePath(id, version);
        string nuspec = PackageFeed.ReadNuspec(packagePath, id);
        Assert.Contains("<icon>icon.png</icon>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<readme>README.md</readme>", nuspec, StringComparison.Ordinal);
        Assert.Contains($"<projectUrl>{ProjectUrl}</projectUrl>", nuspec, StringComparison.Ordinal);
        Assert.Contains($"<repository type=\"git\" url=\"{ProjectUrl}\"", nuspec, StringComparison.Ordinal);

        using (ZipArchive package = ZipFile.OpenRead(packagePath))
        {
            string[] entries = package.Entries.Select(e => e.FullName).ToArray();
            byte[] icon = ReadEntry(package, "icon.png");
            Assert.Equal(File.ReadAllBytes(Path.Combine(RepositoryPaths.Root, "build", "icon", "icon.png")), icon);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, icon[..4]);
            Assert.StartsWith(readmeTitle + "\n", System.Text.Encoding.UTF8.GetString(ReadEntry(package, "README.md")).ReplaceLineEndings("\n"), StringComparison.Ordinal);

            // The tool speaks English: no System.CommandLine translations (de/, fr/, ... with *.resources.dll) in tools/.
            Assert.Contains(entries, e => e.StartsWith("tools/net8.0/any/System.CommandLine.dll", StringComparison.Ordinal));
            Assert.DoesNotContain(entries, e => e.StartsWith("tools/", StringComparison.Ordinal) && e.EndsWith(".resources.dll", StringComparison.Ordinal));
            Assert.DoesNotContain(entries, e => e.StartsWith("tools/net8.0/any/", StringComparison.Ordinal) && e["tools/net8.0/any/".Length..].Contains('/', StringComparison.Ordinal));
        }

        // The symbol package holds the compressor's PDBs, at the paths of their assemblies.
        string symbols = Path.ChangeExtension(packagePath, ".snupkg");
        Assert.True(File.Exists(symbols), $"{symbols} is missing");
        using ZipArchive symbolPackage = ZipFile.OpenRead(symbols);
        string[] pdbs = symbolPackage.Entries.Select(e => e.FullName).Where(e => e.EndsWith(".pdb", StringComparison.Ordinal)).ToArray();
        Assert.Contains("tools/net8.0/any/onnx-compress.pdb", pdbs);
        Assert.Contains("tools/net8.0/any/Compression.Core.pdb", pdbs);
    }

    [Fact]
    public void Compression_Build_is_a_development_dependency_and_the_tool_is_not()
    {
        Assert.Contains("<developmentDependency>true</developmentDependency>", PackageFeed.ReadNuspec(feed.PackagePath("Compression.Build", feed.Version), "Compression.Build"), StringComparison.Ordinal);
        Assert.DoesNotContain("developmentDependency", PackageFeed.ReadNuspec(feed.PackagePath("Compression.Cli", feed.CliVersion), "Compression.Cli"), StringComparison.Ordinal);
    }

    private static byte[] ReadEntry(ZipArchive package, string name)
    {
        ZipArchiveEntry? entry = package.GetEntry(name);
        Assert.True(entry is not null, $"{name} is missing from the package");
        using Stream stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
