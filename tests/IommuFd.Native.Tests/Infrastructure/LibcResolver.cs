using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IommuFd.Native.Tests.Infrastructure;

/// <summary>
/// The engine binds "libc" at link time when published (DirectPInvoke); on the JIT the name must
/// be resolved, and glibc's "libc.so" is a linker script, so point it at libc.so.6.
/// </summary>
internal static class LibcResolver
{
    [ModuleInitializer]
    internal static void Install() =>
        NativeLibrary.SetDllImportResolver(typeof(CallGate).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path) =>
        name == "libc" ? NativeLibrary.Load("libc.so.6") : 0;
}
