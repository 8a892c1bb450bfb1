using System.Security.Cryptography;
using System.Text;

namespace Compression.Core;

/// <summary>A file the compressor writes: where, what it is (for messages), and its bytes.</summary>
internal sealed record OutputFile(string Path, string What, byte[] Content)
{
    /// <summary>A file the compressor wrote already, in a folder on the destination's volume (the external data, too large
    /// to hold in memory): it is moved into place with the others instead of <see cref="Content"/> being written.</summary>
    public static OutputFile Staged(string path, string what, string stagedPath) => new(path, what, []) { StagedPath = stagedPath };

    /// <summary>A file an earlier compression wrote that this one must not leave behind (a data file the new model no
    /// longer uses): it is removed with the others replaced, and put back if the write fails.</summary>
    public static OutputFile Removed(string path, string what) => new(path, what, []) { IsRemoved = true };

    /// <summary>The staged file that becomes this file, or null when <see cref="Content"/> is written.</summary>
    public string? StagedPath { get; private init; }

    /// <summary>True when the file is removed rather than written.</summary>
    public bool IsRemoved { get; private init; }
}

/// <summary>
/// Writes the files of one compression as one unit. One of them, the record (the model's signature), says that the
/// set is complete: it is moved aside before any other file is replaced and put in place after all of them, so
/// whenever the record is present the other files are all of the same run, and a set without its record is absent
/// (the build then compresses the model again; the generator gets no signature). A kill at any point leaves the old
/// set, the new set, or no record.
/// <para>
/// Runs writing the same outputs take turns on a lock (an OS file lock, which a killed process drops). The run
/// holding it first removes what an interrupted run left (temporary files and backups), then writes each file to a
/// temporary file beside its destination, moves the record aside, replaces the files, and puts the new record in place.
/// If a step fails, the files already replaced are restored from their backups, and temporary files, backups and
/// folders created on the way are removed: a failure leaves the previous outputs (or none) and never a mix.
/// </para>
/// </summary>
internal static class OutputFiles
{
    /// <summary>
    /// The environment variable that makes the writer stop at a named step (<c>locked</c>,
    /// <c>cleaned</c>, <c>staged</c>, <c>record-removed</c>, <c>replaced:NAME</c> after each file but the record,
    /// <c>record-written</c>, <c>done</c>): it prints
    /// <c>onnx-compress: paused at STEP</c> on stderr and waits to be killed. For the tests that kill a run between steps.
    /// </summary>
    internal const string PauseVariable = "ONNX_COMPRESS_TEST_PAUSE_AT";

    private const int RecordIndex = 1;

    /// <summary>Writes every file or none; <paramref name="files"/>[1] is the record (the signature), the others
    /// may come in any order.</summary>
    /// <exception cref="CompressionException">A file could not be written (OCB0004); nothing was changed.</exception>
    public static void WriteAll(IReadOnlyList<OutputFile> files, string modelPath)
    {
        OutputFile current = files[0];
        try
        {
            using FileStream turn = TakeTurn(files[0].Path);
            Pause("locked");
            foreach (OutputFile file in files)
            {
                current = file;
                RemoveLeftovers(file.Path);
            }

            Pause("cleaned");
            Write(files, modelPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCodes.OutputNotWritten, modelPath,
                $"Could not write {current.What} to '{current.Path}': {e.Message} Check that the folder is writable and the file is not in use. " +
                "Nothing was written.", e);
        }
    }

