using System.Runtime.InteropServices;

namespace Compression.Runtime.Native;

/// <summary>Null-terminated UTF-8 copies of strings in native memory, freed together.</summary>
internal sealed class Utf8Strings : IDisposable
{
    private readonly IntPtr[] pointers;

    public Utf8Strings(IReadOnlyList<string> values)
    {
        pointers = new IntPtr[values.Count];
        try
        {
            for (int i = 0; i < pointers.Length; i++)
            {
                pointers[i] = Marshal.StringToCoTaskMemUTF8(values[i]);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IntPtr[] Pointers => pointers;

    public void Dispose()
    {
        for (int i = 0; i < pointers.Length; i++)
        {
            if (pointers[i] != IntPtr.Zero)
            {
                Marshal.FreeCoTaskMem(pointers[i]);
                pointers[i] = IntPtr.Zero;
            }
        }
    }
}
