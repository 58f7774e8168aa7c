using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Npgsql;

namespace Inlet.IntegrationTests;

/// <summary>
/// Several nodes on one PostgreSQL and one S3-compatible service (a second Inlet's S3 API), all on loopback: the work
/// is shared, a node killed with SIGKILL loses nothing, the database going away is answered with 451, and
/// configuration changes made on two nodes at once are both kept.
/// </summary>
public sealed class ScaleOutTests(PostgresServer postgres, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<PostgresServer>
{
    private static readonly string Rules = RuleSet("- S3Action: { BucketName: mail, ObjectKeyPrefix: in/ }");

    /// <summary>One active rule set whose rule takes example.com and runs the actions (YAML list items, one per line).</summary>
    private static string RuleSet(params string[] actions) => $$"""
        ReceiptRuleSets:
          - RuleSetName: main
            Rules:
              - Name: store
                Enabled: true
                Recipients: [example.com]
                Actions:
        {{string.Join("\n", actions.Select(a => "          " + a))}}
        ActiveReceiptRuleSet: main
        """;

    [PostgresFact]
    public async Task SingleNode_OnPostgres_ProcessesMailAndKeepsItsStateForTheNextNode()
    {
        var database = await postgres.NewDatabaseAsync();
        string id;
        await using (var first = await StartInProcessAsync(database, "first"))
        {
            id = await ReceiptRuleTests.SendAsync(first, NewMessage("on postgres"));
            await first.WaitForMessageAsync(id);
            Assert.NotNull(ReceiptRuleTests.ReadObject(first, "mail", "in/" + id));
            var health = await first.GetJsonAsync("/health");
            Assert.Equal("ok", health.GetProperty("status").GetString());
            Assert.Equal("first", health.GetProperty("node").GetString());
        }

        // Another node, with a data folder of its own, finds the message and the rules where the first left them.
        await using var second = await StartInProcessAsync(database, "second");
        var detail = await second.GetDetailAsync(id);
        Assert.Equal("processed", detail.GetProperty("message").GetProperty("status").GetString());
        Assert.Equal("store", second.Server.Services.GetService(typeof(Inlet.Rules.ReceiptConfigurationProvider)) is Inlet.Rules.ReceiptConfigurationProvider p
            ? p.Current.Configuration.ActiveRuleSet!.Rules[0].Name : null);
    }

    [Fact]
    public async Task PostgresUnreachableAtStart_IsAConfigurationErrorNamingTheHost()
    {
        var port = LoopbackPorts.Free();
        var error = await Assert.ThrowsAsync<Inlet.Hosting.ConfigurationException>(() => TestServer.StartAsync(Rules, o => o with
        {
            State = new Inlet.Storage.StateOptions { Type = "postgres", ConnectionString = $"Host=127.0.0.1;Port={port};Username=inlet;Database=inlet" },
        }));
        Assert.StartsWith("State: cannot open the PostgreSQL state store (127.0.0.1): ", error.Message, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task TwoNodes_OneKilledUnderLoad_EveryAcknowledgedMessageIsProcessedOnce()
    {
        var database = await postgres.NewDatabaseAsync();
        await using var s3 = await TestServer.StartAsync();
        await using var nodeA = await StartProcessAsync(database, s3, "node-a");
        await using var nodeB = await StartProcessAsync(database, s3, "node-b");

        var acknowledged = new ConcurrentDictionary<string, string>();
        var aDead = false;
        using var stop = new CancellationTokenSource();
        var senders = new[] { nodeA, nodeA, nodeB, nodeB }.Select((node, n) => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                try
                {
                    using var client = new SmtpClient();
                    await client.ConnectAsync(node.Smtp.Address.ToString(), node.Smtp.Port, SecureSocketOptions.None);
                    var reply = await client.SendAsync(NewMessage($"sender {n} message {i}"));
                    acknowledged[reply.Split(' ').Last()] = node == nodeA ? "a" : "b";
                    await client.DisconnectAsync(true);
                }
                catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or SmtpProtocolException or SmtpCommandException && Volatile.Read(ref aDead) && node == nodeA)
                {
                    return;
                }
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(3));
        Volatile.Write(ref aDead, true);
        await nodeA.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        await Task.WhenAll(senders);
        Assert.Contains("a", acknowledged.Values);

        // After node a's leases (3 s) run out, node b finishes what node a had acknowledged.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        var unfinished = acknowledged.Keys.ToHashSet();
        while (unfinished.Count > 0 && DateTime.UtcNow < deadline)
        {
            foreach (var id in unfinished.ToList())
            {
                var detail = await nodeB.Http.GetFromJsonAsync<JsonElement>($"/api/messages/{id}");
                if (detail.GetProperty("message").GetProperty("status").GetString() == "processed")
                {
                    unfinished.Remove(id);
                }
            }

            await Task.Delay(200);
        }

        output.WriteLine($"{acknowledged.Count} acknowledged ({acknowledged.Values.Count(v => v == "a")} by node a)");
        Assert.Empty(unfinished);
        foreach (var id in acknowledged.Keys)
        {
            Assert.NotNull(ReceiptRuleTests.ReadObject(s3, "mail", "in/" + id));
            var trace = (await nodeB.Http.GetFromJsonAsync<JsonElement>($"/api/messages/{id}")).GetProperty("trace").EnumerateArray().ToList();
            Assert.Single(trace, e => e.GetProperty("kind").GetString() == "end");
        }

        // Nothing is left leased or unfinished, and the spool holds one object per message.
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var stuck = new NpgsqlCommand("SELECT count(*) FROM messages WHERE status IN ('queued', 'processing', 'retrying', 'inline') OR lease_owner IS NOT NULL;", connection);
        Assert.Equal(0L, (long)(await stuck.ExecuteScalarAsync())!);
        // A transaction node a was committing when it died may have its object stored without the client hearing
        // 250 (one per sender at most); such an object is an orphan, removed by a later start once it is an hour old.
        // The bucket's own files (its creation time) begin with '!', which no key of the spool does.
        var spooled = Directory.GetFiles(Path.Combine(s3.Directory, "buckets", "inlet-spool"), "*", SearchOption.AllDirectories)
            .Count(f => !Path.GetFileName(f).StartsWith('!'));
        Assert.InRange(spooled - acknowledged.Count, 0, 2);
    }

    [PostgresFact]
    public async Task PostgresRestarted_SmtpAnswers451WhileItIsAway_AndTheNodeRecoversByItself()
    {
        var database = await postgres.NewDatabaseAsync();
        await using var node = await StartInProcessAsync(database, "restarts");
        await node.WaitForMessageAsync(await ReceiptRuleTests.SendAsync(node, NewMessage("before")));

        await postgres.StopAsync();
        try
        {
            var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => ReceiptRuleTests.SendAsync(node, NewMessage("while away")));
            Assert.Equal(4, (int)refused.StatusCode / 100);
            using var health = await node.Http.GetAsync("/health");
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
        }
        finally
        {
            await postgres.StartAsync();
        }

        // PostgreSQL takes a while to come back on a loaded machine, and the connection pool after it: 30 s of tries.
        string? id = null;
        string? lastRefusal = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (id is null && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                id = await ReceiptRuleTests.SendAsync(node, NewMessage("after"));
            }
            catch (SmtpCommandException e) when ((int)e.StatusCode / 100 == 4)
            {
                lastRefusal = $"{(int)e.StatusCode} {e.Message}";
                await Task.Delay(200);
            }
        }

        using var healthAfter = await node.Http.GetAsync("/health");
        Assert.True(id is not null, $"still refused after 30 s: {lastRefusal}; /health {(int)healthAfter.StatusCode} {await healthAfter.Content.ReadAsStringAsync()}");
        await node.WaitForMessageAsync(id);
    }

    [PostgresFact]
    public async Task S3SpoolUnreachable_SmtpAnswers451WhileItIsAway_AndTheNodeRecoversByItself()
    {
        var database = await postgres.NewDatabaseAsync();
        var s3Directory = TestServer.NewDirectory();
        var port = LoopbackPorts.Free();
        Func<Inlet.Hosting.InletOptions, Inlet.Hosting.InletOptions> fixedPort = o => o with { Http = o.Http with { Listen = $"127.0.0.1:{port}" } };
        var s3 = await TestServer.StartAsync(adjust: fixedPort, directory: s3Directory);
        await using var node = await TestServer.StartAsync(Rules, o => o with
        {
            State = new Inlet.Storage.StateOptions { Type = "postgres", ConnectionString = database, NodeId = "s3-spool", Lease = TimeSpan.FromSeconds(3) },
            Spool = new Inlet.Storage.SpoolOptions { Type = "s3", Bucket = "inlet-spool" },
            BucketStore = new Inlet.Storage.S3StoreOptions { ServiceUrl = $"http://127.0.0.1:{port}", AccessKeyId = "inlet", SecretAccessKey = "inlet-secret" },
        });
        try
        {
            await node.WaitForMessageAsync(await ReceiptRuleTests.SendAsync(node, NewMessage("before")));
            // A message past what is buffered in memory goes up and comes back through temporary files.
            var large = NewMessage("large");
            large.Body = new TextPart("plain") { Text = string.Concat(Enumerable.Repeat(new string('y', 998) + "\n", 300)) };
            var largeId = await ReceiptRuleTests.SendAsync(node, large);
            await node.WaitForMessageAsync(largeId);
            Assert.True(ReceiptRuleTests.ReadObject(s3, "mail", "in/" + largeId)!.Length > 300_000);

            await s3.DisposeAsync();
            var refused = await Assert.ThrowsAsync<SmtpCommandException>(() => ReceiptRuleTests.SendAsync(node, NewMessage("while away")));
            Assert.Equal(4, (int)refused.StatusCode / 100);
            using (var health = await node.Http.GetAsync("/health"))
            {
                Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, health.StatusCode);
            }

            s3 = await TestServer.StartAsync(adjust: fixedPort, directory: s3Directory);
            var id = await ReceiptRuleTests.SendAsync(node, NewMessage("after"));
            await node.WaitForMessageAsync(id);
            Assert.NotNull(ReceiptRuleTests.ReadObject(s3, "mail", "in/" + id));
        }
        finally
        {
            await s3.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task TwoNodes_ChangeTheRulesAtOnce_BothChangesAreKept()
    {
        var database = await postgres.NewDatabaseAsync();
        await using var a = await StartInProcessAsync(database, "api-a");
        await using var b = await StartInProcessAsync(database, "api-b");

        var creates = new[] { (a, "from-a-1"), (b, "from-b-1"), (a, "from-a-2"), (b, "from-b-2") }
            .Select(p => AwsCli.RunAsync(p.Item1, "ses", "create-receipt-rule-set", "--rule-set-name", p.Item2)).ToList();
        var duplicates = new[] { a, b }.Select(n => AwsCli.RunAsync(n, "ses", "create-receipt-rule-set", "--rule-set-name", "both")).ToList();
        var results = await Task.WhenAll(creates.Concat(duplicates));

        Assert.All(results.Take(4), r => Assert.Equal(0, r.ExitCode));
        var duplicateResults = results.Skip(4).ToList();
        Assert.Single(duplicateResults, r => r.ExitCode == 0);
        Assert.Contains("AlreadyExists", Assert.Single(duplicateResults, r => r.ExitCode != 0).Error, StringComparison.Ordinal);
        foreach (var node in new[] { a, b })
        {
            // Each node sees every rule set, whichever node made it (NOTIFY, or the change feed's next look).
            var names = new List<string>();
            for (var attempt = 0; attempt < 30; attempt++)
            {
                var listed = await AwsCli.RunAsync(node, "ses", "list-receipt-rule-sets");
                names = listed.Json.GetProperty("RuleSets").EnumerateArray().Select(s => s.GetProperty("Name").GetString()!).ToList();
                if (names.Count == 6)
                {
                    break;
                }

                await Task.Delay(200);
            }

            Assert.Equal(["both", "from-a-1", "from-a-2", "from-b-1", "from-b-2", "main"], names.Order(StringComparer.Ordinal));
        }
    }

    [PostgresFact]
    public async Task FunctionMadeThroughOneNode_RunsOnTheOther_AndIsGoneFromBothWhenDeleted()
    {
        var database = await postgres.NewDatabaseAsync();
        await using var a = await StartInProcessAsync(database, "fn-a");
        await using var b = await StartInProcessAsync(database, "fn-b");
        var zip = Path.Combine(a.Directory, "fn.zip");
        using (var archive = System.IO.Compression.ZipFile.Open(zip, System.IO.Compression.ZipArchiveMode.Create))
        await using (var writer = new StreamWriter(archive.CreateEntry("index.js").Open()))
        {
            await writer.WriteAsync("exports.handler = async () => ({ ranOn: process.env.AWS_LAMBDA_FUNCTION_NAME, answer: 42 });");
        }

        var created = await AwsCli.RunAsync(a, "lambda", "create-function", "--function-name", "shared-fn", "--runtime", "nodejs20.x",
            "--role", "arn:aws:iam::000000000000:role/x", "--handler", "index.handler", "--zip-file", "fileb://" + zip);
        Assert.True(created.ExitCode == 0, created.Error);

        // Node b has never seen the zip: it learns of the function from the change feed and unpacks the stored code.
        var output = Path.Combine(b.Directory, "out.json");
        AwsCli.Result invoked = default!;
        for (var attempt = 0; attempt < 30; attempt++)
        {
            invoked = await AwsCli.RunAsync(b, "lambda", "invoke", "--function-name", "shared-fn", output);
            if (invoked.ExitCode == 0)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.True(invoked.ExitCode == 0, invoked.Error);
        Assert.Contains("\"answer\":42", await File.ReadAllTextAsync(output), StringComparison.Ordinal);

        Assert.Equal(0, (await AwsCli.RunAsync(b, "lambda", "delete-function", "--function-name", "shared-fn")).ExitCode);
        AwsCli.Result gone = default!;
        for (var attempt = 0; attempt < 30; attempt++)
        {
            gone = await AwsCli.RunAsync(a, "lambda", "get-function", "--function-name", "shared-fn");
            if (gone.ExitCode != 0)
            {
                break;
            }

            await Task.Delay(200);
        }

        Assert.Contains("ResourceNotFoundException", gone.Error, StringComparison.Ordinal);
    }

    private static Task<TestServer> StartInProcessAsync(string database, string nodeId) =>
        TestServer.StartAsync(Rules, o => o with { State = new Inlet.Storage.StateOptions { Type = "postgres", ConnectionString = database, NodeId = nodeId, Lease = TimeSpan.FromSeconds(3) } });

    /// <summary>The nodes run a synchronous function before the S3 action, so that a kill also lands in the middle of one.</summary>
    private static string FunctionRules(string folder) => $$"""
        Functions:
          - FunctionName: slow
            Runtime: nodejs20.x
            Handler: index.handler
            Code: {{folder}}
        {{RuleSet("- LambdaAction: { FunctionArn: slow, InvocationType: RequestResponse }", "- S3Action: { BucketName: mail, ObjectKeyPrefix: in/ }")}}
        """;

    private static async Task<InletProcess> StartProcessAsync(string database, TestServer s3, string nodeId)
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "slow", "index.js",
            "exports.handler = async () => { await new Promise(r => setTimeout(r, 200)); return { disposition: 'CONTINUE' }; };\n");
        var config = Path.Combine(directory, "inlet.yaml");
        await File.WriteAllTextAsync(config, $"""
            State: {JsonSerializer.Serialize(new { Type = "postgres", ConnectionString = database, NodeId = nodeId, LeaseSeconds = 3 })}
            Spool: {JsonSerializer.Serialize(new { Type = "s3", Bucket = "inlet-spool" })}
            BucketStore: {JsonSerializer.Serialize(new { Type = "s3", ServiceUrl = $"http://{s3.Server.HttpEndPoint}", AccessKeyId = "inlet", SecretAccessKey = "inlet-secret" })}
            {FunctionRules(folder)}
            """);
        return await InletProcess.StartAsync(directory, config);
    }

    private static MimeMessage NewMessage(string subject)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("sender@sender.test"));
        message.To.Add(MailboxAddress.Parse("user@example.com"));
        message.Subject = subject;
        message.Body = new TextPart("plain") { Text = "hello from the load\n" };
        return message;
    }
}
