using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Compression.Core.Reporting;
using Compression.Core.Settings;
using Compression.Core.Signature;

namespace Compression.Core;

/// <summary>
/// A content-addressed store of finished compressions, shared by every build that names the same folder (both target
/// frameworks of a project, its Debug build and its Release publish, a CI cache, a network share). An entry's key is the
/// SHA-256 of everything that makes the outputs' bytes: the model and its external data files, every resolved setting
/// with its source, the contents of the files and folders settings name (overrides file, validation and calibration
/// samples), the model's name in the report and the output's file name, and the compressor itself (its version and the
/// contents of its assemblies, so a rebuilt compressor never reuses an older entry).
/// <para>
/// An entry is a folder named after its key holding fixed file names (<see cref="ModelName"/>, <see cref="DataName"/>,
/// <see cref="SignatureName"/>, <see cref="ReportName"/>) and a manifest with each file's size and SHA-256. It is written
/// in a temporary folder inside the cache and renamed into place whole; a run that loses a race to store the same key
/// discards its copy. The cache is untrusted input: a hit reads only the fixed names, never links, and checks every byte
/// against the manifest, so a changed, truncated or missing file is found, the entry removed and the model compressed
/// again (warning OCB0203). A cache that cannot be read or written is a warning (OCB0204), never a failed compression.
/// </para>
/// </summary>
internal sealed class CompressionCache
{
    /// <summary>The compressed model in an entry.</summary>
    internal const string ModelName = "model.onnx";

    /// <summary>The compressed model's external data in an entry, when it has one.</summary>
    internal const string DataName = "model.onnx.data";

    /// <summary>The signature in an entry.</summary>
    internal const string SignatureName = "signature";

    /// <summary>The JSON report in an entry.</summary>
    internal const string ReportName = "report.json";

    /// <summary>The list of an entry's files with their sizes and hashes.</summary>
    internal const string ManifestName = "manifest";

    /// <summary>
    /// The environment variable that names a folder where runs about to put an entry in place meet: each adds a file to it
    /// and waits (30 s at most) until the folder holds as many files as the variable's second part says
    /// (<c>FOLDER|COUNT</c>). For the tests that make concurrent runs store the same key at the same moment.
    /// </summary>
    internal const string BarrierVariable = "ONNX_COMPRESS_TEST_CACHE_BARRIER";

    private const string ManifestHeader = "onnx-compress cache entry 1";
    private const string TemporaryPrefix = ".tmp-";
    private const string TrashPrefix = ".trash-";
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromDays(1);
    private static readonly Lazy<string> Compressor = new(CompressorIdentity);

    private readonly string modelPath;
    private readonly List<CompressionWarning> warnings;

    private CompressionCache(string folder, string key, string modelPath, List<CompressionWarning> warnings)
    {
        Folder = folder;
        Key = key;
        this.modelPath = modelPath;
        this.warnings = warnings;
    }

    /// <summary>The cache folder.</summary>
    public string Folder { get; }

    /// <summary>The key of this compression: 64 hexadecimal digits, upper case.</summary>
    public string Key { get; }

    /// <summary>The entry's folder.</summary>
    public string EntryPath => Path.Combine(Folder, Key);

