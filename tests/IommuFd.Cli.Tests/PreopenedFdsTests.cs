using IommuFd.Cli;

namespace IommuFd.Cli.Tests;

public sealed class PreopenedFdsTests
{
    [Fact]
    public void Each_fd_becomes_one_entry_of_the_variable_in_the_order_given()
    {
        var fds = PreopenedFds.Parse(["5=/dev/iommu", "3=/dev/vfio/devices/vfio0", "10=/etc/hostname"], out var problem);
        Assert.Null(problem);
        Assert.NotNull(fds);
        Assert.Equal([new(5, "/dev/iommu"), new(3, "/dev/vfio/devices/vfio0"), new(10, "/etc/hostname")], fds);
        Assert.Equal("5=/dev/iommu,3=/dev/vfio/devices/vfio0,10=/etc/hostname", PreopenedFds.ToEnvironmentValue(fds));
    }

    [Fact]
    public void A_relative_path_is_made_absolute_where_the_user_typed_it()
    {
        var fds = PreopenedFds.Parse(["4=some/file"], out _);
        Assert.NotNull(fds);
        Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "some/file"), fds[0].Path);
    }

    [Fact]
    public void A_path_may_contain_an_equals_sign()
    {
        var fds = PreopenedFds.Parse(["7=/tmp/a=b"], out _);
        Assert.NotNull(fds);
        Assert.Equal(new PreopenedFd(7, "/tmp/a=b"), fds[0]);
    }

    [Theory]
    [InlineData("/dev/iommu", "expected N=PATH")]
    [InlineData("=/dev/iommu", "non-negative fd number")]
    [InlineData("-3=/dev/iommu", "non-negative fd number")]
    [InlineData("+3=/dev/iommu", "non-negative fd number")]
    [InlineData("x=/dev/iommu", "non-negative fd number")]
    [InlineData(" 3=/dev/iommu", "non-negative fd number")]
    [InlineData("99999999999=/dev/iommu", "non-negative fd number")]
    [InlineData("0=/dev/iommu", "stdin, stdout and stderr")]
    [InlineData("2=/dev/iommu", "stdin, stdout and stderr")]
    [InlineData("3=", "PATH is empty")]
    [InlineData("3=/tmp/a,b", "contains ','")]
    public void A_bad_value_is_refused_with_the_reason(string value, string reason)
    {
        var fds = PreopenedFds.Parse(["4=/dev/iommu", value], out var problem);
        Assert.Null(fds);
        Assert.NotNull(problem);
        Assert.StartsWith($"--fd {value}: ", problem, StringComparison.Ordinal);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_fd_given_twice_is_refused()
    {
        var fds = PreopenedFds.Parse(["4=/dev/iommu", "5=/dev/null", "4=/dev/vfio/devices/vfio0"], out var problem);
        Assert.Null(fds);
        Assert.Equal("--fd 4=/dev/vfio/devices/vfio0: fd 4 is given twice", problem);
    }

    [Fact]
    public void Without_fds_the_child_gets_no_variable()
    {
        var env = RunCommand.Environment("/shim.so", "/engine.so", null);
        RunCommand.AddPreopenedFds(env, []);
        Assert.False(env.ContainsKey(PreopenedFds.EnvironmentVariable));
        RunCommand.AddPreopenedFds(env, [new(3, "/dev/iommu"), new(4, "/dev/vfio/devices/vfio1")]);
        Assert.Equal("3=/dev/iommu,4=/dev/vfio/devices/vfio1", env[PreopenedFds.EnvironmentVariable]);
    }
}
