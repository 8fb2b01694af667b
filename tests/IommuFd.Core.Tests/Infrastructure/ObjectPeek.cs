using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Infrastructure;

public static class ObjectPeek
{
    /// <summary>Looks an object up for a test to inspect (the hold ends at once); throws when it is not there.</summary>
    public static T Peek<T>(this ObjectTable table, ObjectId id) where T : IommufdObject
    {
        using var hold = table.Hold<T>(id);
        hold.Status.ThrowIfError($"hold {id}");
        return hold.Value;
    }
}
