namespace Compression.Onnx.Tests;

/// <summary>A fresh folder under the system's temporary folder, deleted with everything in it on dispose.</summary>
internal sealed class TemporaryFolder : IDisposable
{
    public TemporaryFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "Compression.Onnx.Tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string relativePath) => System.IO.Path.Combine(Path, relativePath);

    /// <summary>The names of everything in the folder and below it, relative to it, sorted.</summary>
    public string[] Contents()
    {
        var entries = Directory.GetFileSystemEntries(Path, "*", SearchOption.AllDirectories);
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = System.IO.Path.GetRelativePath(Path, entries[i]);
        }

        Array.Sort(entries, StringComparer.Ordinal);
        return entries;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the system cleans its temporary folder.
        }
    }
}
