using BenchmarkDotNet.Running;
using Inlet.Benchmarks;

// `lambda` runs the function round-trip measurement (it needs node on PATH); anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "lambda")
{
    return await LambdaRoundTrip.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
