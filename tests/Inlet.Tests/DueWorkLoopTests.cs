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
    public async Task HandOver_AfterWorkWasQueuedDuringAClaim_WaitsForAClaimThatStartedAfterIt()
    {
        var queue = new EmptyQueue();
        var loop = new DueWorkLoop<string>("test", queue, id => id, (_, _) => Task.CompletedTask, 4, TimeSpan.FromMinutes(1), TimeProvider.System, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var running = loop.RunAsync(stop.Token);
        await queue.WaitForClaimsAsync(1);

        // A claim is under way when older work is written: that claim may have looked before the write, so it cannot
        // say the queue caught up, and a new item must not pass the older one until a later claim has looked.
        // Between that claim and the next, the loop looks when the next item is due: a hand-over there would pass.
        var passed = false;
        queue.Hold = true;
        loop.Wake();
        await WaitUntilAsync(() => queue.Entered == 2);
        loop.Wake();
        queue.AfterClaim = () =>
        {
            // Once: after the claim that was under way; the one after it may well catch up.
            queue.AfterClaim = null;
            if (loop.TryReserve())
            {
                passed = true;
                loop.Unreserve();
            }
        };
        queue.Hold = false;
        queue.Pass();
        await WaitUntilAsync(() => queue.Claims >= 3);
        Assert.False(passed, "the claim that ran during the write said the queue caught up");
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

    /// <summary>A queue with nothing due, which counts the claims made of it; while held, each claim waits to be let pass.</summary>
    private sealed class EmptyQueue : IWorkQueue<string>
    {
        private int _claims;
        private int _entered;

        /// <summary>Claims that have ended.</summary>
        public int Claims => Volatile.Read(ref _claims);

        /// <summary>Claims that have begun.</summary>
        public int Entered => Volatile.Read(ref _entered);

        private readonly SemaphoreSlim _pass = new(0);

        /// <summary>While true, each claim waits for a <see cref="Pass"/>.</summary>
        public volatile bool Hold;

        public void Pass() => _pass.Release();

        public async Task WaitForClaimsAsync(int count) => await WaitUntilAsync(() => Claims >= count);

        public async Task<IReadOnlyList<string>> ClaimDueAsync(DateTimeOffset now, TimeSpan lease, int limit, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _entered);
            if (Hold)
            {
                await _pass.WaitAsync(cancellationToken);
            }

            Interlocked.Increment(ref _claims);
            return [];
        }

        public Task RenewAsync(IReadOnlyCollection<string> ids, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ReleaseAsync(string released, CancellationToken cancellationToken) => Task.CompletedTask;

        /// <summary>Called where the loop looks for the next due time, which it does after a claim that found nothing.</summary>
        public volatile Action? AfterClaim;

        public Task<DateTimeOffset?> NextDueAsync(CancellationToken cancellationToken)
        {
            AfterClaim?.Invoke();
            return Task.FromResult<DateTimeOffset?>(null);
        }
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
