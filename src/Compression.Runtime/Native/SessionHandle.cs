using System.Runtime.InteropServices;

namespace Compression.Runtime.Native;

/// <summary>
/// An <c>OrtSession*</c> with the UTF-8 input and output names that runs pass to it. As a <see cref="SafeHandle"/>
/// it is released once: when disposed or finalized, and only after every run that holds it has finished.
/// </summary>
internal sealed class SessionHandle : SafeHandle
{
    private readonly OrtApi api;

    public SessionHandle(OrtApi api, IntPtr session)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        this.api = api;
        SetHandle(session);
    }

    public Utf8Strings? InputNames { get; set; }

    public Utf8Strings? OutputNames { get; set; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override unsafe bool ReleaseHandle()
    {
        api.ReleaseSession(handle);
        InputNames?.Dispose();
        OutputNames?.Dispose();
        return true;
    }
}
