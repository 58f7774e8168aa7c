using BenchmarkDotNet.Running;
using Inlet.Benchmarks;

// `lambda` runs the function round-trip measurement (it needs node on PATH), `aws-calls` what a function's S3 and SES
// calls cost from inside it, `concurrency`
// how fast a slow function's messages are processed, `claims` the work queue's rate, `sns` the delivery rate to a local
// HTTP subscriber; anything else goes to BenchmarkDotNet.
if (args.Length > 0 && args[0] == "lambda")
{
    return await LambdaRoundTrip.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "aws-calls")
{
    return await FunctionAwsCalls.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "concurrency")
{
    return await ProcessingConcurrency.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "claims")
{
    return await WorkQueueClaims.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "sns")
{
    return await SnsDelivery.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
