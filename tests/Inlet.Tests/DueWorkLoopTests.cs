using System.Collections.Concurrent;
using Inlet.Core;
using Microsoft.Extensions.Logging.Abstractions;

namespace Inlet.Tests;

/// <summary>
/// The work loop's release after a run (made when the run left its item leased, skipped when the run gave the lease
/// up), and its life through a store that stops answering.
/// </summary>
public sealed class DueWorkLoopTests
{
    [Fact]
    public async Task Run_GaveTheLeaseUp_IsNotFollowedByARelease()
    {
        var queue = new OneShotQueue("a");
        // A method group, as the message processor passes its run.
        await RunUntilDoneAsync(new DueWorkLoop<string>("test", queue, id => id, GiveUpAsync, 1, TimeSpan.FromMinutes(1), TimeProvider.System, NullLogger.Instance), queue);

        Assert.Empty(queue.Released);
    }

    [Fact]
    public async Task Run_LeftItsItemLeased_IsReleased()
    {
        var queue = new OneShotQueue("a");
        await RunUntilDoneAsync(new DueWorkLoop<string>("test", queue, id => id, (_, _) => Task.CompletedTask, 1, TimeSpan.FromMinutes(1), TimeProvider.System, NullLogger.Instance), queue);

        Assert.Equal(["a"], queue.Released);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task StoreFails_TheLoopGoesOn_AndRunsWhatComesLater(bool inTheClaim, bool storeCancelledItself)
    {
        // A database restart between the claim and the look at the next due time ended the loop, and the host with
        // it; so would a cancellation the store raises itself (a timeout of its own) while the loop is not stopping.
        Exception failure = storeCancelledItself ? new TaskCanceledException("the store's own timeout") : new InvalidOperationException("the store went away");
        var queue = new FailingQueue("later", failure, inTheClaim);
        using var stop = new CancellationTokenSource();
        var ran = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = new DueWorkLoop<string>("test", queue, id => id, (id, _) => { ran.TrySetResult(id); return Task.CompletedTask; }, 1, TimeSpan.FromMinutes(1), TimeProvider.System, NullLogger.Instance);
        var running = loop.RunAsync(stop.Token);

        await queue.Failed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        loop.Wake();
        Assert.Equal("later", await ran.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.False(running.IsCompleted);

        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task HandOver_WhileCaughtUp_RunsWithoutAClaim_AndNeverPassesTheParallelism()
    {
        var queue = new EmptyQueue();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = new ConcurrentQueue<string>();
        var loop = new DueWorkLoop<string>("test", queue, id => id, async (id, _) => { ran.Enqueue(id); await gate.Task; }, 2, TimeSpan.FromMinutes(1), TimeProvider.System, NullLogger.Instance);
        Assert.False(loop.TryReserve());

        using var stop = new CancellationTokenSource();
        var running = loop.RunAsync(stop.Token);
        await queue.WaitForClaimsAsync(1);
        Assert.True(loop.TryReserve());
        Assert.True(loop.TryReserve());
        Assert.False(loop.TryReserve());
        // The queue has nothing to claim: what runs was handed over.
        loop.Start("a");
        loop.Start("b");
        await WaitUntilAsync(() => ran.Count == 2);
        Assert.Equal(["a", "b"], ran.Order());
        Assert.False(loop.TryReserve());

        gate.SetResult();
        await WaitUntilAsync(loop.TryReserve);
        loop.Unreserve();
        await stop.CancelAsync();
        await running;
    }

    [Fact]
    public async Task HandOver_AfterWorkWasQueued_WaitsUntilAClaimHasCaughtUp()
    {
        var queue = new EmptyQueue();
        var loop = new DueWorkLoop<string>("test", queue, id => id, (_, _) => Task.CompletedTask, 4, TimeSpan.FromMinutes(1), TimeProvider.System, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = loop.RunAsync(stop.Token);
        await queue.WaitForClaimsAsync(1);

        // Older work written to the store first: a new item must not pass it.
        queue.Hold = true;
        loop.Wake();
        Assert.False(loop.TryReserve());
        queue.Hold = false;
        loop.Wake();
        await WaitUntilAsync(loop.TryReserve);
        loop.Unreserve();
        await stop.CancelAsync();
        await running;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var waited = 0; !condition(); waited += 10)
        {
            Assert.True(waited < 10_000, "the condition never held");
            await Task.Delay(10);
        }
    }

    private static Task<LeaseAfterRun> GiveUpAsync(string id, CancellationToken cancellationToken) => Task.FromResult(LeaseAfterRun.GivenUp);

    private static async Task RunUntilDoneAsync(DueWorkLoop<string> loop, OneShotQueue queue)
    {
        using var stop = new CancellationTokenSource();
        var running = loop.RunAsync(stop.Token);
        await queue.Ran.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // The release, when there is one, follows the run at once; a moment more lets a wrong one show.
        await Task.Delay(200);
        await stop.CancelAsync();
        await running;
    }

    /// <summary>A queue with nothing due, which counts the claims made of it; while held, a claim waits.</summary>
    private sealed class EmptyQueue : IWorkQueue<string>
    {
        private int _claims;

        public int Claims => Volatile.Read(ref _claims);

        public volatile bool Hold;

        public async Task WaitForClaimsAsync(int count) => await WaitUntilAsync(() => Claims >= count);

        public async Task<IReadOnlyList<string>> ClaimDueAsync(DateTimeOffset now, TimeSpan lease, int limit, CancellationToken cancellationToken)
        {
            while (Hold)
            {
                await Task.Delay(5, cancellationToken);
            }

            Interlocked.Increment(ref _claims);
            return [];
        }

        public Task RenewAsync(IReadOnlyCollection<string> ids, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ReleaseAsync(string released, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken) => Task.FromResult<DateTimeOffset?>(null);
    }

    /// <summary>A queue that hands out its one item once.</summary>
    private sealed class OneShotQueue(string id) : IWorkQueue<string>
    {
        private int _claimed;

        public ConcurrentQueue<string> Released { get; } = new();

        public TaskCompletionSource Ran { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<IReadOnlyList<string>> ClaimDueAsync(DateTimeOffset now, TimeSpan lease, int limit, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<string>>(Interlocked.Exchange(ref _claimed, 1) == 0 ? [id] : []);

        public Task RenewAsync(IReadOnlyCollection<string> ids, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ReleaseAsync(string released, CancellationToken cancellationToken)
        {
            Released.Enqueue(released);
            return Task.CompletedTask;
        }

        public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
        {
            if (Volatile.Read(ref _claimed) == 1)
            {
                Ran.TrySetResult();
            }

            return Task.FromResult<DateTimeOffset?>(null);
        }
    }

    /// <summary>
    /// A queue whose first claim, or first look at the next due time, fails as a store that went away does; its item
    /// is due from then on.
    /// </summary>
    private sealed class FailingQueue(string id, Exception failure, bool inTheClaim) : IWorkQueue<string>
    {
        private int _claimed;

        public TaskCompletionSource Failed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<IReadOnlyList<string>> ClaimDueAsync(DateTimeOffset now, TimeSpan lease, int limit, CancellationToken cancellationToken)
        {
            if (inTheClaim && Failed.TrySetResult())
            {
                throw failure;
            }

            return Task.FromResult<IReadOnlyList<string>>(Failed.Task.IsCompleted && Interlocked.Exchange(ref _claimed, 1) == 0 ? [id] : []);
        }

        public Task RenewAsync(IReadOnlyCollection<string> ids, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ReleaseAsync(string released, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
        {
            if (!inTheClaim && Failed.TrySetResult())
            {
                throw failure;
            }

            return Task.FromResult<DateTimeOffset?>(null);
        }
    }
}
