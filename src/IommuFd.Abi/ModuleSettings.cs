using System.Runtime.CompilerServices;

// The dispatcher clears exactly the bytes it uses; the runtime's extra zeroing of every
// stackalloc would double that work on each ioctl.
[module: SkipLocalsInit]
