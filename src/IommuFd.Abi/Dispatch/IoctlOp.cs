using IommuFd.Core;

namespace IommuFd.Abi.Dispatch;

/// <summary>Runs one decoded command. Returns 0 or an errno; output goes through <see cref="UserCommand.Respond"/>.</summary>
public delegate Errno CommandHandler(ref UserCommand command);

/// <summary>
/// A row of the dispatch table: the full ioctl number, the struct size the engine knows, the
/// smallest size a caller may pass (the end of the last field every caller must provide), the
/// handler, and a formatter for traces.
/// </summary>
public sealed record IoctlOp(string Name, uint Number, int Size, int MinSize, CommandHandler Handler, Func<ReadOnlySpan<byte>, string> Describe);
