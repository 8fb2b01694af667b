using IommuFd.Core.Dma;
using IommuFd.Core.Faults;

namespace IommuFd.Core.Tests.Dma;

/// <summary>A device model that writes down every fault and page response it is told about.</summary>
public sealed class RecordingDeviceModel(bool canRequestPages = false) : IDmaDeviceModel
{
    public string Name => "recording";

    public bool CanRequestPages { get; } = canRequestPages;

    public List<DmaFault> Errors { get; } = [];

    public List<(DmaFault Fault, PageResponseCode Code)> Responses { get; } = [];

    public void OnDmaError(DmaFault fault) => Errors.Add(fault);

    public void OnPageResponse(DmaFault fault, PageResponseCode code) => Responses.Add((fault, code));
}
