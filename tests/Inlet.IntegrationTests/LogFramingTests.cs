using System.Text;

namespace Inlet.IntegrationTests;

/// <summary>Each invocation's output sits between its START and END lines, init output included.</summary>
public class LogFramingTests
{
    private const string Chatty = """
        exports.handler = async (event) => {
            for (let i = 0; i < event.lines; i++) console.log(`line ${event.run} ${i}`);
            console.error(`last words ${event.run}`);
            return { done: event.run };
        };
        """;

    private const string ChattyPython = """
        import sys

        def handler(event, context):
            for i in range(event["lines"]):
                print("line", event["run"], i)
            print("last words", event["run"], file=sys.stderr)
            return {"done": event["run"]}
        """;

    [Theory]
    [InlineData("nodejs20.x", "index.js")]
    [InlineData("python3.12", "index.py")]
    public async Task ManyLinesRightBeforeReturning_AllComeBeforeEnd(string runtime, string file)
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", file, runtime.StartsWith("node", StringComparison.Ordinal) ? Chatty : ChattyPython);
        await using var server = await TestServer.StartAsync($"Functions: [{{ FunctionName: fn, Runtime: {runtime}, Handler: index.handler, Code: {folder}, Timeout: 30 }}]", null, directory);
        // Short lines, many of them: what is still in the pipe when the answer is sent takes long to log.
        const int Lines = 20_000;
        for (var run = 0; run < 5; run++)
        {
            using var response = await server.Http.PostAsync("/2015-03-31/functions/fn/invocations", new StringContent($$"""{"lines":{{Lines}},"run":{{run}}}"""));
            response.EnsureSuccessStatusCode();
            var requestId = response.Headers.GetValues("x-amzn-RequestId").Single();
            // The whole log is in the data folder's file, one "<time> <stream> <text>" line each.
            var log = (await File.ReadAllLinesAsync(Path.Combine(directory, "logs", "fn.log"))).Select(l => l.Split(' ', 3)[2]).ToArray();
            var start = Array.FindIndex(log, l => l == $"START RequestId: {requestId} Version: $LATEST");
            var end = Array.FindIndex(log, l => l == $"END RequestId: {requestId}");
            Assert.True(start >= 0 && end > start, $"no START/END for {requestId}");
            var inside = log[start..end];
            Assert.Equal(Lines, inside.Count(l => l.Contains($"line {run} ", StringComparison.Ordinal)));
            Assert.Contains(inside, l => l.Contains($"last words {run}", StringComparison.Ordinal));
            Assert.StartsWith("REPORT RequestId: " + requestId, log[end + 1]);
        }
    }

    [Fact]
    public async Task AwsCliLogTypeTail_NodeModuleThrowsAtImport_ShowsTheInitError()
    {
        var directory = TestServer.NewDirectory();
        var folder = FunctionFixtures.Write(directory, "fn", "index.js", """
            console.log('loading the module');
            throw new Error('broken at import');
            """);
        await using var server = await TestServer.StartAsync($"Functions: [{{ FunctionName: fn, Runtime: nodejs22.x, Handler: index.handler, Code: {folder} }}]", null, directory);
        var output = Path.Combine(server.Directory, "out.json");
        var result = await AwsCli.RunAsync(server, "lambda", "invoke", "--function-name", "fn", "--log-type", "Tail", output);
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal("Unhandled", result.Json.GetProperty("FunctionError").GetString());
        var log = Encoding.UTF8.GetString(Convert.FromBase64String(result.Json.GetProperty("LogResult").GetString()!));
        Assert.Contains("loading the module", log);
        var error = log.IndexOf("broken at import", StringComparison.Ordinal);
        Assert.True(error >= 0, log);
        Assert.True(error < log.IndexOf("END RequestId:", StringComparison.Ordinal), log);
        Assert.Contains("REPORT RequestId:", log);
    }
}
