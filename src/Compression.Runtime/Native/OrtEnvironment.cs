namespace Compression.Runtime.Native;

/// <summary>The process-wide ONNX Runtime environment and CPU memory description, created on first use.</summary>
internal static unsafe class OrtEnvironment
{
    // ONNX Runtime logs errors to stderr besides returning them; the returned status becomes the exception, so only
    // fatal messages are left for its log, and tools built on this library keep one line per error.
    private const int LoggingLevelFatal = 4;
    private const int ArenaAllocator = 1;
    private const int MemTypeDefault = 0;

    private static readonly Lazy<State> Shared = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    public static IntPtr Env => Shared.Value.Env;

    public static IntPtr CpuMemory => Shared.Value.CpuMemory;

    public static IntPtr DefaultAllocator => Shared.Value.Allocator;

    private static State Create()
    {
        OrtApi api = OnnxRuntimeLibrary.Api;
        IntPtr env;
        fixed (byte* logId = "Compression.Runtime\0"u8)
        {
            api.Check(api.CreateEnv(LoggingLevelFatal, logId, &env));
        }

        IntPtr memory;
        api.Check(api.CreateCpuMemoryInfo(ArenaAllocator, MemTypeDefault, &memory));

        IntPtr allocator;
        api.Check(api.GetAllocatorWithDefaultOptions(&allocator));

        // The environment lives as long as the process: sessions may be finalized in any order.
        return new State(env, memory, allocator);
    }

    private sealed record State(IntPtr Env, IntPtr CpuMemory, IntPtr Allocator);
}
