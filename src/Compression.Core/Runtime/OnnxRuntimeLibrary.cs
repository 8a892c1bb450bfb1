using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Compression.Core.Runtime;

/// <summary>
/// Chooses the ONNX Runtime native library that Microsoft.ML.OnnxRuntime's managed API (<see cref="InferenceSession"/>)
/// calls in this process, before it loads one itself:
/// <list type="number">
/// <item>a path set with <see cref="UseLibrary"/> (the compressor's <c>--onnxruntime</c> option, which the build fills
/// with <c>OnnxRuntimeLibraryPath</c> or the native asset of the app's ONNX Runtime package);</item>
/// <item>the process's own native asset named <c>onnxruntime</c> (its packages' <c>runtimes/&lt;rid&gt;/native/</c> files
/// that deps.json lists, or the library beside the program);</item>
/// <item>the full path in the environment variable <c>ONNXRUNTIME_LIBRARY_PATH</c>;</item>
/// <item>the newest Microsoft.ML.OnnxRuntime package (<see cref="OldestSupportedVersion"/> or newer) in the NuGet packages
/// folder (<c>NUGET_PACKAGES</c>, else <c>~/.nuget/packages</c>), where any .NET developer who has restored it has it;</item>
/// <item>otherwise an <see cref="OnnxRuntimeNotFoundException"/> that lists what was tried and how to fix it.</item>
/// </list>
/// In a build, the targets pass the app's own ONNX Runtime package (or <c>OnnxRuntimeLibraryPath</c>) as the path to use,
/// and stop with OCB0100 before the compressor starts when the app has none.
/// The managed API must not be newer than the native library (it asks for the C API version of its own release), so
/// the compressor is built against the oldest supported Microsoft.ML.OnnxRuntime.Managed, <see cref="OldestSupportedVersion"/>.
/// </summary>
public static class OnnxRuntimeLibrary
{
    /// <summary>The environment variable that names the native library when nothing else provides it.</summary>
    public const string PathVariable = "ONNXRUNTIME_LIBRARY_PATH";

    /// <summary>The library name the managed API imports, and that packages' native assets carry.</summary>
    public const string LibraryName = "onnxruntime";

    /// <summary>The oldest ONNX Runtime release the compressor and the generated classes run on.</summary>
    public const string OldestSupportedVersion = "1.30.0";

    private static readonly object Gate = new();
    private static string? explicitPath;
    private static Loaded? loaded;
    private static OnnxRuntimeNotFoundException? failure;

    /// <summary>The file the library was loaded from, loading it if needed.</summary>
    /// <exception cref="OnnxRuntimeNotFoundException">No usable library was found.</exception>
    public static string LoadedPath => Load().Path;

    /// <summary>The version of the loaded ONNX Runtime (for example <c>1.31.1</c>), loading it if needed.</summary>
    /// <exception cref="OnnxRuntimeNotFoundException">No usable library was found.</exception>
    public static string Version => Load().Version;

    /// <summary>
    /// Uses the library at <paramref name="path"/> ahead of every other place. Call it before the first session is
    /// created; afterwards the process keeps the library it loaded.
    /// </summary>
    /// <exception cref="InvalidOperationException">A different library is already loaded.</exception>
    public static void UseLibrary(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = System.IO.Path.GetFullPath(path);
        lock (Gate)
        {
            if (loaded is not null && !string.Equals(loaded.Path, full, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"ONNX Runtime is already loaded from '{loaded.Path}'; UseLibrary('{full}') must come before the first session.");
            }

            explicitPath = full;
        }
    }

    /// <summary>Loads the library, once per process, and returns what was loaded.</summary>
    /// <exception cref="OnnxRuntimeNotFoundException">No usable library was found; the same exception on every later call.</exception>
    internal static void EnsureLoaded() => Load();

    private static Loaded Load()
    {
        Loaded? current = Volatile.Read(ref loaded);
        if (current is not null)
        {
            return current;
        }

        lock (Gate)
        {
            if (loaded is not null)
            {
                return loaded;
            }

            // The managed API binds its native functions once per process: after a failure it cannot try again.
            if (failure is not null)
            {
                throw failure;
            }

            try
            {
                loaded = Resolve();
                return loaded;
            }
            catch (OnnxRuntimeNotFoundException e)
            {
                failure = e;
                throw;
            }
        }
    }

