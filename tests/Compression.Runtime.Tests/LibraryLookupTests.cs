using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Compression.Runtime.Tests;

/// <summary>
/// The native library lookup. It runs once per process, so the tests of its paths run <see cref="LookupProbe"/>
/// in child processes, from a folder that holds only this assembly and Compression.Runtime.dll (and, where a test
/// says so, a copy of the library), with the environment each test sets.
/// </summary>
public sealed class LibraryLookupTests : IDisposable
{
    private static readonly string NativeFileName =
        OperatingSystem.IsWindows() ? "onnxruntime.dll" : OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" : "libonnxruntime.so";

    private readonly string root = Directory.CreateTempSubdirectory("ort-lookup-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // ---- In this process: the library beside the tests, found as the app's own native asset.

    [Fact]
    public void In_process_the_library_beside_the_tests_is_loaded_and_reports_1_23_2()
    {
        Assert.Equal("1.23.2", OnnxRuntimeLibrary.Version);
        Assert.True(OnnxRuntimeLibrary.IsLoaded);
        Assert.True(OnnxRuntimeLibrary.TryLoad(out string? error));
        Assert.Null(error);
        Assert.EndsWith(NativeFileName, OnnxRuntimeLibrary.LoadedPath, StringComparison.Ordinal);
        Assert.True(File.Exists(OnnxRuntimeLibrary.LoadedPath), OnnxRuntimeLibrary.LoadedPath);
        if (OperatingSystem.IsLinux())
        {
            // Found as the app's asset: the copy in the test output folder, not the build's cache.
            Assert.Equal(Path.Combine(AppContext.BaseDirectory, NativeFileName), OnnxRuntimeLibrary.LoadedPath);
        }
    }

    [Fact]
    public void UseLibrary_after_loading_accepts_the_loaded_library_and_refuses_another()
    {
        string loaded = OnnxRuntimeLibrary.LoadedPath;
        OnnxRuntimeLibrary.UseLibrary(loaded);

        var e = Assert.Throws<InvalidOperationException>(() => OnnxRuntimeLibrary.UseLibrary(AssemblyMetadata.OnnxRuntimeLibraryPath));
        Assert.Contains(loaded, e.Message, StringComparison.Ordinal);
        Assert.Equal(loaded, OnnxRuntimeLibrary.LoadedPath);
        Assert.Throws<ArgumentException>(() => OnnxRuntimeLibrary.UseLibrary(""));
    }

    // ---- In child processes.

    [Fact]
    public void Without_a_library_or_the_variable_the_error_is_OCB0100_with_what_was_tried_and_how_to_fix_it()
    {
        ProbeResult result = Probe(Bare(), environment: null);

        Assert.Equal(3, result.ExitCode);
        Assert.Equal(nameof(OnnxRuntimeNotFoundException), result["EXCEPTION"]);
        string message = result["MESSAGE"];
        Assert.StartsWith("OCB0100:", message, StringComparison.Ordinal);
        Assert.Contains("app's native asset 'onnxruntime'", message, StringComparison.Ordinal);
        Assert.Contains("ONNXRUNTIME_LIBRARY_PATH: not set", message, StringComparison.Ordinal);
        Assert.Contains("To fix", message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.OnnxRuntime", message, StringComparison.Ordinal);
        Assert.Contains($"set {OnnxRuntimeLibrary.PathVariable} to the full path of {NativeFileName}", message, StringComparison.Ordinal);
        Assert.Equal(2, result.All("ATTEMPT").Count);
        Assert.Equal(message, result["TRYLOAD"]);
        Assert.Equal("False", result["LOADED"]);
    }

    [Fact]
    public void The_variable_pointing_at_the_library_loads_it_and_reports_1_23_2()
    {
        string model = Path.Combine(BackendNodeSuite.NodeTestsDir, "test_abs", "model.onnx");
        ProbeResult result = Probe(Bare(), Variable(AssemblyMetadata.OnnxRuntimeLibraryPath), "--model", model);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ok", result["TRYLOAD"]);
        Assert.Equal("True", result["LOADED"]);
        Assert.Equal("1.23.2", result["VERSION"]);
        Assert.Equal(Path.GetFullPath(AssemblyMetadata.OnnxRuntimeLibraryPath), result["PATH"]);
        Assert.Equal("x: float[3, 4, 5]", result["SESSION"]);
    }

    [Fact]
    public void The_variable_pointing_at_a_file_that_is_no_library_gives_a_clear_error()
    {
        string notALibrary = Path.Combine(root, "not-a-library.so");
        File.WriteAllText(notALibrary, "this is text, not a shared library");

        ProbeResult result = Probe(Bare(), Variable(notALibrary));

        Assert.Equal(3, result.ExitCode);
        string message = result["MESSAGE"];
        Assert.StartsWith("OCB0100:", message, StringComparison.Ordinal);
        Assert.Contains($"{OnnxRuntimeLibrary.PathVariable}='{notALibrary}': the file exists but could not be loaded", message, StringComparison.Ordinal);
        Assert.Contains("To fix", message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_variable_pointing_at_a_library_that_is_not_ONNX_Runtime_says_so()
    {
        // A real shared library of the .NET runtime itself, which loads but has no OrtGetApiBase.
        string other = Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(),
            OperatingSystem.IsWindows() ? "System.IO.Compression.Native.dll" : OperatingSystem.IsMacOS() ? "libSystem.Native.dylib" : "libSystem.Native.so");
        Assert.True(File.Exists(other), other);

        ProbeResult result = Probe(Bare(), Variable(other));

        Assert.Equal(3, result.ExitCode);
        string message = result["MESSAGE"];
        Assert.StartsWith("OCB0100:", message, StringComparison.Ordinal);
        Assert.Contains("does not export OrtGetApiBase", message, StringComparison.Ordinal);
        Assert.Contains(OnnxRuntimeLibrary.PathVariable, message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_variable_pointing_at_a_missing_file_says_no_such_file()
    {
        string missing = Path.Combine(root, "missing", NativeFileName);

        ProbeResult result = Probe(Bare(), Variable(missing));

        Assert.Equal(3, result.ExitCode);
        Assert.Contains($"{OnnxRuntimeLibrary.PathVariable}='{missing}': no such file", result["MESSAGE"], StringComparison.Ordinal);
    }

    [Fact]
    public void UseLibrary_takes_precedence_over_the_variable_and_the_library_beside_the_app()
    {
        string notALibrary = Path.Combine(root, "not-a-library.so");
        File.WriteAllText(notALibrary, "text");

        ProbeResult overVariable = Probe(Bare(), Variable(notALibrary), "--use-library", AssemblyMetadata.OnnxRuntimeLibraryPath);
        Assert.Equal(0, overVariable.ExitCode);
        Assert.Equal("1.23.2", overVariable["VERSION"]);
        Assert.Equal(Path.GetFullPath(AssemblyMetadata.OnnxRuntimeLibraryPath), overVariable["PATH"]);

        string beside = WithLibraryBeside();
        ProbeResult overAsset = Probe(beside, environment: null, "--use-library", AssemblyMetadata.OnnxRuntimeLibraryPath);
        Assert.Equal(0, overAsset.ExitCode);
        Assert.Equal(Path.GetFullPath(AssemblyMetadata.OnnxRuntimeLibraryPath), overAsset["PATH"]);
    }

    [Fact]
    public void The_library_beside_the_app_comes_before_the_variable()
    {
        string beside = WithLibraryBeside();
        string notALibrary = Path.Combine(root, "not-a-library.so");
        File.WriteAllText(notALibrary, "text");

        ProbeResult result = Probe(beside, Variable(notALibrary));

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("1.23.2", result["VERSION"]);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(Path.Combine(beside, NativeFileName), result["PATH"]);
        }
    }

    [Fact]
    public void UseLibrary_with_a_bad_path_fails_without_falling_back_to_other_places()
    {
        string notALibrary = Path.Combine(root, "not-a-library.so");
        File.WriteAllText(notALibrary, "text");

        ProbeResult result = Probe(WithLibraryBeside(), Variable(AssemblyMetadata.OnnxRuntimeLibraryPath), "--use-library", notALibrary);

        Assert.Equal(3, result.ExitCode);
        string message = result["MESSAGE"];
        Assert.StartsWith("OCB0100:", message, StringComparison.Ordinal);
        Assert.Contains($"'{notALibrary}', the path given to use", message, StringComparison.Ordinal);
        Assert.Equal("False", result["LOADED"]);
    }

    private static Dictionary<string, string?> Variable(string value) => new() { [OnnxRuntimeLibrary.PathVariable] = value };

    /// <summary>A folder with this assembly and Compression.Runtime.dll only: no library beside the app.</summary>
    private string Bare()
    {
        string folder = Path.Combine(root, "bare");
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder);
            string tests = typeof(LookupProbe).Assembly.Location;
            File.Copy(tests, Path.Combine(folder, Path.GetFileName(tests)));
            File.Copy(typeof(OnnxSession).Assembly.Location, Path.Combine(folder, Path.GetFileName(typeof(OnnxSession).Assembly.Location)));
            File.Copy(Path.ChangeExtension(tests, ".runtimeconfig.json"), Path.Combine(folder, Path.GetFileName(Path.ChangeExtension(tests, ".runtimeconfig.json"))));
        }

        return folder;
    }

    /// <summary>A folder like <see cref="Bare"/> plus a copy of the library under its native file name.</summary>
    private string WithLibraryBeside()
    {
        string folder = Path.Combine(root, "beside");
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder);
            foreach (string file in Directory.GetFiles(Bare()))
            {
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            }

            File.Copy(AssemblyMetadata.OnnxRuntimeLibraryPath, Path.Combine(folder, NativeFileName));
        }

        return folder;
    }