    private static void Write(IReadOnlyList<OutputFile> files, string modelPath)
    {
        var createdFolders = new List<string>();
        var staged = new List<(OutputFile File, string? Temporary)>();
        var committed = new List<(OutputFile File, string? Backup)>();
        OutputFile current = files[0];
        OutputFile record = files[RecordIndex];
        string? recordBackup = null;
        try
        {
            foreach (OutputFile file in files)
            {
                current = file;
                if (file.IsRemoved)
                {
                    staged.Add((file, null));
                    continue;
                }

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

            Pause("staged");
            current = record;
            if (File.Exists(record.Path))
            {
                // From here until the new record is in place the set is absent, never a mix.
                recordBackup = SiblingPath(record.Path, "bak");
                File.Move(record.Path, recordBackup);
            }

            Pause("record-removed");
            for (int i = 0; i < staged.Count; i++)
            {
                if (i == RecordIndex)
                {
                    continue;
                }

                (OutputFile file, string? temporary) = staged[i];
                current = file;
                if (temporary is null)
                {
                    // A file the new set does not have: kept as a backup until the record is written, like a replaced one.
                    if (File.Exists(file.Path))
                    {
                        string backup = SiblingPath(file.Path, "bak");
                        File.Move(file.Path, backup);
                        committed.Add((file, backup));
                    }

                    continue;
                }

                committed.Add((file, Replace(temporary, file.Path)));
                Pause("replaced:" + Path.GetFileName(file.Path));
            }

            current = record;
            File.Move(staged[RecordIndex].Temporary!, record.Path, overwrite: false);
            committed.Add((record, null));
            Pause("record-written");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Undo(committed, staged, createdFolders, record, recordBackup);
            throw new CompressionException(DiagnosticCodes.OutputNotWritten, modelPath,
                $"Could not write {current.What} to '{current.Path}': {e.Message} Check that the folder is writable and the file is not in use. " +
                "Nothing was written.", e);
        }

        foreach ((_, string? backup) in committed)
        {
            DeleteQuietly(backup);
        }

        DeleteQuietly(recordBackup);
        Pause("done");
    }

    /// <summary>Moves <paramref name="temporary"/> onto <paramref name="destination"/>; returns the backup of the earlier file, or null.</summary>
    private static string? Replace(string temporary, string destination)
    {
        if (!File.Exists(destination))
        {
            File.Move(temporary, destination, overwrite: false);
            return null;
        }

        // File.Replace keeps the earlier file as a backup (a hard link where it can) and renames atomically.
        string backup = SiblingPath(destination, "bak");
        File.Replace(temporary, destination, backup, ignoreMetadataErrors: true);
        return backup;
    }

    /// <summary>
    /// Waits for other runs writing the same outputs to finish, and holds them off until the returned stream is closed.
    /// The lock file lives in the system's temporary folder, named after the model's output path, so the output folder
    /// holds only the outputs.
    /// </summary>
    private static FileStream TakeTurn(string outputPath)
    {
        string key = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? outputPath.ToUpperInvariant() : outputPath;
        string folder = Path.Combine(Path.GetTempPath(), "onnx-compress-locks");
        Directory.CreateDirectory(folder);
        string lockPath = Path.Combine(folder, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))) + ".lock");
        var wait = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive lock (flock on Unix), which the OS drops when the process ends, killed or not.
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException) when (File.Exists(lockPath))
            {
                Thread.Sleep(wait);
                wait = TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds * 2, 200));
            }
        }
    }

    /// <summary>
    /// Removes the temporary files and backups an interrupted run left beside <paramref name="path"/>
    /// (<c>.NAME.GUID.tmp</c>, <c>.NAME.GUID.bak</c>). Only the run holding the turn writes such files, so none is in use.
    /// </summary>
    private static void RemoveLeftovers(string path)
    {
        string folder = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(folder))
        {
            return;
        }

        string name = Path.GetFileName(path);
        foreach (string candidate in Directory.EnumerateFiles(folder, $".{name}.*"))
        {
            string suffix = Path.GetFileName(candidate)[(name.Length + 2)..];
            if (IsLeftoverSuffix(suffix))
            {
                File.Delete(candidate);
            }
        }
    }

    /// <summary>Whether <paramref name="suffix"/> is <c>GUID.tmp</c> or <c>GUID.bak</c>, as <see cref="SiblingPath"/> names them.</summary>
    private static bool IsLeftoverSuffix(string suffix) =>
        suffix.Length == 36
        && (suffix.EndsWith(".tmp", StringComparison.Ordinal) || suffix.EndsWith(".bak", StringComparison.Ordinal))
        && suffix.AsSpan(0, 32).ContainsAnyExcept("0123456789abcdef") is false;

    private static void Pause(string step)
    {
        string? pauseAt = Environment.GetEnvironmentVariable(PauseVariable);
        if (pauseAt is null || !string.Equals(pauseAt, step, StringComparison.Ordinal))
        {
            return;
        }

        Console.Error.WriteLine($"onnx-compress: paused at {step}");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }

    private static void Undo(
        List<(OutputFile File, string? Backup)> committed,
        List<(OutputFile File, string? Temporary)> staged,
        List<string> createdFolders,
        OutputFile record,
        string? recordBackup)
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

        if (recordBackup is not null)
        {
            try
            {
                // The record goes back last: the earlier set is whole again.
                File.Move(recordBackup, record.Path, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The original failure is the one to report.
            }
        }

        foreach ((_, string? temporary) in staged)
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
            // A leftover backup or temporary file must not turn a success or the original failure into another error;
            // the next run on these outputs removes it.
        }
    }
}
