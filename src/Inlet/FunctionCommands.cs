using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Inlet.Cli;

/// <summary><c>inlet invoke</c>, <c>inlet logs</c> and <c>inlet invocations</c>: functions through a running server.</summary>
internal static class FunctionCommands
{
    public static Command Invoke()
    {
        var server = ApiCommands.ServerOption();
        var function = new Argument<string>("function") { Description = "Function name or ARN" };
        var @event = new Option<FileInfo?>("--event", "-e") { Description = "JSON file with the event (default: {})" };
        var type = new Option<string>("--type") { Description = "RequestResponse or Event", DefaultValueFactory = _ => "RequestResponse" };
        type.AcceptOnlyFromAmong("RequestResponse", "Event");
        var command = new Command("invoke", "Invoke a function and print its result and the log tail") { function, @event, type, server };
        command.SetAction(async (parse, ct) =>
        {
            var file = parse.GetValue(@event);
            if (file is not null && !file.Exists)
            {
                await Console.Error.WriteLineAsync($"inlet: {file.FullName} does not exist");
                return 2;
            }

            var payload = file is null ? "{}"u8.ToArray() : await File.ReadAllBytesAsync(file.FullName, ct);
            return await ApiCommands.RunAsync(parse.GetValue(server)!, async http =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"/2015-03-31/functions/{Uri.EscapeDataString(parse.GetValue(function)!)}/invocations")
                {
                    Content = new ByteArrayContent(payload),
                };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Add("X-Amz-Invocation-Type", parse.GetValue(type));
                request.Headers.Add("X-Amz-Log-Type", "Tail");
                using var response = await http.SendAsync(request, ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if (response.Headers.Contains("x-amzn-ErrorType") || !response.IsSuccessStatusCode)
                {
                    throw new ApiCommands.ApiException(ApiCommands.DescribeError(response, body));
                }

                if (response.StatusCode == System.Net.HttpStatusCode.Accepted)
                {
                    Console.WriteLine("Queued for asynchronous invocation (202).");
                    return 0;
                }

                if (response.Headers.TryGetValues("X-Amz-Log-Result", out var log))
                {
                    Console.Write(Encoding.UTF8.GetString(Convert.FromBase64String(log.First())));
                    Console.WriteLine();
                }

                var failed = response.Headers.TryGetValues("X-Amz-Function-Error", out var error);
                Console.WriteLine(failed ? $"Function error ({error!.First()}):" : "Result:");
                Console.WriteLine(body);
                return failed ? 1 : 0;
            });
        });
        return command;
    }

    public static Command Logs()
    {
        var server = ApiCommands.ServerOption();
        var function = new Argument<string>("function") { Description = "Function name" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new lines as they come" };
        var tail = new Option<int>("--tail", "-n") { Description = "How many of the newest lines", DefaultValueFactory = _ => 100 };
        var command = new Command("logs", "Print a function's log: its output framed by START, END and REPORT lines") { function, follow, tail, server };
        command.SetAction((parse, ct) => ApiCommands.RunAsync(parse.GetValue(server)!, async http =>
        {
            http.Timeout = Timeout.InfiniteTimeSpan;
            var path = $"/api/functions/{Uri.EscapeDataString(parse.GetValue(function)!)}/logs?tail={parse.GetValue(tail)}&follow={(parse.GetValue(follow) ? "true" : "false")}";
            using var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct);
            await ApiCommands.EnsureSuccessAsync(response, ct);

            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            using var reader = new StreamReader(stream);
            try
            {
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    Console.WriteLine(line);
                }
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C while following.
            }

            return 0;
        }));
        return command;
    }

    public static Command Invocations()
    {
        var server = ApiCommands.ServerOption();
        var json = ApiCommands.JsonOption();
        var pending = new Option<bool>("--pending") { Description = "List the queued invocations instead of the dead-lettered ones" };
        var list = new Command("invocations", "List dead-lettered asynchronous invocations (or --pending ones)") { pending, server, json };
        list.SetAction((parse, ct) => ApiCommands.RunAsync(parse.GetValue(server)!, async http =>
        {
            var body = await ApiCommands.GetAsync(http, $"/api/invocations?status={(parse.GetValue(pending) ? "pending" : "dead")}", ct);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(body));
                return 0;
            }

            var items = body.GetProperty("invocations");
            if (items.GetArrayLength() == 0)
            {
                Console.WriteLine("None.");
            }

            foreach (var i in items.EnumerateArray())
            {
                Console.WriteLine($"{i.GetProperty("id").GetString()}  {i.GetProperty("functionName").GetString()}  attempts {i.GetProperty("attempts").GetInt32()}  {i.GetProperty("createdAt").GetDateTimeOffset().UtcDateTime:yyyy-MM-dd HH:mm:ss}  {(i.TryGetProperty("lastError", out var e) ? e.GetString() : string.Empty)}");
            }

            return 0;
        }));

        var id = new Argument<string>("id") { Description = "Invocation id" };
        var redriveServer = ApiCommands.ServerOption();
        var redrive = new Command("redrive", "Put a dead-lettered invocation back in the queue") { id, redriveServer };
        redrive.SetAction((parse, ct) => ApiCommands.RunAsync(parse.GetValue(redriveServer)!, async http =>
        {
            using var response = await http.PostAsync($"/api/invocations/{Uri.EscapeDataString(parse.GetValue(id)!)}/redrive", null, ct);
            await ApiCommands.EnsureSuccessAsync(response, ct);

            Console.WriteLine($"Invocation {parse.GetValue(id)} is queued again.");
            return 0;
        }));
        list.Subcommands.Add(redrive);
        return list;
    }
}
