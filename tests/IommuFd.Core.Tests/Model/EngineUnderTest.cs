using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Model;

/// <summary>The real engine driven by the model test: a context with a few IOASes and domains.</summary>
public sealed class EngineUnderTest
{
    public EngineUnderTest(int ioasCount, IReadOnlyList<ModelDomainSpec> domains, ulong memlockPages, UserLayout layout)
    {
        Memory = new SimulatedUserMemory();
        Memory.Map(layout.WritableBase, layout.WritablePages * 4096, writable: true);
        Memory.Map(layout.ReadOnlyBase, layout.ReadOnlyPages * 4096, writable: false);
        Host = new IommuHost(Memory, memlockPages * 4096);
        Context = new IommufdContext(Host);
        for (var i = 0; i < ioasCount; i++)
        {
            Context.CreateIoas(out var id).ThrowIfError("create IOAS");
            Ioases.Add(id);
        }
        foreach (var spec in domains)
            Domains.Add(new RecordingDomain(new IovaRange(spec.ApertureStart, spec.ApertureLast), spec.FailOnMapCall));
        DomainAttachedTo = Enumerable.Repeat(-1, domains.Count).ToList();
    }

    public SimulatedUserMemory Memory { get; }
    public IommuHost Host { get; }
    public IommufdContext Context { get; }
    public List<IoasId> Ioases { get; } = [];
    public List<RecordingDomain> Domains { get; } = [];
    public List<int> DomainAttachedTo { get; }

    public Errno LastErrno { get; set; }
    public ulong LastValue { get; set; }

    public IommuFd.Core.AddressSpace.IoPageTable Table(int index)
    {
        var ioas = Context.Objects.Peek<Ioas>(Ioases[index]);
        return ioas.PageTable;
    }

    public void Map(int ioasIndex, ulong userAddress, ulong length, IoProt prot, bool fixedIova, ulong iova)
    {
        LastErrno = Context.Map(Ioases[ioasIndex], userAddress, length, prot, fixedIova ? IovaPlacement.Fixed : IovaPlacement.Automatic, ref iova);
        LastValue = LastErrno == Errno.Ok ? iova : 0;
    }

    public void Copy(int dst, int src, ulong srcIova, ulong length, IoProt prot, bool fixedIova, ulong dstIova)
    {
        LastErrno = Context.Copy(Ioases[dst], Ioases[src], srcIova, length, prot, fixedIova ? IovaPlacement.Fixed : IovaPlacement.Automatic, ref dstIova);
        LastValue = LastErrno == Errno.Ok ? dstIova : 0;
    }

    public void Unmap(int ioasIndex, ulong iova, ulong length)
    {
        LastErrno = Context.Unmap(Ioases[ioasIndex], iova, length, out var unmapped);
        LastValue = LastErrno == Errno.Ok ? unmapped : 0;
    }

    public void Allow(int ioasIndex, List<(ulong Start, ulong Last)> ranges) =>
        LastErrno = Context.AllowIovas(Ioases[ioasIndex], ranges.Select(r => new IovaRange(r.Start, r.Last)).ToList());

    public void Reserve(int ioasIndex, ulong start, ulong last) =>
        LastErrno = Context.AddReserved(Ioases[ioasIndex], start, last);

    public void Attach(int domain, int ioasIndex)
    {
        LastErrno = Table(ioasIndex).AddDomain(Domains[domain]);
        if (LastErrno == Errno.Ok)
            DomainAttachedTo[domain] = ioasIndex;
    }

    public void Detach(int domain)
    {
        Table(DomainAttachedTo[domain]).RemoveDomain(Domains[domain]);
        DomainAttachedTo[domain] = -1;
        LastErrno = Errno.Ok;
    }
}
