namespace IommuFd.Core.Machines;

/// <summary>
/// A machine to emulate: which IOMMUs exist and which devices sit behind them. Built in code,
/// read from JSON (<see cref="MachineJson"/>) or taken from a preset (<see cref="MachinePresets"/>);
/// <see cref="Validate"/> checks it the same way in every case.
/// </summary>
public sealed record MachineDescription
{
    /// <summary>The environment variable `iommufd-emu run --machine` sets: a preset name or an absolute file path.</summary>
    public const string EnvironmentVariable = "IOMMUFD_EMU_MACHINE";

    /// <summary>The machine's name (a preset's name, or the one its JSON gives).</summary>
    public required string Name { get; init; }

    /// <summary>One line saying what the machine is (shown by `iommufd-emu machines`).</summary>
    public string Summary { get; init; } = "";

    /// <summary>The IOMMUs, at least one.</summary>
    public required IReadOnlyList<IommuDescription> Iommus { get; init; }

    /// <summary>The devices, each naming the IOMMU it sits behind.</summary>
    public IReadOnlyList<DeviceDescription> Devices { get; init; } = [];

    /// <summary>Whether this is the selftest machine, today's behaviour (mock devices made on demand).</summary>
    public bool IsSelftest => Iommus.Count == 1 && Iommus[0].Model == IommuModel.Selftest && Devices.Count == 0;

    /// <summary>The IOMMU <paramref name="device"/> sits behind.</summary>
    public IommuDescription IommuOf(DeviceDescription device) =>
        Iommus.First(i => i.Id == device.Iommu);

    /// <summary>
    /// A preset by name, else a JSON file by path. Throws <see cref="MachineDescriptionException"/>
    /// naming the file and line when the file is unreadable, malformed or inconsistent.
    /// </summary>
    public static MachineDescription Load(string nameOrPath)
    {
        if (MachinePresets.TryGet(nameOrPath, out var preset))
            return preset;
        if (!File.Exists(nameOrPath))
            throw new MachineDescriptionException(nameOrPath, 0,
                $"no such preset or file (presets: {string.Join(", ", MachinePresets.All.Select(p => p.Name))})");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(nameOrPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MachineDescriptionException(nameOrPath, 0, $"cannot read: {e.Message}");
        }
        return MachineJson.Parse(bytes, nameOrPath);
    }

    /// <summary>
    /// The machine named by <see cref="EnvironmentVariable"/>, or the selftest preset when it is unset
    /// (the engine's entry point: one call at start-up).
    /// </summary>
    public static MachineDescription FromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(EnvironmentVariable);
        return string.IsNullOrEmpty(value) ? MachinePresets.Selftest : Load(value);
    }

    /// <summary>Checks the description's consistency; throws <see cref="MachineDescriptionException"/> on the first problem.</summary>
    public void Validate() => MachineValidation.Check(this, source: null, lineOf: null);
}
