namespace Compression.Core;

/// <summary>
/// A hidden folder beside a compression's output where a model with external data is written before it is validated
/// (ONNX Runtime reads the model and its data file from there) and then moved into place with the other outputs, a
/// rename on the same volume. Disposing it removes the folder with whatever is left in it, and the output folders it
/// had to create when they stay empty, so a failure leaves nothing behind.
/// </summary>
internal sealed class StagingFolder : IDisposable
{
    private readonly List<string> createdFolders;

    private StagingFolder(string path, List<string> createdFolders)
    {
        Path = path;
        this.createdFolders = createdFolders;
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>Creates a staging folder beside <paramref name="outputPath"/>, and the output's folder when it is missing.</summary>
    /// <exception cref="CompressionException">The folder cannot be created (OCB0004).</exception>
    public static StagingFolder Create(string outputPath, string modelPath)
    {
        string outputFolder = System.IO.Path.GetDirectoryName(outputPath)!;
        string path = System.IO.Path.Combine(outputFolder, $".{System.IO.Path.GetFileName(outputPath)}.{Guid.NewGuid():N}.staging");
        var created = new List<string>();
        try
        {
            var missing = new Stack<string>();
            for (string? dir = outputFolder; dir is not null && !Directory.Exists(dir); dir = System.IO.Path.GetDirectoryName(dir))
            {
                missing.Push(dir);
            }

            while (missing.Count > 0)
            {
                string dir = missing.Pop();
                Directory.CreateDirectory(dir);
                created.Add(dir);
            }

            Directory.CreateDirectory(path);
            created.Add(path);
            return new StagingFolder(path, created);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            new StagingFolder(path, created).Dispose();
            throw new CompressionException(DiagnosticCodes.OutputNotWritten, modelPath,
                $"Could not create the folder '{path}' to write the compressed model and its external data in: {e.Message} " +
                "Check that the output folder is writable. Nothing was written.", e);
        }
    }

    /// <summary>The path of a file named <paramref name="name"/> in the folder.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <inheritdoc />
    public void Dispose()
    {
        for (int i = createdFolders.Count - 1; i >= 0; i--)
        {
            try
            {
                // The staging folder goes with its contents; the output folders only while they are empty.
                Directory.Delete(createdFolders[i], recursive: createdFolders[i] == Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not empty (the outputs are in it) or not ours to remove: leave it.
            }
        }
    }
}
