namespace Compression.Core;

/// <summary>A file the compressor writes: where, what it is (for messages), and its bytes.</summary>
internal sealed record OutputFile(string Path, string What, byte[] Content)
{
    /// <summary>A file the compressor wrote already, in a folder on the destination's volume (the external data, too large
    /// to hold in memory): it is moved into place with the others instead of <see cref="Content"/> being written.</summary>
    public static OutputFile Staged(string path, string what, string stagedPath) => new(path, what, []) { StagedPath = stagedPath };

    /// <summary>The staged file that becomes this file, or null when <see cref="Content"/> is written.</summary>
    public string? StagedPath { get; private init; }
}

/// <summary>
/// Writes the files of one compression together: each goes to a temporary file beside its destination, then all
/// replace their destinations; if any step fails, the files already replaced are restored from backups, and
/// temporary files, backups and folders created on the way are removed. So a failure leaves the previous outputs
/// (or none) and never a mix.
/// </summary>
internal static class OutputFiles
{
    /// <summary>Writes every file or none.</summary>
    /// <exception cref="CompressionException">A file could not be written (OCB0004); nothing was changed.</exception>
    public static void WriteAll(IReadOnlyList<OutputFile> files, string modelPath)
    {
        var createdFolders = new List<string>();
        var staged = new List<(OutputFile File, string Temporary)>();
        var committed = new List<(OutputFile File, string? Backup)>();
        OutputFile current = files[0];
        try
        {
            foreach (OutputFile file in files)
            {
                current = file;
                CreateFolder(Path.GetDirectoryName(file.Path)!, createdFolders);
                string temporary = SiblingPath(file.Path, "tmp");
                staged.Add((file, temporary));
                if (file.StagedPath is not null)
                {
                    File.Move(file.StagedPath, temporary, overwrite: false);
                    continue;
                }

                using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                stream.Write(file.Content);
                stream.Flush(flushToDisk: true);
            }

            foreach ((OutputFile file, string temporary) in staged)
            {
                current = file;
                if (File.Exists(file.Path))
                {
                    // File.Replace keeps the earlier file as a backup (a hard link where it can) and renames atomically.
                    string backup = SiblingPath(file.Path, "bak");
                    File.Replace(temporary, file.Path, backup, ignoreMetadataErrors: true);
                    committed.Add((file, backup));
                }
                else
                {
                    File.Move(temporary, file.Path, overwrite: false);
                    committed.Add((file, null));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Undo(committed, staged, createdFolders);
            throw new CompressionException(DiagnosticCodes.OutputNotWritten, modelPath,
                $"Could not write {current.What} to '{current.Path}': {e.Message} Check that the folder is writable and the file is not in use. " +
                "Nothing was written.", e);
        }

        foreach ((_, string? backup) in committed)
        {
            DeleteQuietly(backup);
        }
    }

    private static void Undo(List<(OutputFile File, string? Backup)> committed, List<(OutputFile File, string Temporary)> staged, List<string> createdFolders)
    {
        for (int i = committed.Count - 1; i >= 0; i--)
        {
            (OutputFile file, string? backup) = committed[i];
            try
            {
                if (backup is not null)
                {
                    File.Move(backup, file.Path, overwrite: true);
                }
                else
                {
                    File.Delete(file.Path);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The original failure is the one to report.
            }
        }

        foreach ((_, string temporary) in staged)
        {
            DeleteQuietly(temporary);
        }

        for (int i = createdFolders.Count - 1; i >= 0; i--)
        {
            try
            {
                Directory.Delete(createdFolders[i], recursive: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not empty or not ours to remove: leave it.
            }
        }
    }

    /// <summary>Creates <paramref name="folder"/> and any missing parents, recording the ones it created, outermost first.</summary>
    private static void CreateFolder(string folder, List<string> created)
    {
        var missing = new Stack<string>();
        for (string? dir = folder; dir is not null && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir))
        {
            missing.Push(dir);
        }

        while (missing.Count > 0)
        {
            string dir = missing.Pop();
            Directory.CreateDirectory(dir);
            created.Add(dir);
        }
    }

    private static string SiblingPath(string path, string extension) =>
        Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.{extension}");

    private static void DeleteQuietly(string? path)
    {
        if (path is null)
        {
            return;
        }

        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover backup or temporary file must not turn a success or the original failure into another error.
        }
    }
}
