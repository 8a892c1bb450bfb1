using System.Runtime.InteropServices;

namespace Compression.Onnx;

/// <summary>
/// The path a file system path leads to once every symbolic link on the way is followed (of the file and of each
/// folder above it), and what kind of entry lies there.
/// </summary>
internal static partial class RealPath
{
    /// <summary>How many links one path may pass through before it is taken for a loop (Linux's limit).</summary>
    private const int MaxLinks = 40;

    /// <summary>What a path names.</summary>
    public enum EntryKind
    {
        /// <summary>Nothing.</summary>
        Missing,

        /// <summary>A regular file.</summary>
        RegularFile,

        /// <summary>A folder.</summary>
        Folder,

        /// <summary>A named pipe (FIFO), a device, a socket: opening or reading it may block or never end.</summary>
        Special,
    }

    /// <summary>
    /// <paramref name="fullPath"/> with every symbolic link resolved, component by component, as the OS would; the
    /// components after the first missing one are kept as they are.
    /// </summary>
    /// <param name="fullPath">An absolute, normalized path.</param>
    /// <exception cref="IOException">The path passes through more than 40 links (a loop).</exception>
    public static string Resolve(string fullPath)
    {
        string root = Path.GetPathRoot(fullPath)!;
        var pending = new Stack<string>();
        PushComponents(pending, fullPath[root.Length..]);
        string current = root;
        int links = 0;
        while (pending.Count > 0)
        {
            string component = pending.Pop();
            if (component.Length == 0 || component == ".")
            {
                continue;
            }

            if (component == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }

            string next = Path.Join(current, component);
            string? target = LinkTarget(next);
            if (target is null)
            {
                current = next;
                continue;
            }

            if (++links > MaxLinks)
            {
                throw new IOException($"The path '{fullPath}' passes through more than {MaxLinks} symbolic links; they form a loop.");
            }

            // A link's target is relative to the folder holding the link, which is resolved already.
            if (Path.IsPathRooted(target))
            {
                string targetRoot = Path.GetPathRoot(target)!;
                current = targetRoot;
                PushComponents(pending, target[targetRoot.Length..]);
            }
            else
            {
                PushComponents(pending, target);
            }
        }

        return current;
    }

    /// <summary>What <paramref name="path"/> itself is, without following a link there (it is a resolved path).</summary>
    public static EntryKind KindOf(string path)
    {
        if (!OperatingSystem.IsWindows() && UnixMode(path) is int mode)
        {
            return (mode & 0xF000) switch
            {
                0x8000 => EntryKind.RegularFile,
                0x4000 => EntryKind.Folder,
                _ => EntryKind.Special,
            };
        }

        if (Directory.Exists(path))
        {
            return EntryKind.Folder;
        }

        if (!File.Exists(path))
        {
            return EntryKind.Missing;
        }

        return (File.GetAttributes(path) & FileAttributes.Device) != 0 ? EntryKind.Special : EntryKind.RegularFile;
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        string[] components = path.Split(['/', Path.DirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);
        for (int i = components.Length - 1; i >= 0; i--)
        {
            pending.Push(components[i]);
        }
    }

    private static string? LinkTarget(string path)
    {
        return new FileInfo(path).LinkTarget;
    }

    /// <summary>
    /// The <c>st_mode</c> of <c>lstat(path)</c> (file type bits as POSIX numbers them), or null when the path names
    /// nothing or the runtime's native helper is not available. .NET reports no file type besides file and folder, so
    /// this asks the runtime's own native shim (System.Native), which the runtime uses for <see cref="FileInfo"/>.
    /// </summary>
    private static int? UnixMode(string path)
    {
        try
        {
            FileStatus status = default;
            return LStat(path, ref status) == 0 ? status.Mode : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LStat(string path, ref FileStatus output);

    /// <summary>The start of System.Native's FileStatus (flags, then the mode), padded beyond the whole struct's size.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct FileStatus
    {
        public int Flags;
        public int Mode;

        // Room for the fields the native side fills in after the mode (about 120 bytes in .NET 8 to 10).
        public fixed long Rest[32];
    }
}