    private static ProbeResult Probe(string folder, Dictionary<string, string?>? environment, params string[] arguments)
    {
        string assembly = Path.Combine(folder, Path.GetFileName(typeof(LookupProbe).Assembly.Location));
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add("--runtimeconfig");
        start.ArgumentList.Add(Path.ChangeExtension(assembly, ".runtimeconfig.json"));
        start.ArgumentList.Add(assembly);
        start.ArgumentList.Add(LookupProbe.Command);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // Nothing inherited may point the child at a library.
        start.Environment.Remove(OnnxRuntimeLibrary.PathVariable);
        start.Environment.Remove("LD_LIBRARY_PATH");
        start.Environment.Remove("DYLD_LIBRARY_PATH");
        foreach (var (key, value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(60_000))
        {
            process.Kill();
            throw new TimeoutException("The lookup probe did not finish in 60 s.");
        }

        return new ProbeResult(process.ExitCode, stdout, stderr.Result);
    }

    /// <summary>The dotnet host running this process (the SDK sets DOTNET_HOST_PATH for test runs).</summary>
    private static string DotnetHost()
    {
        string? fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        string? self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    private sealed class ProbeResult(int exitCode, string stdout, string stderr)
    {
        private readonly ILookup<string, string> values = stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.Contains('='))
            .ToLookup(line => line[..line.IndexOf('=')], line => line[(line.IndexOf('=') + 1)..]);

        public int ExitCode { get; } = exitCode;

        public string this[string key] => values[key].FirstOrDefault()
            ?? throw new Xunit.Sdk.XunitException($"The probe printed no {key}. Exit code {ExitCode}.\nstdout:\n{stdout}\nstderr:\n{stderr}");

        public IReadOnlyList<string> All(string key) => values[key].ToList();

        public override string ToString() => $"exit {ExitCode}\n{stdout}\n{stderr}";
    }
}
