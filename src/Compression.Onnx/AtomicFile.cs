namespace Compression.Onnx;

/// <summary>
/// Writes a file so that readers see either the old file or the whole new one: the content goes to a
/// temporary file in the same folder, which then replaces the destination with a rename.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="fullPath"/> with what <paramref name="writeContent"/> writes to a stream.</summary>
    /// <param name="fullPath">The destination, a full path.</param>
    /// <param name="what">What the file holds, for messages, e.g. "the ONNX model".</param>
    /// <param name="writeContent">Writes the whole content to the stream it is given.</param>
    /// <exception cref="DirectoryNotFoundException">The destination's folder does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">The folder or the destination is not writable.</exception>
    /// <exception cref="IOException">Writing or replacing failed; the message names the destination.</exception>
    public static void Write(string fullPath, string what, Action<Stream> writeContent)
    {
        string directory = Path.GetDirectoryName(fullPath)
            ?? throw new ArgumentException($"Cannot save {what} to '{fullPath}': the path names no file.", nameof(fullPath));
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException(
                $"Cannot save {what} to '{fullPath}': the folder '{directory}' does not exist. Create the folder first.");
        }

        string temporaryPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporaryPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                writeContent(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporaryPath, fullPath, overwrite: true);
        }
        catch (UnauthorizedAccessException ex)
        {
            DeleteQuietly(temporaryPath);
            throw new UnauthorizedAccessException(
                $"Cannot save {what} to '{fullPath}': writing in '{directory}' or replacing the file is not permitted ({ex.Message}).", ex);
        }
        catch (IOException ex)
        {
            DeleteQuietly(temporaryPath);
            throw new IOException($"Cannot save {what} to '{fullPath}': {ex.Message}", ex);
        }
        catch
        {
            DeleteQuietly(temporaryPath);
            throw;
        }
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // The original failure is the one to report.
        }
        catch (UnauthorizedAccessException)
        {
            // The original failure is the one to report.
        }
    }
}
