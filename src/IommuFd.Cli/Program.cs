using System.CommandLine;
using IommuFd.Cli;

// The command line: each subcommand lives in its own class; this file only wires them up.
var root = new RootCommand("iommufd-emu: Linux's iommufd (/dev/iommu) emulated in user space");

var demo = new Command("demo", "Walk the managed API through MAP, COPY, UNMAP and IOVA ranges on simulated memory");
demo.SetAction(_ => DemoCommand.Run());
root.Subcommands.Add(demo);

var trace = new Option<FileInfo?>("--trace") { Description = "Append one line per emulated ioctl to FILE", HelpName = "FILE" };
var machine = new Option<string?>("--machine")
{
    Description = "The machine to emulate: a preset name (see `machines`) or a JSON file; default selftest",
    HelpName = "NAME|FILE",
};
var fd = new Option<string[]>("--fd")
{
    Description = "Open PATH (emulated or real) at fd N before the program starts, as a management layer hands a VMM its fds; repeatable",
    HelpName = "N=PATH",
    Arity = ArgumentArity.ZeroOrMore,
};
var program = new Argument<string[]>("command")
{
    Description = "The program to run and its arguments (after --)",
    Arity = ArgumentArity.OneOrMore,
};
var run = new Command("run", "Run a program with /dev/iommu and the machine's VFIO devices emulated (LD_PRELOAD shim + NativeAOT engine)")
{
    trace,
    machine,
    fd,
    program,
};
run.SetAction(parse => RunCommand.Run(parse.GetValue(trace), parse.GetValue(machine), parse.GetValue(fd) ?? [], parse.GetValue(program) ?? []));
root.Subcommands.Add(run);

var machines = new Command("machines", "List the preset machines `run --machine` knows by name");
machines.SetAction(_ => MachinesCommand.Run());
root.Subcommands.Add(machines);

var calls = new Option<long>("--calls") { Description = "ioctls per timed round", DefaultValueFactory = _ => 1_000_000 };
var starts = new Option<int>("--starts") { Description = "program starts per start-up variant", DefaultValueFactory = _ => 40 };
var bench = new Command("bench", "Measure an emulated ioctl round trip against a kernel ioctl, and the start-up cost")
{
    calls,
    starts,
};
bench.SetAction(parse => BenchCommand.Run(parse.GetValue(calls), parse.GetValue(starts)));
root.Subcommands.Add(bench);

return root.Parse(args).Invoke();
