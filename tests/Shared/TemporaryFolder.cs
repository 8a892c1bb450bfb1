namespace Compression.Testing;

/// <summary>A fresh folder under the system's temporary folder, deleted with everything in it on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder()
    {
        string prefix = typeof(TemporaryFolder).Assembly.GetName().Name + "-";
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A path inside the folder.</summary>
    public string File(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Every file under the folder, as paths relative to it, sorted.</summary>
    public IReadOnlyList<string> ListFiles() => Relative(Directory.GetFiles(Path, "*", SearchOption.AllDirectories));

    /// <summary>Everything under the folder, files and folders, as paths relative to it, sorted.</summary>
    public string[] Contents() => Relative(Directory.GetFileSystemEntries(Path, "*", SearchOption.AllDirectories));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary folder must not fail a test.
        }
    }

    private string[] Relative(string[] paths) =>
        paths.Select(p => System.IO.Path.GetRelativePath(Path, p)).Order(StringComparer.Ordinal).ToArray();
}
