using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using IommuFd.Abi.Dispatch;
using IommuFd.Core;

namespace IommuFd.Native;

/// <summary>
/// IOMMUFD_EMU_TRACE=&lt;file&gt;: one line per ioctl, appended with a single write() on an
/// O_APPEND descriptor so several processes (a parent and its children) can share one file.
/// Format: <c>pid command input -&gt; result ERRNO [out output] duration</c>.
/// </summary>
internal sealed unsafe class IoctlTracer
{
    private readonly int _fd;

    private IoctlTracer(int fd) => _fd = fd;

    /// <summary>Opens the trace file; null (with one line on stderr) when it cannot be opened.</summary>
    public static IoctlTracer? Open(string path)
    {
        var fd = Libc.Open(path, Libc.OWronly | Libc.OCreat | Libc.OAppend | Libc.OCloexec, 0x1a4 /* 0644 */);
        if (fd >= 0)
            return new IoctlTracer(fd);
        var message = Encoding.UTF8.GetBytes($"iommufd-emu: cannot open trace file {path}: errno {Marshal.GetLastPInvokeError()}\n");
        fixed (byte* p = message)
            Libc.Write(2, p, (nuint)message.Length);
        return null;
    }

    public void Record(IoctlEvent e)
    {
        var line = new StringBuilder(160)
            .Append(Libc.GetPid().ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(e.Name).Append(' ')
            .Append(e.Input)
            .Append(" -> ").Append(e.Result.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(ErrnoName(e.Result));
        if (e.Output.Length != 0)
            line.Append(" out ").Append(e.Output);
        line.Append(' ').Append(e.Duration.TotalMicroseconds.ToString("F1", CultureInfo.InvariantCulture)).Append("us\n");
        var bytes = Encoding.UTF8.GetBytes(line.ToString());
        fixed (byte* p = bytes)
        {
            // One write per line keeps lines whole; a short write (disk full) is not retried.
            Libc.Write(_fd, p, (nuint)bytes.Length);
        }
    }

    private static string ErrnoName(int result)
    {
        if (result >= 0)
            return "OK";
        return Enum.GetName((Errno)(-result)) ?? $"errno{-result}";
    }
}
