using System.Diagnostics;
using System.Text.Json;

namespace Inlet.IntegrationTests;

/// <summary>The CloudWatch Logs subset over function logs, with the aws CLI and boto3 against a real server.</summary>
public class CloudWatchLogsTests
{
    private const string Printer = """
        exports.handler = async (event, context) => {
            for (const line of event.lines || []) console.log(line);
            return { stream: context.logStreamName };
        };
        """;

    private static async Task<TestServer> StartAsync(string? directory = null)
    {
        directory ??= TestServer.NewDirectory();
        var folder = Path.Combine(directory, "functions-src", "fn");
        if (!Directory.Exists(folder))
        {
            folder = FunctionFixtures.Write(directory, "fn", "index.js", Printer);
        }

        return await TestServer.StartAsync($"Functions: [{{ FunctionName: fn, Runtime: nodejs20.x, Handler: index.handler, Code: {folder} }}]", null, directory);
    }

    private static async Task<string> InvokeAsync(TestServer server, params string[] lines)
    {
        using var response = await server.Http.PostAsync("/2015-03-31/functions/fn/invocations", new StringContent(JsonSerializer.Serialize(new { lines })));
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("stream").GetString()!;
    }

    private static async Task<JsonElement> LogsAsync(TestServer server, params string[] arguments)
    {
        var result = await AwsCli.RunAsync(server, ["logs", .. arguments]);
        Assert.True(result.ExitCode == 0, result.Error);
        return result.Json;
    }

