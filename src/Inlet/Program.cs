using System.CommandLine;
using Inlet.Cli;

return await InletCommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
