using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Inlet.Cli;

/// <summary>Verbs that ask a running server through its HTTP API.</summary>
internal static class ApiCommands
{
    public static Option<string> ServerOption() => new("--server")
    {
        Description = "Inlet's HTTP endpoint (default: $INLET_SERVER, or http://127.0.0.1:8025)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("INLET_SERVER") ?? "http://127.0.0.1:8025",
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print the API's JSON as it is" };

    public static Command Messages()
    {
        var server = ServerOption();
        var json = JsonOption();
        var limit = new Option<int>("--limit", "-n") { Description = "How many, newest first", DefaultValueFactory = _ => 20 };
        var list = new Command("messages", "List received messages, newest first, with their status") { server, json, limit };
        list.SetAction((parse, ct) => RunAsync(parse.GetValue(server)!, async http =>
        {
            var body = await GetAsync(http, $"/api/messages?limit={parse.GetValue(limit)}", ct);
            if (parse.GetValue(json))
            {
                return Print(body);
            }

            var messages = body.GetProperty("messages");
            if (messages.GetArrayLength() == 0)
            {
                Console.WriteLine("No messages.");
                return 0;
            }

            Console.WriteLine($"{"MESSAGE ID",-40}  {"RECEIVED (UTC)",-19}  {"STATUS",-10}  {"FROM",-28}  {"TO",-36}  SUBJECT");
            foreach (var m in messages.EnumerateArray())
            {
                var received = m.GetProperty("receivedAt").GetDateTimeOffset().UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
                var envelope = m.GetProperty("envelope");
                var from = envelope.GetProperty("mailFrom").GetString();
                var to = string.Join(", ", envelope.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()));
                Console.WriteLine($"{m.GetProperty("messageId").GetString(),-40}  {received,-19}  {m.GetProperty("status").GetString(),-10}  {Cut(from is "" ? "<>" : from, 28),-28}  {Cut(to, 36),-36}  {Text(m, "subject")}");
            }

            return 0;
        }));

        var id = new Argument<string>("id") { Description = "Message id" };
        var showServer = ServerOption();
        var showJson = JsonOption();
        var show = new Command("show", "Show a message: envelope, headers and trace") { id, showServer, showJson };
        show.SetAction((parse, ct) => RunAsync(parse.GetValue(showServer)!, async http =>
        {
            var body = await GetAsync(http, $"/api/messages/{Uri.EscapeDataString(parse.GetValue(id)!)}", ct);
            if (parse.GetValue(showJson))
            {
                return Print(body);
            }

            var m = body.GetProperty("message");
            var envelope = m.GetProperty("envelope");
            Console.WriteLine($"Message   {m.GetProperty("messageId").GetString()}");
            Console.WriteLine($"Status    {m.GetProperty("status").GetString()}");
            Console.WriteLine($"Received  {m.GetProperty("receivedAt").GetDateTimeOffset().UtcDateTime:yyyy-MM-dd HH:mm:ss.fff} UTC from {Text(envelope, "clientName")} [{Text(envelope, "remoteAddress")}]{(envelope.GetProperty("tls").GetBoolean() ? " over TLS" : string.Empty)}");
            Console.WriteLine($"From      <{envelope.GetProperty("mailFrom").GetString()}>");
            Console.WriteLine($"To        {string.Join(", ", envelope.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()))}");
            Console.WriteLine($"Size      {m.GetProperty("size").GetInt64()} octets; rule set version {m.GetProperty("ruleSetVersion").GetInt64()}");
            if (body.TryGetProperty("mail", out var mail))
            {
                Console.WriteLine();
                Console.WriteLine(mail.GetProperty("headersTruncated").GetBoolean() ? "Headers (truncated past 10 KB, as SES does):" : "Headers:");
                foreach (var h in mail.GetProperty("headers").EnumerateArray())
                {
                    Console.WriteLine($"  {h.GetProperty("name").GetString()}: {Cut(h.GetProperty("value").GetString(), 110)}");
                }
            }

            Console.WriteLine();
            Console.WriteLine("Trace:");
            foreach (var t in body.GetProperty("trace").EnumerateArray())
            {
                Console.WriteLine("  " + FormatTrace(t));
            }

            return 0;
        }));
        list.Subcommands.Add(show);

        var rawId = new Argument<string>("id") { Description = "Message id" };
        var rawServer = ServerOption();
        var raw = new Command("raw", "Write the message exactly as it was received (RFC 5322 bytes) to standard output: inlet messages raw ID > my.eml") { rawId, rawServer };
        raw.SetAction((parse, ct) => RunAsync(parse.GetValue(rawServer)!, async http =>
        {
            using var response = await http.GetAsync($"/api/messages/{Uri.EscapeDataString(parse.GetValue(rawId)!)}/raw", HttpCompletionOption.ResponseHeadersRead, ct);
            await CopyToStandardOutputAsync(response, ct);
            return 0;
        }));
        list.Subcommands.Add(raw);
        return list;
    }

