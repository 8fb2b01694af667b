namespace IommuFd.Core.Domains;

/// <summary>
/// What a device attaches to in hardware: a paging domain (<see cref="IIoDomain"/>) or a nested
/// stage-1 domain (<see cref="INestedDomain"/>). Drivers decide compatibility on this.
/// </summary>
public interface IIommuDomain;
