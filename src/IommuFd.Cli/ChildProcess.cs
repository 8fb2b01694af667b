using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IommuFd.Cli;

/// <summary>
/// Runs a program with inherited stdio and extra environment, and reports its status the way a
/// shell does: the exit code, or 128 + the signal that killed it.
/// </summary>
internal static partial class ChildProcess
{
    public static int Run(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(command[0]) { UseShellExecute = false };
        foreach (var arg in command.Skip(1))
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            Console.Error.WriteLine($"iommufd-emu: cannot run {command[0]}: {e.Message}");
            return 127;
        }

        // The terminal sends SIGINT/SIGQUIT to the child too: let it decide, and report its status.
        // SIGTERM/SIGHUP aimed at us alone are passed on.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
        using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => c.Cancel = true);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => Forward(c, process, 15));
        using var hangup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c => Forward(c, process, 1));
        using (process)
        {
            process.WaitForExit();
            // .NET already reports a signal death as 128 + signal, as shells do.
            return process.ExitCode;
        }
    }

    /// <summary>Runs a program to completion and returns its exit code and standard output (stderr passes through).</summary>
    public static (int ExitCode, string Output) Capture(IReadOnlyList<string> command, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in command.Skip(1))
            start.ArgumentList.Add(arg);
        foreach (var (name, value) in environment)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    private static void Forward(PosixSignalContext context, Process process, int signal)
    {
        context.Cancel = true;
        if (!process.HasExited)
            _ = Kill(process.Id, signal);
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
