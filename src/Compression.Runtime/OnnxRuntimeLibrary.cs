using System.Reflection;
using System.Runtime.InteropServices;
using Compression.Runtime.Native;

namespace Compression.Runtime;

/// <summary>
/// Finds and loads ONNX Runtime's native library. The same lookup serves apps at run time and the compressor
/// at build time:
/// <list type="number">
/// <item>a path set with <see cref="UseLibrary"/> before first use (the compressor's <c>--onnxruntime</c> option,
/// which the build fills with the native asset of the app's ONNX Runtime package);</item>
/// <item>the app's own native asset named <c>onnxruntime</c>: the <c>runtimes/&lt;rid&gt;/native/</c> files of its
/// packages (as Microsoft.ML.OnnxRuntime ships them) that the app's deps.json lists, or the library beside the app;</item>
/// <item>the full path in the environment variable <c>ONNXRUNTIME_LIBRARY_PATH</c>;</item>
/// <item>otherwise an <see cref="OnnxRuntimeNotFoundException"/> that lists what was tried and how to fix it.</item>
/// </list>
/// </summary>
public static class OnnxRuntimeLibrary
{
    /// <summary>The environment variable that names the native library when no package provides it.</summary>
    public const string PathVariable = "ONNXRUNTIME_LIBRARY_PATH";

    /// <summary>The library name a package's native asset carries (libonnxruntime.so, libonnxruntime.dylib, onnxruntime.dll).</summary>
    public const string LibraryName = "onnxruntime";

    private static readonly object Gate = new();
    private static string? explicitPath;
    private static Loaded? loaded;

    /// <summary>The path of the loaded library, loading it if needed.</summary>
    public static string LoadedPath => Load().Path;

    /// <summary>The version string of the loaded ONNX Runtime (for example <c>1.23.2</c>), loading it if needed.</summary>
    public static string Version => Load().Version;

    /// <summary>True once the library has been loaded in this process.</summary>
    public static bool IsLoaded => Volatile.Read(ref loaded) is not null;

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

    /// <summary>Loads the library if it is not loaded yet and returns true, or returns false with the reason.</summary>
    public static bool TryLoad(out string? error)
    {
        try
        {
            Load();
            error = null;
            return true;
        }
        catch (OnnxRuntimeException e)
        {
            error = e.Message;
            return false;
        }
    }

    internal static OrtApi Api => Load().Api;

    private static Loaded Load()
    {
        Loaded? current = Volatile.Read(ref loaded);
        if (current is not null)
        {
            return current;
        }

        lock (Gate)
        {
            loaded ??= Resolve();
            return loaded;
        }
    }

    private static Loaded Resolve()
    {
        var attempts = new List<string>();

        if (explicitPath is not null)
        {
            if (TryLoadFile(explicitPath, out IntPtr handle, out string? why))
            {
                return Bind(handle, explicitPath);
            }

            throw new OnnxRuntimeNotFoundException(
                $"{OnnxRuntimeNotFoundException.Code}: ONNX Runtime's native library could not be loaded from '{explicitPath}', the path given to use: {why}",
                [$"given path '{explicitPath}': {why}"]);
        }

        Assembly self = typeof(OnnxRuntimeLibrary).Assembly;
        if (NativeLibrary.TryLoad(LibraryName, self, DllImportSearchPath.AssemblyDirectory, out IntPtr assetHandle))
        {
            return Bind(assetHandle, DescribeLoadedPath(assetHandle) ?? $"{LibraryName} (app native asset)");
        }

        attempts.Add($"the app's native asset '{LibraryName}' (its packages' runtimes/{RuntimeInformation.RuntimeIdentifier}/native folders and {AppContext.BaseDirectory}): not found");

        string? variable = Environment.GetEnvironmentVariable(PathVariable);
        if (string.IsNullOrWhiteSpace(variable))
        {
            attempts.Add($"the environment variable {PathVariable}: not set");
        }
        else if (TryLoadFile(variable, out IntPtr handle, out string? why))
        {
            return Bind(handle, System.IO.Path.GetFullPath(variable));
        }
        else
        {
            attempts.Add($"{PathVariable}='{variable}': {why}");
        }

        throw new OnnxRuntimeNotFoundException(
            $"{OnnxRuntimeNotFoundException.Code}: ONNX Runtime's native library was not found. Tried: {string.Join("; ", attempts)}. " +
            $"To fix: add a package that ships ONNX Runtime's native library (such as Microsoft.ML.OnnxRuntime) to the app, " +
            $"or set {PathVariable} to the full path of {NativeFileName}.",
            attempts);
    }

    private static string NativeFileName =>
        OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";

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
            why = $"the file exists but could not be loaded ({e.Message})";
            return false;
        }
    }

    private static unsafe Loaded Bind(IntPtr handle, string path)
    {
        if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out IntPtr getApiBase))
        {
            NativeLibrary.Free(handle);
            throw new OnnxRuntimeNotFoundException(
                $"{OnnxRuntimeNotFoundException.Code}: '{path}' was loaded but does not export OrtGetApiBase, so it is not ONNX Runtime's library. " +
                $"Point {PathVariable} at libonnxruntime itself.",
                [$"'{path}': no OrtGetApiBase export"]);
        }

        // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); }
        IntPtr* apiBase = ((delegate* unmanaged<IntPtr*>)getApiBase)();
        var getApi = (delegate* unmanaged<uint, IntPtr>)apiBase[0];
        var getVersionString = (delegate* unmanaged<IntPtr>)apiBase[1];
        string version = Marshal.PtrToStringUTF8(getVersionString()) ?? "unknown";
        IntPtr table = getApi(OrtApi.ApiVersion);
        if (table == IntPtr.Zero)
        {
            NativeLibrary.Free(handle);
            throw new OnnxRuntimeNotFoundException(
                $"{OnnxRuntimeNotFoundException.Code}: ONNX Runtime {version} at '{path}' does not offer C API version {OrtApi.ApiVersion}; " +
                $"Compression.Runtime needs ONNX Runtime 1.{OrtApi.ApiVersion} or newer.",
                [$"'{path}': version {version} is too old"]);
        }

        return new Loaded(path, version, new OrtApi(table));
    }

    /// <summary>Finds the file behind a handle the runtime loaded by name, for messages and reports.</summary>
    private static string? DescribeLoadedPath(IntPtr handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // dlopen handles carry no path; /proc/self/maps lists the mapped file that holds the export.
        try
        {
            if (!NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out IntPtr symbol))
            {
                return null;
            }

            ulong address = (ulong)symbol;
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int dash = line.IndexOf('-');
                int space = line.IndexOf(' ');
                if (dash < 0 || space < dash)
                {
                    continue;
                }

                ulong start = Convert.ToUInt64(line[..dash], 16);
                ulong end = Convert.ToUInt64(line[(dash + 1)..space], 16);
                if (address >= start && address < end)
                {
                    int slash = line.IndexOf('/');
                    return slash >= 0 ? line[slash..] : null;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    private sealed record Loaded(string Path, string Version, OrtApi Api);
}