    /// <summary>
    /// The cache entry of one compression: computes its key from the model, its external data files, the resolved settings
    /// and the files they name. Files that cannot be read make no key (a warning; the model is compressed as if uncached).
    /// </summary>
    /// <param name="folder">The cache folder.</param>
    /// <param name="inputPath">The original model, a full path.</param>
    /// <param name="externalFiles">Its external data files, full paths.</param>
    /// <param name="settings">The resolved settings.</param>
    /// <param name="sourceName">The model's name in the signature and report.</param>
    /// <param name="outputPath">The compressed model's path: its file name is in the report and names the data file.</param>
    /// <param name="warnings">Where the cache's own warnings go (never into the report).</param>
    public static CompressionCache? Open(string folder, string inputPath, IReadOnlyList<string> externalFiles, ResolvedSettings settings,
        string sourceName, string outputPath, List<CompressionWarning> warnings)
    {
        string full = Path.GetFullPath(folder);
        string key;
        try
        {
            key = ComputeKey(inputPath, externalFiles, settings, sourceName, Path.GetFileName(outputPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            warnings.Add(new CompressionWarning(DiagnosticCodes.CacheNotUsable,
                $"The compression cache '{full}' was not used: a file the key is made of could not be read ({e.Message}). The model was compressed without it."));
            return null;
        }

        return new CompressionCache(full, key, inputPath, warnings);
    }

    /// <summary>
    /// The key: SHA-256 over length-prefixed fields, so that no two different inputs give the same text.
    /// </summary>
    internal static string ComputeKey(string inputPath, IReadOnlyList<string> externalFiles, ResolvedSettings settings, string sourceName, string outputName) =>
        ComputeKey("onnx-compress cache key 1", inputPath, externalFiles, settings, sourceName, outputName, _ => true);

    /// <summary>
    /// The key of a model's sensitivity table (<c>Compress=auto</c>): as <see cref="ComputeKey(string, IReadOnlyList{string}, ResolvedSettings, string, string)"/>
    /// but without the settings <paramref name="include"/> leaves out (the budget, the time limit) and the model's names, so
    /// that a search with another budget, or of the same model under another name, reuses the table.
    /// </summary>
    internal static string ComputeSearchKey(string inputPath, IReadOnlyList<string> externalFiles, ResolvedSettings settings, Func<string, bool> include) =>
        ComputeKey("onnx-compress sensitivity table 1", inputPath, externalFiles, settings, string.Empty, string.Empty, include);

    private static string ComputeKey(string purpose, string inputPath, IReadOnlyList<string> externalFiles, ResolvedSettings settings, string sourceName, string outputName,
        Func<string, bool> include)
    {
        var text = new StringBuilder();
        Field(text, purpose);
        Field(text, "compressor", Compressor.Value);
        Field(text, "source", sourceName);
        Field(text, "output", outputName);
        Field(text, "model", HashFile(inputPath));
        string modelFolder = Path.GetDirectoryName(inputPath)!;
        foreach (string file in externalFiles)
        {
            Field(text, "external", Path.GetRelativePath(modelFolder, file).Replace('\\', '/'), HashFile(file));
        }

        foreach (ResolvedSettingReport setting in settings.Report().Where(s => include(s.Name)))
        {
            Field(text, "setting", setting.Name, setting.Value, setting.Source);
        }

        // What the files and folders that settings name hold, not only where they are.
        foreach (PathSetting setting in SettingsCatalog.All.OfType<PathSetting>())
        {
            string path = settings.Get(setting);
            if (path.Length == 0)
            {
                continue;
            }

            if (!setting.IsFolder)
            {
                Field(text, "file", setting.Name, File.Exists(path) ? HashFile(path) : "missing");
                continue;
            }

            if (!Directory.Exists(path))
            {
                Field(text, "folder", setting.Name, "missing");
                continue;
            }

            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Select(f => (Relative: Path.GetRelativePath(path, f).Replace('\\', '/'), Full: f))
                .OrderBy(f => f.Relative, StringComparer.Ordinal);
            foreach ((string relative, string file) in files)
            {
                Field(text, "folder", setting.Name, relative, HashFile(file));
            }
        }

        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>
    /// Reads this compression's entry: null when there is none, or when it is not whole (it is then removed, with warning
    /// OCB0203). The data file, when the entry has one, is copied to a staging folder beside <paramref name="outputPath"/>.
    /// </summary>
    /// <exception cref="CompressionException">The staging folder beside the output cannot be created (OCB0004).</exception>
    public CachedCompression? Read(string outputPath)
    {
        string entry = EntryPath;
        if (!Directory.Exists(entry))
        {
            return null;
        }

        StagingFolder? staging = null;
        try
        {
            if (new DirectoryInfo(entry).LinkTarget is not null)
            {
                throw new InvalidDataException("the entry is a link, not a folder");
            }

            Dictionary<string, (long Size, string Hash)> manifest = ReadManifest(entry);
            byte[] model = ReadChecked(entry, ModelName, manifest);
            byte[] signatureText = ReadChecked(entry, SignatureName, manifest);
            byte[] reportJson = ReadChecked(entry, ReportName, manifest);
            string? data = null;
            if (manifest.ContainsKey(DataName))
            {
                staging = StagingFolder.Create(outputPath, modelPath);
                data = staging.File(Path.GetFileName(outputPath) + ModelCompressor.ExternalDataSuffix);
                CopyChecked(entry, DataName, manifest, data);
            }

            ModelSignature signature = ModelSignature.Parse(Encoding.UTF8.GetString(signatureText));
            CompressionReport report = CompressionReport.FromJson(Encoding.UTF8.GetString(reportJson));
            var result = new CachedCompression(model, signatureText, reportJson, data, staging, signature, report);
            staging = null;
            return result;
        }
        catch (UnauthorizedAccessException e)
        {
            // Not ours to read (a shared folder without the rights): the entry may well be whole, so it stays.
            staging?.Dispose();
            warnings.Add(new CompressionWarning(DiagnosticCodes.CacheNotUsable,
                $"The compression cache entry '{entry}' could not be read ({e.Message}); the model was compressed without it. " +
                "Give this user read and write access to the folder, point OnnxCompressionCacheDir (--cache-dir) elsewhere, or set it to none."));
            return null;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException or System.Text.Json.JsonException)
        {
            staging?.Dispose();
            string reason = e is FileNotFoundException or DirectoryNotFoundException ? "a file is missing" : e.Message;
            Remove(entry);
            warnings.Add(new CompressionWarning(DiagnosticCodes.CacheEntryCorrupt,
                $"The compression cache entry '{entry}' is not whole ({reason}); it was removed and the model compressed again. " +
                "Nothing needs doing unless this repeats; then check what else writes in the cache folder."));
            return null;
        }
    }

    /// <summary>
    /// Waits while another run on this machine compresses the same key into the same cache folder, and holds off the
    /// others until the returned lock is disposed: the target frameworks of a project build in parallel, and the second
    /// then restores what the first stored instead of compressing too. The lock is an OS file lock in the system's
    /// temporary folder (the cache folder may be read-only or shared), which a killed process drops; null when it cannot
    /// be taken (the runs then compress side by side, and the store is still safe).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public IDisposable? WaitForTurn(CancellationToken cancellationToken)
    {
        string key = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? EntryPath.ToUpperInvariant() : EntryPath;
        try
        {
            string folder = Path.Combine(Path.GetTempPath(), "onnx-compress-locks");
            Directory.CreateDirectory(folder);
            string lockPath = Path.Combine(folder, "cache-" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))) + ".lock");
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
                    cancellationToken.WaitHandle.WaitOne(wait);
                    cancellationToken.ThrowIfCancellationRequested();
                    wait = TimeSpan.FromMilliseconds(Math.Min(wait.TotalMilliseconds * 2, 200));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes this compression's entry in a temporary folder inside the cache, to be renamed into place with
    /// <see cref="PendingEntry.Commit"/> once the outputs are written; null (with warning OCB0204) when the cache
    /// folder cannot be written.
    /// </summary>
    /// <param name="model">The compressed model's bytes.</param>
    /// <param name="signature">The signature's bytes.</param>
    /// <param name="report">The report's bytes.</param>
    /// <param name="dataPath">The compressed model's external data file, or null when it has none.</param>
    public PendingEntry? Prepare(byte[] model, byte[] signature, byte[] report, string? dataPath)
    {
        if (Directory.Exists(EntryPath))
        {
            // Another run stored it meanwhile.
            return null;
        }

        string temporary = Path.Combine(Folder, TemporaryPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            Directory.CreateDirectory(Folder);
            RemoveAbandoned();
            Directory.CreateDirectory(temporary);
            var manifest = new StringBuilder();
            manifest.Append(ManifestHeader).Append('\n');
            manifest.Append("key\t").Append(Key).Append('\n');
            WriteFile(temporary, ModelName, model, manifest);
            WriteFile(temporary, SignatureName, signature, manifest);
            WriteFile(temporary, ReportName, report, manifest);
            if (dataPath is not null)
            {
                using var source = new FileStream(dataPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                (long size, string hash) = CopyHashing(source, Path.Combine(temporary, DataName));
                ManifestLine(manifest, DataName, size, hash);
            }

            byte[] manifestBytes = Encoding.UTF8.GetBytes(manifest.ToString());
            WriteFile(temporary, ManifestName, manifestBytes, manifest: null);
            return new PendingEntry(this, temporary);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            DeleteFolderQuietly(temporary);
            NotWritable(e);
            return null;
        }
    }

    /// <summary>The compressor's identity in keys: its informational version and a hash of its assemblies' contents
    /// (<c>Compression.*.dll</c>, <c>onnx-compress*.dll</c> beside the engine), so any rebuilt compressor misses.</summary>
    private static string CompressorIdentity()
    {
        Assembly engine = typeof(CompressionCache).Assembly;
        string version = engine.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? ModelCompressor.Version;
        var text = new StringBuilder(version);
        string folder = Path.GetDirectoryName(engine.Location) ?? string.Empty;
        IEnumerable<string> assemblies = folder.Length == 0 ? [] : Directory.EnumerateFiles(folder, "*.dll")
            .Where(f => Path.GetFileName(f).StartsWith("Compression.", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith("onnx-compress", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        foreach (string assembly in assemblies)
        {
            text.Append(';').Append(Path.GetFileName(assembly)).Append('=').Append(HashFile(assembly));
        }

        return text.ToString();
    }

    private static void Field(StringBuilder text, params string[] values)
    {
        foreach (string value in values)
        {
            text.Append(value.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(value).Append(';');
        }

        text.Append('\n');
    }

    private static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>The manifest's files: only the fixed names, each once, with a size and a SHA-256; the key must be the entry's.</summary>
    private Dictionary<string, (long Size, string Hash)> ReadManifest(string entry)
    {
        string[] lines = File.ReadAllText(CheckedPath(entry, ManifestName)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length < 2 || lines[0] != ManifestHeader || lines[1] != "key\t" + Key)
        {
            throw new InvalidDataException("its manifest is not one this compressor writes for this key");
        }

        var files = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        foreach (string line in lines.Skip(2))
        {
            string[] fields = line.Split('\t');
            if (fields.Length != 4 || fields[0] != "file" || !IsEntryFile(fields[1]) || files.ContainsKey(fields[1])
                || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out long size) || fields[3].Length != 64)
            {
                throw new InvalidDataException("its manifest has a line this compressor does not write");
            }

            files[fields[1]] = (size, fields[3]);
        }

        foreach (string required in new[] { ModelName, SignatureName, ReportName })
        {
            if (!files.ContainsKey(required))
            {
                throw new InvalidDataException($"its manifest does not list {required}");
            }
        }

        return files;
    }

    private static bool IsEntryFile(string name) => name is ModelName or DataName or SignatureName or ReportName;

    /// <summary>The path of a fixed name in the entry, refused when it is a link (which could lead outside the cache).</summary>
    private static string CheckedPath(string entry, string name)
    {
        string path = Path.Combine(entry, name);
        var file = new FileInfo(path);
        if (file.LinkTarget is not null)
        {
            throw new InvalidDataException($"{name} is a link");
        }

        return path;
    }

    private static byte[] ReadChecked(string entry, string name, Dictionary<string, (long Size, string Hash)> manifest)
    {
        string path = CheckedPath(entry, name);
        (long size, string hash) = manifest[name];
        if (new FileInfo(path).Length != size)
        {
            throw new InvalidDataException($"{name} is not of the size its manifest gives");
        }

        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.LongLength != size || Convert.ToHexString(SHA256.HashData(bytes)) != hash)
        {
            throw new InvalidDataException($"{name} does not hash to its manifest's SHA-256");
        }

        return bytes;
    }

    private static void CopyChecked(string entry, string name, Dictionary<string, (long Size, string Hash)> manifest, string destination)
    {
        string path = CheckedPath(entry, name);
        (long size, string hash) expected = manifest[name];
        using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        if (source.Length != expected.size)
        {
            throw new InvalidDataException($"{name} is not of the size its manifest gives");
        }

        // The copy is what gets used, and it is the copy's bytes that are checked: the entry cannot change under the check.
        (long size, string hash) = CopyHashing(source, destination);
        if (size != expected.size || hash != expected.hash)
        {
            throw new InvalidDataException($"{name} does not hash to its manifest's SHA-256");
        }
    }

    private static (long Size, string Hash) CopyHashing(Stream source, string destination)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var target = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        byte[] buffer = new byte[1 << 20];
        long size = 0;
        int read;
        while ((read = source.Read(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            target.Write(buffer, 0, read);
            size += read;
        }

        target.Flush(flushToDisk: true);
        return (size, Convert.ToHexString(hash.GetHashAndReset()));
    }

    private static void WriteFile(string folder, string name, byte[] content, StringBuilder? manifest)
    {
        using (var stream = new FileStream(Path.Combine(folder, name), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        if (manifest is not null)
        {
            ManifestLine(manifest, name, content.LongLength, Convert.ToHexString(SHA256.HashData(content)));
        }
    }

    private static void ManifestLine(StringBuilder manifest, string name, long size, string hash) =>
        manifest.Append("file\t").Append(name).Append('\t').Append(size.ToString(CultureInfo.InvariantCulture)).Append('\t').Append(hash).Append('\n');

    /// <summary>Removes an entry: renamed aside first, so that no reader finds it half deleted, then deleted.</summary>
    private void Remove(string entry)
    {
        string trash = Path.Combine(Folder, TrashPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            if (new DirectoryInfo(entry).LinkTarget is not null)
            {
                // Only the link goes, never what it points at.
                Directory.Delete(entry);
                return;
            }

            Directory.Move(entry, trash);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone already (another run removed it), or not removable: the next store tries again.
            return;
        }

        DeleteFolderQuietly(trash);
    }

    /// <summary>Removes the temporary and trash folders that runs killed part way left, once they are a day old.</summary>
    private void RemoveAbandoned()
    {
        foreach (string folder in Directory.EnumerateDirectories(Folder, ".*"))
        {
            string name = Path.GetFileName(folder);
            if ((name.StartsWith(TemporaryPrefix, StringComparison.Ordinal) || name.StartsWith(TrashPrefix, StringComparison.Ordinal))
                && DateTime.UtcNow - Directory.GetLastWriteTimeUtc(folder) > AbandonedAfter)
            {
                DeleteFolderQuietly(folder);
            }
        }
    }

    private void NotWritable(Exception e) =>
        warnings.Add(new CompressionWarning(DiagnosticCodes.CacheNotUsable,
            $"The compression cache '{Folder}' could not be written ({e.Message}); the model was compressed and written, but not stored for " +
            "other builds. Make the folder writable, point OnnxCompressionCacheDir (--cache-dir) elsewhere, or set it to none."));

    private static void DeleteFolderQuietly(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A leftover in the cache folder is removed by a later run; it never turns a compression into a failure.
        }
    }

    /// <summary>An entry written in a temporary folder of the cache, not yet in place.</summary>
    internal sealed class PendingEntry : IDisposable
    {
        private readonly CompressionCache cache;
        private string? temporary;

        internal PendingEntry(CompressionCache cache, string temporary)
        {
            this.cache = cache;
            this.temporary = temporary;
        }

        /// <summary>Renames the entry into place. A run that finds the entry there already (it lost a race to store
        /// the same key) discards its copy: the two are the same bytes.</summary>
        public void Commit()
        {
            string? folder = temporary;
            if (folder is null)
            {
                return;
            }

            WaitAtBarrier();
            try
            {
                Directory.Move(folder, cache.EntryPath);
                temporary = null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (!Directory.Exists(cache.EntryPath))
                {
                    cache.NotWritable(e);
                }
            }
        }

        private static void WaitAtBarrier()
        {
            string[]? barrier = Environment.GetEnvironmentVariable(BarrierVariable)?.Split('|');
            if (barrier is not [{ Length: > 0 } folder, var count])
            {
                return;
            }

            File.WriteAllText(Path.Combine(folder, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)), string.Empty);
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (Directory.GetFiles(folder).Length < int.Parse(count, CultureInfo.InvariantCulture) && waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(10);
            }
        }

        /// <summary>Removes the temporary folder unless it was committed.</summary>
        public void Dispose()
        {
            if (temporary is not null)
            {
                DeleteFolderQuietly(temporary);
                temporary = null;
            }
        }
    }
}

/// <summary>A compression read back from the cache, checked against its manifest.</summary>
/// <param name="Model">The compressed model's bytes.</param>
/// <param name="SignatureText">The signature's bytes, as stored.</param>
/// <param name="ReportJson">The report's bytes, as stored.</param>
/// <param name="DataPath">The external data, copied to a staging folder beside the output; null when the model has none.</param>
/// <param name="Staging">The staging folder holding <paramref name="DataPath"/>.</param>
/// <param name="Signature">The signature, parsed.</param>
/// <param name="Report">The report, parsed.</param>
internal sealed record CachedCompression(byte[] Model, byte[] SignatureText, byte[] ReportJson, string? DataPath, StagingFolder? Staging,
    ModelSignature Signature, CompressionReport Report) : IDisposable
{
    /// <summary>Removes the staging folder with what is left in it.</summary>
    public void Dispose() => Staging?.Dispose();
}
