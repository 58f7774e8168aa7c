namespace Inlet.Processing;

/// <summary>How failed actions are retried: with exponential back-off, for up to SES's 4 hours.</summary>
internal sealed record ProcessingOptions
{
    /// <summary>Delay before the first retry; each further retry waits twice as long, up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>SES stops retrying a failed action after 4 hours (the <c>PublishExpired</c> metric).</summary>
    public TimeSpan RetryMaxAge { get; init; } = TimeSpan.FromHours(4);

    /// <summary>
    /// Messages in processing at the same time. Processing mostly waits (on functions, DNS, scanners), so this is a
    /// bound on work in flight rather than a pool sized to the cores; a function's own concurrency
    /// (ReservedConcurrentExecutions, FunctionSettings.DefaultConcurrency) limits how many of them run it at once, and
    /// the others wait for an environment, as SES's RequestResponse invocations wait.
    /// </summary>
    public int Workers { get; init; } = 64;

    public TimeSpan DelayFor(int attempts) =>
        TimeSpan.FromTicks(Math.Min(RetryMaxDelay.Ticks, RetryInitialDelay.Ticks * (1L << Math.Min(attempts - 1, 30))));
}
