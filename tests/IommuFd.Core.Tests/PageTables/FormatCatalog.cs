using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Tests.PageTables;

/// <summary>A test body that runs once per format, specialised for the format's codec.</summary>
internal interface IFormatTest
{
    void Run<TCodec>(PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec;
}

/// <summary>Every hardware format preset by name, so theories can list them and run a generic body on each.</summary>
internal static class FormatCatalog
{
    public static readonly string[] Names =
    [
        "vtd-ss-4", "vtd-ss-5", "x86-fs-4", "x86-fs-5", "amdv1-4", "amdv1-6",
        "arm-s1-4k", "arm-s2-4k", "arm-s1-4k-dbm", "arm-s2-4k-dbm", "arm-s1-16k", "arm-s2-64k",
    ];

    public static void Run(string name, IFormatTest test)
    {
        switch (name)
        {
            case "vtd-ss-4": test.Run(VtdSecondStage.FourLevel, VtdSecondStage.PageSizes); break;
            case "vtd-ss-5": test.Run(VtdSecondStage.FiveLevel, VtdSecondStage.PageSizes); break;
            case "x86-fs-4": test.Run(X86FirstStage.FourLevel, X86FirstStage.PageSizes); break;
            case "x86-fs-5": test.Run(X86FirstStage.FiveLevel, X86FirstStage.PageSizes); break;
            case "amdv1-4": test.Run(AmdV1Formats.Host4Level, AmdV1Formats.Host4Level.LeafSizes); break;
            case "amdv1-6": test.Run(AmdV1Formats.Host(64), AmdV1Formats.Host(64).LeafSizes); break;
            case "arm-s1-4k": test.Run(ArmLpae.Stage1_4K, ArmLpae.PageSizes(12)); break;
            case "arm-s2-4k": test.Run(ArmLpae.Stage2_4K, ArmLpae.PageSizes(12)); break;
            case "arm-s1-4k-dbm": test.Run(ArmLpae.Create(1, 12, 48, hardwareDirty: true), ArmLpae.PageSizes(12)); break;
            case "arm-s2-4k-dbm": test.Run(ArmLpae.Create(2, 12, 48, hardwareDirty: true), ArmLpae.PageSizes(12)); break;
            case "arm-s1-16k": test.Run(ArmLpae.Stage1_16K, ArmLpae.PageSizes(14)); break;
            case "arm-s2-64k": test.Run(ArmLpae.Stage2_64K, ArmLpae.PageSizes(16)); break;
            default: throw new ArgumentException($"no format {name}", nameof(name));
        }
    }
}
