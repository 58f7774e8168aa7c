using System.Diagnostics;
using System.Globalization;
using Inlet.Core;
using Inlet.Storage;

namespace Inlet.Benchmarks;

/// <summary>
/// The message work queue's rate: N queued messages, then W workers each claiming (a batch of B), marking the
/// message processed and releasing it, until the queue is empty — the store's cost of one message's way through the
/// queue, without the pipeline. Runs on the embedded SQLite store, and on PostgreSQL when
/// <c>INLET_BENCH_POSTGRES</c> holds a connection string (bench/compare.py --claims starts one).
/// </summary>
internal static class WorkQueueClaims
{
    public static async Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4000;
        int[] workers = args.Length > 1 ? [.. args[1].Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture))] : [1, 4, 16, 64];
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1;
        var postgres = Environment.GetEnvironmentVariable("INLET_BENCH_POSTGRES");
        Console.WriteLine($"{count} messages per run, claim batch {batch}; rate = messages claimed, completed and released per second");
        Console.WriteLine($"{"store",-10} {"workers",7} {"msg/s",9}");
        foreach (var w in workers)
        {
            var folder = Directory.CreateTempSubdirectory("inlet-bench-claims").FullName;
            await using (var sqlite = new SqliteStateStore(Path.Combine(folder, "inlet.db"), "bench"))
            {
                await sqlite.InitializeAsync(CancellationToken.None);
                Console.WriteLine($"{"sqlite",-10} {w,7} {await MeasureAsync(sqlite, count, w, batch),9:N0}");
            }

            Directory.Delete(folder, recursive: true);
            if (postgres is not null)
            {
                await using var pg = new PostgresStateStore(postgres, "bench");
                await pg.InitializeAsync(CancellationToken.None);
                Console.WriteLine($"{"postgres",-10} {w,7} {await MeasureAsync(pg, count, w, batch),9:N0}");
            }
        }

        return 0;
    }

    private static async Task<double> MeasureAsync(IStateStore store, int count, int workers, int batch)
    {
        var now = DateTimeOffset.UtcNow;
        await Task.WhenAll(Enumerable.Range(0, count).Select(_ => store.InsertMessageAsync(new MessageRecord
        {
            Id = MessageId.New(now),
            ReceivedAt = now,
            MailFrom = "load@sender.test",
            Recipients = ["user@example.com"],
        }, null, CancellationToken.None)));

        var queue = store.MessageQueue;
        var done = 0;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, workers).Select(async _ =>
        {
            while (true)
            {
                var claimed = await queue.ClaimDueAsync(DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), batch, CancellationToken.None);
                if (claimed.Count == 0)
                {
                    return;
                }

                foreach (var message in claimed)
                {
                    await store.UpdateMessageAsync(new MessageUpdate(message.Id, MessageStatus.Processed), CancellationToken.None);
                    await queue.ReleaseAsync(message.Id, CancellationToken.None);
                    Interlocked.Increment(ref done);
                }
            }
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        if (done != count)
        {
            throw new InvalidOperationException($"{done} of {count} messages went through the queue");
        }

        return count / seconds;
    }
}