    public static Command Event()
    {
        var server = ServerOption();
        var id = new Argument<string>("id") { Description = "Message id" };
        var function = new Option<string?>("--function") { Description = "The event of this function's Lambda action (name or ARN); default: the first Lambda action that ran" };
        var command = new Command("event", "Print the SES event a function got (or would get) for a stored message: inlet event ID > event.json, then inlet invoke FN --event event.json") { id, function, server };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(server)!, async http =>
        {
            var path = $"/api/messages/{Uri.EscapeDataString(parse.GetValue(id)!)}/event";
            if (parse.GetValue(function) is { } name)
            {
                path += "?function=" + Uri.EscapeDataString(name);
            }

            using var response = await http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct);
            await EnsureSuccessAsync(response, ct);
            if (response.Headers.TryGetValues(Inlet.Api.ApiEndpoints.EventSourceHeader, out var source))
            {
                // Standard error, so that standard output is the event and nothing else.
                await Console.Error.WriteLineAsync($"inlet: {source.First()}");
            }

            await CopyToStandardOutputAsync(response, ct);
            await using var stdout = Console.OpenStandardOutput();
            await stdout.WriteAsync("\n"u8.ToArray(), ct);
            return 0;
        }));
        return command;
    }

    /// <summary>The response body, byte for byte: through the raw stream, never a text writer that would re-encode it.</summary>
    private static async Task CopyToStandardOutputAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await EnsureSuccessAsync(response, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        await using var stdout = Console.OpenStandardOutput();
        await body.CopyToAsync(stdout, ct);
        await stdout.FlushAsync(ct);
    }

    internal static string FormatTrace(JsonElement t)
    {
        var at = t.GetProperty("at").GetDateTimeOffset().UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var kind = t.GetProperty("kind").GetString();
        var text = kind switch
        {
            "rule" => $"rule {Text(t, "rule")} applies to {string.Join(", ", t.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()))}",
            "action" => $"  {Text(t, "actionType")} action {t.GetProperty("action").GetInt32() + 1}: {Text(t, "outcome")} in {(t.TryGetProperty("durationMs", out var d) ? d.GetDouble() : 0):F1} ms{Suffix(t, "detail")}{Suffix(t, "error", "error: ")}",
            _ => $"{kind}{Suffix(t, "detail")}",
        };
        return $"{at}  {text}";
    }

    public static Command Replay()
    {
        var server = ServerOption();
        var id = new Argument<string>("id") { Description = "Message id" };
        var command = new Command("replay", "Run a stored message through today's rules again") { id, server };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(server)!, async http =>
        {
            using var response = await http.PostAsync($"/api/messages/{Uri.EscapeDataString(parse.GetValue(id)!)}/replay", null, ct);
            var body = await ReadAsync(response, ct);
            Console.WriteLine($"Message {body.GetProperty("messageId").GetString()} is queued again under rule set version {body.GetProperty("ruleSetVersion").GetInt64()}; see it with: inlet messages show {body.GetProperty("messageId").GetString()}");
            return 0;
        }));
        return command;
    }

    public static Command Rules()
    {
        var server = ServerOption();
        var json = JsonOption();
        var file = new Argument<FileInfo>("file") { Description = "The message (RFC 5322, as an .eml file)" };
        var from = new Option<string>("--from") { Description = "Envelope sender", DefaultValueFactory = _ => "sender@example.net" };
        var to = new Option<string[]>("--to") { Description = "Envelope recipient (repeat for several)", Required = true, AllowMultipleArgumentsPerToken = true };
        var tls = new Option<bool>("--tls") { Description = "As if the message arrived over TLS" };
        var test = new Command("test", "Dry run: which rules and actions would run for a message, and the mail object they would see. Nothing is stored or executed.") { file, from, to, tls, server, json };
        test.SetAction((parse, ct) => RunAsync(parse.GetValue(server)!, async http =>
        {
            var eml = parse.GetValue(file)!;
            if (!eml.Exists)
            {
                await Console.Error.WriteLineAsync($"inlet: {eml.FullName} does not exist");
                return 2;
            }

            var query = $"from={Uri.EscapeDataString(parse.GetValue(from)!)}&tls={(parse.GetValue(tls) ? "true" : "false")}" + string.Concat(parse.GetValue(to)!.Select(t => "&to=" + Uri.EscapeDataString(t)));
            using var content = new StreamContent(eml.OpenRead());
            content.Headers.ContentType = new MediaTypeHeaderValue("message/rfc822");
            using var response = await http.PostAsync($"/api/rules/test?{query}", content, ct);
            var body = await ReadAsync(response, ct);
            if (parse.GetValue(json))
            {
                return Print(body);
            }

            Console.WriteLine($"Active rule set: {Text(body, "ruleSet") ?? "(none)"} (version {body.GetProperty("ruleSetVersion").GetInt64()})");
            foreach (var refused in body.GetProperty("unmatched").EnumerateArray())
            {
                Console.WriteLine($"  {refused.GetString()}: refused at RCPT TO (no enabled rule matches)");
            }

            foreach (var rule in body.GetProperty("rules").EnumerateArray())
            {
                Console.WriteLine($"Rule {rule.GetProperty("name").GetString()} for {string.Join(", ", rule.GetProperty("recipients").EnumerateArray().Select(r => r.GetString()))}");
                foreach (var action in rule.GetProperty("actions").EnumerateArray())
                {
                    Console.WriteLine($"  {action.GetProperty("position").GetInt32() + 1}. {action.GetProperty("type").GetString()}: {action.GetProperty("effect").GetString()}");
                }
            }

            Console.WriteLine($"Outcome: {body.GetProperty("outcome").GetString()}");
            Console.WriteLine();
            Console.WriteLine("The mail object the actions would see:");
            Console.WriteLine(JsonSerializer.Serialize(body.GetProperty("mail"), s_indented));
            return 0;
        }));
        var rules = new Command("rules", "Work with receipt rules") { test };
        return rules;
    }

    public static Command Outbox()
    {
        var server = ServerOption();
        var json = JsonOption();
        var command = new Command("outbox", "List outgoing messages (bounces and SES-sent mail): held without an Outbound relay, or queued, sent, failed") { server, json };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(server)!, async http =>
        {
            var body = await GetAsync(http, "/api/outbox", ct);
            if (parse.GetValue(json))
            {
                return Print(body);
            }

            var list = body.GetProperty("messages");
            if (list.GetArrayLength() == 0)
            {
                Console.WriteLine("The outbox is empty.");
            }

            foreach (var m in list.EnumerateArray())
            {
                var kind = Text(m, "kind") ?? "bounce";
                var about = kind == "bounce" ? $"bounce of {m.GetProperty("messageId").GetString()}" : $"sent as {Text(m, "sesMessageId")}";
                Console.WriteLine($"{m.GetProperty("id").GetString()}  {m.GetProperty("createdAt").GetDateTimeOffset().UtcDateTime:yyyy-MM-dd HH:mm:ss}  {Text(m, "status"),-7}  to {m.GetProperty("recipient").GetString()}  ({about})  {m.GetProperty("subject").GetString()}{Suffix(m, "lastError")}");
            }

            return 0;
        }));
        return command;
    }

    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static int Print(JsonElement body)
    {
        Console.WriteLine(JsonSerializer.Serialize(body, s_indented));
        return 0;
    }

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Suffix(JsonElement element, string name, string prefix = "") =>
        Text(element, name) is { } text ? $" — {prefix}{text}" : string.Empty;

    private static string Cut(string? text, int width) =>
        text is null ? string.Empty : text.Length <= width ? text : text[..(width - 1)] + "…";

    internal static async Task<JsonElement> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        return await ReadAsync(response, ct);
    }

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await EnsureSuccessAsync(response, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new ApiException($"{(int)response.StatusCode} {response.ReasonPhrase}: the answer is not JSON; is {response.RequestMessage?.RequestUri?.GetLeftPart(UriPartial.Authority)} an Inlet server?");
        }
    }

    /// <summary>Throws the API's error, as one line, when the response is not a success.</summary>
    internal static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new ApiException(DescribeError(response, await response.Content.ReadAsStringAsync(ct)));
        }
    }

    /// <summary>
    /// <c>CODE: message</c> from any of the error bodies the endpoint gives: Inlet's own (<c>code</c>,
    /// <c>message</c>) and Lambda's (the code in <c>x-amzn-ErrorType</c>, the body <c>{"Type", "message"}</c>).
    /// A body that is not JSON is cut to its first line, so that the error stays one line.
    /// </summary>
    internal static string DescribeError(HttpResponseMessage response, string body)
    {
        string? code = response.Headers.TryGetValues("x-amzn-ErrorType", out var header) ? header.First().Split(':')[0] : null;
        string? message = null;
        try
        {
            var json = JsonDocument.Parse(body).RootElement;
            if (json.ValueKind == JsonValueKind.Object)
            {
                code ??= Text(json, "code") ?? Text(json, "Code") ?? Text(json, "__type");
                message = Text(json, "message") ?? Text(json, "Message");
            }
        }
        catch (JsonException)
        {
            // Not JSON: the status line and the text's first line say it.
        }

        code ??= $"{(int)response.StatusCode} {response.ReasonPhrase}";
        message ??= body.Split('\n', 2)[0].Trim() is { Length: > 0 } line ? Cut(line, 200) : "no details given";
        return $"{code}: {message.ReplaceLineEndings(" ")}";
    }

    internal static async Task<int> RunAsync(string server, Func<HttpClient, Task<int>> action)
    {
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri))
        {
            await Console.Error.WriteLineAsync($"inlet: --server: '{server}' is not a URL (for example http://127.0.0.1:8025)");
            return 2;
        }

        // AWS endpoints (Invoke) need Signature Version 4: the standard variables, or Inlet's development keys.
        var handler = new Inlet.Api.SigningHandler(
            Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID") ?? "inlet",
            Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY") ?? "inlet-secret",
            Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1");
        using var http = new HttpClient(handler) { BaseAddress = uri, Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            return await action(http);
        }
        catch (ApiException e)
        {
            await Console.Error.WriteLineAsync($"inlet: {e.Message}");
            return 1;
        }
        catch (HttpRequestException e)
        {
            var reason = e.InnerException is System.Net.Sockets.SocketException socket ? socket.Message : e.Message;
            await Console.Error.WriteLineAsync($"inlet: cannot reach Inlet at {server} ({reason}) — is `inlet serve` running? (--server or $INLET_SERVER to point elsewhere)");
            return 1;
        }
        catch (TaskCanceledException e) when (e.InnerException is TimeoutException)
        {
            await Console.Error.WriteLineAsync($"inlet: Inlet at {server} did not answer within {http.Timeout.TotalSeconds:F0} s");
            return 1;
        }
    }

    /// <summary>An error the API answered; <see cref="RunAsync"/> prints it as one line and exits with 1.</summary>
    internal sealed class ApiException(string message) : Exception(message);
}
