using System.Diagnostics;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Text;
using Xunit.Abstractions;

namespace Compression.Build.EndToEnd.Tests;

/// <summary>
/// SourceLink, as the .NET SDK brings it: in a clone whose `origin` is the project's repository, a PDB maps its sources to
/// that repository at the commit built; in a clone without a remote the build succeeds the same, without the map.
/// </summary>
[Trait("Category", "Slow")]
public sealed class SourceLinkTests
{
    /// <summary>The custom debug information that holds a PDB's SourceLink JSON.</summary>
    private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private readonly ITestOutputHelper log;

    public SourceLinkTests(ITestOutputHelper log)
    {
        this.log = log;
    }

    [Fact]
    public void A_clone_with_an_origin_maps_its_sources_to_the_commit_and_one_without_builds_without_the_map()
    {
        using var folder = new TemporaryFolder();
        string clone = Path.Combine(folder.Path, "clone");
        Git(folder.Path, "clone", "--quiet", RepositoryPaths.Root, clone);
        string commit = Git(clone, "rev-parse", "HEAD").Trim();
        Git(clone, "remote", "remove", "origin");
        Git(clone, "remote", "add", "origin", "https://github.com/compression-build/compression-build.git");
        string pdb = Path.Combine(clone, "src", "Compression.Onnx", "bin", "Release", "net8.0", "Compression.Onnx.pdb");

        Build(clone);
        string sourceLink = SourceLinkJson(pdb) ?? throw new Xunit.Sdk.XunitException($"{pdb} has no SourceLink");
        Assert.Contains($"https://raw.githubusercontent.com/compression-build/compression-build/{commit}/*", sourceLink, StringComparison.Ordinal);

        // No remote: the same build succeeds (no warning, which the repository treats as an error) and the PDB has no map.
        Git(clone, "remote", "remove", "origin");
        Directory.Delete(Path.Combine(clone, "src", "Compression.Onnx", "bin"), recursive: true);
        Directory.Delete(Path.Combine(clone, "src", "Compression.Onnx", "obj"), recursive: true);
        Build(clone);
        Assert.Null(SourceLinkJson(pdb));
    }

    private void Build(string clone)
    {
        ProcessResult build = DotNet.Run(clone, new Dictionary<string, string?>(), Timeout, "build", "src/Compression.Onnx/Compression.Onnx.csproj", "-c", "Release");
        log.WriteLine($"$ dotnet build (exit {build.ExitCode})\n{build.Output}");
        build.ShouldSucceed("dotnet build in the clone");
    }

    private static string? SourceLinkJson(string pdb)
    {
        using var stream = File.OpenRead(pdb);
        using var provider = MetadataReaderProvider.FromPortablePdbStream(stream);
        MetadataReader reader = provider.GetMetadataReader();
        foreach (CustomDebugInformationHandle handle in reader.GetCustomDebugInformation(EntityHandle.ModuleDefinition))
        {
            CustomDebugInformation information = reader.GetCustomDebugInformation(handle);
            if (reader.GetGuid(information.Kind) == SourceLinkKind)
            {
                return Encoding.UTF8.GetString(reader.GetBlobBytes(information.Value));
            }
        }

        return null;
    }

    private string Git(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        log.WriteLine($"$ git {string.Join(' ', arguments)} (exit {process.ExitCode})\n{output}{errors}");
        Assert.True(process.ExitCode == 0, $"git {string.Join(' ', arguments)} failed:\n{errors}");
        return output;
    }
}