    private static string[] Messages(JsonElement response) =>
        response.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("message").GetString()!).ToArray();

    [Fact]
    public async Task AwsCli_DescribeLogGroupsAndStreams_NameThemAsLambdaDoes()
    {
        await using var server = await StartAsync();
        var stream = await InvokeAsync(server, "hello");
        Assert.Equal(stream, await InvokeAsync(server, "again"));
        Assert.Matches(@"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{16}$", stream);

        var groups = (await LogsAsync(server, "describe-log-groups", "--log-group-name-prefix", "/aws/lambda/")).GetProperty("logGroups");
        var group = Assert.Single(groups.EnumerateArray());
        Assert.Equal("/aws/lambda/fn", group.GetProperty("logGroupName").GetString());
        Assert.Equal("arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*", group.GetProperty("arn").GetString());
        Assert.Empty((await LogsAsync(server, "describe-log-groups", "--log-group-name-prefix", "/aws/lambda/other")).GetProperty("logGroups").EnumerateArray());

        var streams = (await LogsAsync(server, "describe-log-streams", "--log-group-name", "/aws/lambda/fn")).GetProperty("logStreams");
        var only = Assert.Single(streams.EnumerateArray());
        Assert.Equal(stream, only.GetProperty("logStreamName").GetString());
        Assert.True(only.GetProperty("lastEventTimestamp").GetInt64() >= only.GetProperty("firstEventTimestamp").GetInt64());

        var missing = await AwsCli.RunAsync(server, "logs", "describe-log-streams", "--log-group-name", "/aws/lambda/nope");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("ResourceNotFoundException", missing.Error);
        Assert.Contains("The specified log group does not exist.", missing.Error);
    }

    [Fact]
    public async Task AwsCli_GetLogEvents_ReadsAStreamBothWaysWithTokens()
    {
        await using var server = await StartAsync();
        var stream = await InvokeAsync(server, "first");
        await InvokeAsync(server, "second");

        var head = await LogsAsync(server, "get-log-events", "--log-group-name", "/aws/lambda/fn", "--log-stream-name", stream, "--start-from-head", "--limit", "2");
        var messages = Messages(head);
        Assert.Equal(2, messages.Length);
        Assert.StartsWith("START RequestId:", messages[0]);
        Assert.EndsWith("\tINFO\tfirst", messages[1]);

        // Forward from there to the end; at the end the same token comes back.
        var token = head.GetProperty("nextForwardToken").GetString()!;
        var rest = await LogsAsync(server, "get-log-events", "--log-group-name", "/aws/lambda/fn", "--log-stream-name", stream, "--next-token", token);
        Assert.Equal(6, Messages(rest).Length);
        Assert.StartsWith("REPORT RequestId:", Messages(rest)[^1]);
        var end = rest.GetProperty("nextForwardToken").GetString()!;
        var none = await LogsAsync(server, "get-log-events", "--log-group-name", "/aws/lambda/fn", "--log-stream-name", stream, "--next-token", end);
        Assert.Empty(Messages(none));
        Assert.Equal(end, none.GetProperty("nextForwardToken").GetString());

        // Without a token: the newest events.
        var latest = Messages(await LogsAsync(server, "get-log-events", "--log-group-name", "/aws/lambda/fn", "--log-stream-name", stream, "--limit", "3"));
        Assert.EndsWith("\tINFO\tsecond", latest[0]);
        Assert.StartsWith("REPORT RequestId:", latest[2]);
    }

    [Fact]
    public async Task AwsCli_FilterLogEvents_MatchesTermsPhrasesAndTimes()
    {
        await using var server = await StartAsync();
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 1;
        var stream = await InvokeAsync(server, "alpha one", "beta two", "alpha three");

        async Task<string[]> FilterAsync(params string[] extra) =>
            Messages(await LogsAsync(server, ["filter-log-events", "--log-group-name", "/aws/lambda/fn", .. extra]))
                .Select(m => m.Split('\t')[^1]).ToArray();

        Assert.Equal(["alpha one", "alpha three"], await FilterAsync("--filter-pattern", "alpha"));
        Assert.Equal(["alpha three"], await FilterAsync("--filter-pattern", "alpha three"));
        Assert.Equal(["alpha one"], await FilterAsync("--filter-pattern", "\"alpha one\""));
        Assert.Equal(["beta two", "alpha three"], await FilterAsync("--filter-pattern", "?beta ?three"));
        Assert.Equal(["alpha one", "alpha three"], await FilterAsync("--filter-pattern", "alpha -beta", "--log-stream-names", stream));
        Assert.Empty(await FilterAsync("--filter-pattern", "ALPHA"));
        Assert.Equal(3, (await FilterAsync("--filter-pattern", "INFO", "--start-time", before.ToString(System.Globalization.CultureInfo.InvariantCulture))).Length);
        Assert.Empty(await FilterAsync("--start-time", (before + 3_600_000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Empty(await FilterAsync("--end-time", before.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var all = await LogsAsync(server, "filter-log-events", "--log-group-name", "/aws/lambda/fn");
        var first = all.GetProperty("events")[0];
        Assert.Equal(stream, first.GetProperty("logStreamName").GetString());
        Assert.False(string.IsNullOrEmpty(first.GetProperty("eventId").GetString()));
    }

    [Fact]
    public async Task Boto3_FilterLogEventsPagesAndFollowsAsAwsLogsTailDoes()
    {
        await using var server = await StartAsync();
        await InvokeAsync(server, "one", "two", "three");
        // The loop of `aws logs tail --follow` (aws CLI v2): filter_log_events from a start time, following nextToken,
        // then again from the newest timestamp seen, skipping event ids already printed.
        const string Script = """
            import sys, time, boto3
            client = boto3.client("logs", endpoint_url=sys.argv[1], region_name="us-east-1",
                                  aws_access_key_id="inlet", aws_secret_access_key="inlet-secret")
            pages = list(client.get_paginator("filter_log_events").paginate(logGroupName="/aws/lambda/fn", PaginationConfig={"PageSize": 2}))
            print("pages", len(pages), "events", sum(len(p["events"]) for p in pages), flush=True)
            seen, kwargs = set(), {"logGroupName": "/aws/lambda/fn", "startTime": int(time.time() * 1000) - 60000}
            deadline = time.time() + 30
            while time.time() < deadline:
                response = client.filter_log_events(**kwargs)
                for event in response["events"]:
                    if event["eventId"] not in seen:
                        seen.add(event["eventId"])
                        if "follow-me" in event["message"]:
                            print("followed", event["message"].split("\t")[-1], flush=True)
                            sys.exit(0)
                if "nextToken" in response:
                    kwargs["nextToken"] = response["nextToken"]
                else:
                    kwargs.pop("nextToken", None)
                    if response["events"]:
                        kwargs["startTime"] = max(e["timestamp"] for e in response["events"])
                    print("waiting", flush=True)
                    time.sleep(0.2)
            sys.exit(1)
            """;
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Script);
        info.ArgumentList.Add($"http://{server.Server.HttpEndPoint}");
        using var follower = Process.Start(info)!;
        var pages = await follower.StandardOutput.ReadLineAsync();
        // One invocation: START, three lines, END, REPORT — in pages of two.
        Assert.Equal("pages 3 events 6", pages);
        Assert.Equal("waiting", await follower.StandardOutput.ReadLineAsync());
        await InvokeAsync(server, "follow-me now");
        var rest = await follower.StandardOutput.ReadToEndAsync();
        await follower.WaitForExitAsync();
        Assert.True(follower.ExitCode == 0, rest + await follower.StandardError.ReadToEndAsync());
        Assert.Contains("followed follow-me now", rest);
    }

    [Fact]
    public async Task AwsCli_LogEvents_AreReadFromTheFileAfterARestart()
    {
        var directory = TestServer.NewDirectory();
        string stream;
        await using (var server = await StartAsync(directory))
        {
            stream = await InvokeAsync(server, "before the restart");
        }

        await using var restarted = await StartAsync(directory);
        var streams = (await LogsAsync(restarted, "describe-log-streams", "--log-group-name", "/aws/lambda/fn")).GetProperty("logStreams");
        Assert.Equal(stream, Assert.Single(streams.EnumerateArray()).GetProperty("logStreamName").GetString());
        var events = Messages(await LogsAsync(restarted, "get-log-events", "--log-group-name", "/aws/lambda/fn", "--log-stream-name", stream, "--start-from-head"));
        Assert.Contains(events, m => m.EndsWith("\tINFO\tbefore the restart", StringComparison.Ordinal));
        var newStream = await InvokeAsync(restarted, "after the restart");
        Assert.NotEqual(stream, newStream);
        var filtered = await LogsAsync(restarted, "filter-log-events", "--log-group-name", "/aws/lambda/fn", "--filter-pattern", "restart");
        Assert.Equal([stream, newStream], filtered.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("logStreamName").GetString()!).ToArray());
    }
}