    private static Loaded Resolve()
    {
        var attempts = new List<string>();
        (IntPtr handle, string path)? found = null;
        if (explicitPath is not null)
        {
            if (!TryLoadFile(explicitPath, out IntPtr handle, out string? why))
            {
                throw new OnnxRuntimeNotFoundException(
                    $"ONNX Runtime's native library could not be loaded from '{explicitPath}', the path given to use: {why}.",
                    [$"given path '{explicitPath}': {why}"]);
            }

            found = (handle, explicitPath);
        }

        Assembly managed = typeof(InferenceSession).Assembly;
        if (found is null && NativeLibrary.TryLoad(LibraryName, managed, null, out IntPtr assetHandle))
        {
            found = (assetHandle, DescribeLoadedPath(assetHandle) ?? $"{LibraryName} (the program's native asset)");
        }

        if (found is null)
        {
            attempts.Add($"the program's native asset '{LibraryName}' (runtimes/{RuntimeInformation.RuntimeIdentifier}/native/ of its packages, and {AppContext.BaseDirectory}): not found");
            string? variable = Environment.GetEnvironmentVariable(PathVariable);
            if (string.IsNullOrWhiteSpace(variable))
            {
                attempts.Add($"the environment variable {PathVariable}: not set");
            }
            else if (TryLoadFile(variable, out IntPtr handle, out string? why))
            {
                found = (handle, System.IO.Path.GetFullPath(variable));
            }
            else
            {
                attempts.Add($"{PathVariable}='{variable}': {why}");
            }
        }

        if (found is null)
        {
            (string? cached, string attempt) = FindInNuGetPackages();
            if (cached is null)
            {
                attempts.Add(attempt);
            }
            else if (TryLoadFile(cached, out IntPtr handle, out string? why))
            {
                found = (handle, cached);
            }
            else
            {
                attempts.Add($"'{cached}' in the NuGet packages folder: {why}");
            }
        }

        if (found is not { } library)
        {
            throw new OnnxRuntimeNotFoundException(
                $"ONNX Runtime's native library was not found. Tried: {string.Join("; ", attempts)}. To fix: give the library's full path " +
                $"(--onnxruntime, or {PathVariable}), or restore the package Microsoft.ML.OnnxRuntime {OldestSupportedVersion} or newer once " +
                "(any project that references it), or in a build reference it (or Microsoft.ML.OnnxRuntime.Gpu) in the app.",
                attempts);
        }

        if (!NativeLibrary.TryGetExport(library.handle, "OrtGetApiBase", out _))
        {
            throw new OnnxRuntimeNotFoundException(
                $"'{library.path}' was loaded but does not export OrtGetApiBase, so it is not ONNX Runtime's library. Give the path of libonnxruntime itself.",
                [$"'{library.path}': no OrtGetApiBase export"]);
        }

        // From here on the managed API calls this library, whatever it would have looked for itself.
        IntPtr chosen = library.handle;
        NativeLibrary.SetDllImportResolver(managed, (name, _, _) => name == LibraryName ? chosen : IntPtr.Zero);
        try
        {
            // ONNX Runtime's own log would go to the build's output: errors reach the caller as exceptions instead.
            var environment = new EnvironmentCreationOptions { logId = "compression-build", logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            OrtEnv created = OrtEnv.IsCreated ? OrtEnv.Instance() : OrtEnv.CreateInstanceWithOptions(ref environment);
            return new Loaded(library.path, created.GetVersionString());
        }
        catch (Exception e) when (e is TypeInitializationException or OnnxRuntimeException or EntryPointNotFoundException)
        {
            string detail = (e.InnerException ?? e).Message;
            throw new OnnxRuntimeNotFoundException(
                $"ONNX Runtime at '{library.path}' cannot be used: {detail.TrimEnd('.')}. Compression.Build needs ONNX Runtime {OldestSupportedVersion} or newer: " +
                "reference a newer Microsoft.ML.OnnxRuntime package.",
                [$"'{library.path}': {detail}"]);
        }
    }

    /// <summary>The native library of this machine in the newest Microsoft.ML.OnnxRuntime package of the NuGet packages
    /// folder, or null with what was looked at.</summary>
    private static (string? Path, string Attempt) FindInNuGetPackages()
    {
        string? root = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrWhiteSpace(root))
        {
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            root = home.Length == 0 ? null : System.IO.Path.Combine(home, ".nuget", "packages");
        }

        if (root is null)
        {
            return (null, "the NuGet packages folder: neither NUGET_PACKAGES nor a home folder is set");
        }

        string package = System.IO.Path.Combine(root, "microsoft.ml.onnxruntime");
        string relative = System.IO.Path.Combine("runtimes", PortableRuntimeIdentifier, "native", NativeFileName);
        var oldest = System.Version.Parse(OldestSupportedVersion);
        string? best = null;
        System.Version? bestVersion = null;
        if (Directory.Exists(package))
        {
            foreach (string folder in Directory.EnumerateDirectories(package))
            {
                if (System.Version.TryParse(System.IO.Path.GetFileName(folder), out System.Version? version) && version >= oldest
                    && (bestVersion is null || version > bestVersion) && File.Exists(System.IO.Path.Combine(folder, relative)))
                {
                    (best, bestVersion) = (System.IO.Path.Combine(folder, relative), version);
                }
            }
        }

        return (best, $"Microsoft.ML.OnnxRuntime {OldestSupportedVersion} or newer in the NuGet packages folder ({package}, {relative}): not found");
    }

    private static string NativeFileName =>
        OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";

    /// <summary>The portable RID of this machine (<c>linux-x64</c>), which NuGet packages' runtimes folders use, also where .NET
    /// itself was built for a distribution RID.</summary>
    private static string PortableRuntimeIdentifier
    {
        get
        {
            string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
            string arch = RuntimeInformation.OSArchitecture switch
            {
                Architecture.Arm64 => "arm64",
                Architecture.X86 => "x86",
                Architecture.Arm => "arm",
                _ => "x64",
            };
            return os + "-" + arch;
        }
    }

    private static bool TryLoadFile(string path, out IntPtr handle, out string? why)
    {
        handle = IntPtr.Zero;
        if (!File.Exists(path))
        {
            why = "no such file";
            return false;
        }

        try
        {
            handle = NativeLibrary.Load(System.IO.Path.GetFullPath(path));
            why = null;
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            why = $"the file exists but could not be loaded ({e.Message.Trim()})";
            return false;
        }
    }

    /// <summary>Finds the file behind a handle the runtime loaded by name, for messages and reports.</summary>
    private static string? DescribeLoadedPath(IntPtr handle)
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out IntPtr symbol))
        {
            return null;
        }

        // dlopen handles carry no path; /proc/self/maps lists the mapped file that holds the export.
        try
        {
            ulong address = (ulong)symbol;
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int dash = line.IndexOf('-', StringComparison.Ordinal);
                int space = line.IndexOf(' ', StringComparison.Ordinal);
                if (dash < 0 || space < dash)
                {
                    continue;
                }

                ulong start = Convert.ToUInt64(line[..dash], 16);
                ulong end = Convert.ToUInt64(line[(dash + 1)..space], 16);
                if (address >= start && address < end)
                {
                    int slash = line.IndexOf('/', StringComparison.Ordinal);
                    return slash >= 0 ? line[slash..] : null;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    private sealed record Loaded(string Path, string Version);
}

/// <summary>
/// ONNX Runtime's native library could not be found or loaded (diagnostic code OCB0100).
/// The message lists every place that was tried and how to provide the library.
/// </summary>
public sealed class OnnxRuntimeNotFoundException : Exception
{
    /// <summary>Creates the exception with the places tried.</summary>
    public OnnxRuntimeNotFoundException(string message, IReadOnlyList<string> attempts)
        : base(message)
    {
        Attempts = attempts;
    }

    /// <summary>Each place that was tried, with why it did not serve.</summary>
    public IReadOnlyList<string> Attempts { get; }
}
