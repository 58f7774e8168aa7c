using System.Globalization;
using System.Text.Json;
using Inlet.Management;
using Inlet.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Inlet.Api;

/// <summary>
/// A CloudWatch Logs subset over the function logs, so that <c>aws logs filter-log-events</c>, <c>get-log-events</c>
/// and <c>aws logs tail --follow</c> work against Inlet: the AWS JSON 1.1 protocol (a POST to <c>/</c> with
/// <c>X-Amz-Target: Logs_20140328.&lt;Operation&gt;</c>, errors as <c>{"__type", "message"}</c>). Each function has
/// Lambda's log group <c>/aws/lambda/&lt;function&gt;</c>, and each of its execution environments one log stream.
/// </summary>
internal static class LogsApi
{
    public const string TargetPrefix = "Logs_20140328.";
    private const string ContentType = "application/x-amz-json-1.1";
    private const string GroupPrefix = "/aws/lambda/";
    private const int MaxEvents = 10_000;

    /// <summary>CloudWatch caps one read at 1 MB of events.</summary>
    private const int MaxBytes = 1024 * 1024;

    public static async Task<IResult> HandleAsync(HttpContext context, string operation, CancellationToken cancellationToken)
    {
        var services = context.RequestServices;
        var api = new Service(services.GetRequiredService<FunctionsService>(), services.GetRequiredService<AwsAccount>());
        JsonElement input;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: cancellationToken);
            input = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            input = default;
        }

        if (input.ValueKind != JsonValueKind.Object)
        {
            return Error("SerializationException", "The request body is not a JSON object", 400);
        }

        try
        {
            return operation switch
            {
                "DescribeLogGroups" => api.DescribeLogGroups(input),
                "DescribeLogStreams" => api.DescribeLogStreams(input),
                "GetLogEvents" => api.GetLogEvents(input),
                "FilterLogEvents" => api.FilterLogEvents(input),
                _ => Error("UnknownOperationException", $"Operation {operation} is not served by Inlet's CloudWatch Logs subset (DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents)", 400),
            };
        }
        catch (LogsException e)
        {
            return Error(e.Code, e.Message, 400);
        }
    }

    internal static IResult Error(string code, string message, int status) => new JsonResult(status, w =>
    {
        w.WriteString("__type", code);
        w.WriteString("message", message);
    });

    private sealed class LogsException(string code, string message) : Exception(message)
    {
        public string Code { get; } = code;
    }

    private sealed class Service(FunctionsService functions, AwsAccount options)
    {
        public IResult DescribeLogGroups(JsonElement input)
        {
            var prefix = Text(input, "logGroupNamePrefix");
            var pattern = Text(input, "logGroupNamePattern");
            if (prefix is not null && pattern is not null)
            {
                throw Invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
            }

            var limit = Limit(input, 50);
            var names = functions.LoggedFunctions()
                .Select(f => GroupPrefix + f)
                .Where(g => prefix is null || g.StartsWith(prefix, StringComparison.Ordinal))
                .Where(g => pattern is null || g.Contains(pattern, StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .ToList();
            return Page(input, "logGroups", names, limit, (w, group) =>
            {
                var function = group[GroupPrefix.Length..];
                var streams = functions.LogStreams(function);
                var created = streams.Count > 0 ? streams.Min(s => s.First) : functions.Find(function)?.LastModified ?? DateTimeOffset.UtcNow;
                w.WriteStartObject();
                w.WriteString("logGroupName", group);
                w.WriteNumber("creationTime", created.ToUnixTimeMilliseconds());
                w.WriteNumber("metricFilterCount", 0);
                w.WriteString("arn", GroupArn(group) + ":*");
                w.WriteNumber("storedBytes", functions.LogStoredBytes(function));
                w.WriteString("logGroupClass", "STANDARD");
                w.WriteString("logGroupArn", GroupArn(group));
                w.WriteEndObject();
            });
        }

        public IResult DescribeLogStreams(JsonElement input)
        {
            var (group, function) = Group(input);
            var prefix = Text(input, "logStreamNamePrefix");
            var orderBy = Text(input, "orderBy") ?? "LogStreamName";
            if (orderBy is not ("LogStreamName" or "LastEventTime"))
            {
                throw Invalid($"1 validation error detected: Value '{orderBy}' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]");
            }

            if (orderBy == "LastEventTime" && prefix is not null)
            {
                throw Invalid("Cannot order by LastEventTime with a logStreamNamePrefix.");
            }

            var descending = input.TryGetProperty("descending", out var d) && d.ValueKind == JsonValueKind.True;
            var streams = functions.LogStreams(function).Where(s => prefix is null || s.Name.StartsWith(prefix, StringComparison.Ordinal));
            streams = orderBy == "LastEventTime"
                ? descending ? streams.OrderByDescending(s => s.Last) : streams.OrderBy(s => s.Last)
                : descending ? streams.OrderByDescending(s => s.Name, StringComparer.Ordinal) : streams.OrderBy(s => s.Name, StringComparer.Ordinal);
            var all = streams.ToList();
            var limit = Limit(input, 50);
            return Page(input, "logStreams", all, limit, (w, stream) =>
            {
                w.WriteStartObject();
                w.WriteString("logStreamName", stream.Name);
                w.WriteNumber("creationTime", stream.First.ToUnixTimeMilliseconds());
                w.WriteNumber("firstEventTimestamp", stream.First.ToUnixTimeMilliseconds());
                w.WriteNumber("lastEventTimestamp", stream.Last.ToUnixTimeMilliseconds());
                w.WriteNumber("lastIngestionTime", stream.Last.ToUnixTimeMilliseconds());
                w.WriteString("arn", $"{GroupArn(group)}:log-stream:{stream.Name}");
                w.WriteNumber("storedBytes", 0);
                w.WriteEndObject();
            });
        }

        /// <summary>One page of a listing: the items from the position in <c>nextToken</c>, and the next token while more remain.</summary>
        private static JsonResult Page<T>(JsonElement input, string name, List<T> all, int limit, Action<Utf8JsonWriter, T> item)
        {
            var from = Index(input, all.Count);
            var page = all.Skip(from).Take(limit).ToList();
            return new JsonResult(200, w =>
            {
                w.WriteStartArray(name);
                foreach (var entry in page)
                {
                    item(w, entry);
                }

                w.WriteEndArray();
                if (from + page.Count < all.Count)
                {
                    w.WriteString("nextToken", (from + page.Count).ToString(CultureInfo.InvariantCulture));
                }
            });
        }

        /// <summary>
        /// One stream, the newest events first unless <c>startFromHead</c>. Tokens are positions in the log:
        /// <c>f/N</c> reads on from N, <c>b/N</c> reads back from before N; at either end the token given comes back.
        /// </summary>
        public IResult GetLogEvents(JsonElement input)
        {
            var (_, function) = Group(input);
            var stream = Text(input, "logStreamName") ?? throw Invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null");
            if (!functions.LogStreams(function).Any(s => s.Name == stream))
            {
                throw new LogsException("ResourceNotFoundException", "The specified log stream does not exist.");
            }

            var limit = Limit(input, MaxEvents);
            var token = Text(input, "nextToken");
            var startFromHead = input.TryGetProperty("startFromHead", out var h) && h.ValueKind == JsonValueKind.True;
            var query = new LogQuery
            {
                Streams = new HashSet<string>(StringComparer.Ordinal) { stream },
                StartTime = Long(input, "startTime"),
                EndTime = Long(input, "endTime"),
                Limit = limit,
            };
            long? given = null;
            var backward = !startFromHead;
            if (token is not null)
            {
                if (token.Length < 3 || token[1] != '/' || token[0] is not ('f' or 'b') || !long.TryParse(token.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var position))
                {
                    throw Invalid("The specified nextToken is invalid.");
                }

                given = position;
                backward = token[0] == 'b';
                query = backward ? query with { Before = position, Latest = true } : query with { From = position };
            }
            else
            {
                query = query with { Latest = backward };
            }

            var lines = Capped(functions.ReadLog(function, query).Lines, backward);
            var end = given ?? functions.LogStoredBytes(function);
            var forward = lines.Count > 0 ? lines[^1].Position + 1 : end;
            var back = lines.Count > 0 ? lines[0].Position : end;
            return new JsonResult(200, w =>
            {
                w.WriteStartArray("events");
                foreach (var line in lines)
                {
                    w.WriteStartObject();
                    w.WriteNumber("timestamp", line.Timestamp);
                    w.WriteString("message", line.Text);
                    w.WriteNumber("ingestionTime", line.Timestamp);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteString("nextForwardToken", Token('f', forward));
                w.WriteString("nextBackwardToken", Token('b', back));
            });
        }

        public IResult FilterLogEvents(JsonElement input)
        {
            var (_, function) = Group(input);
            HashSet<string>? names = null;
            if (input.TryGetProperty("logStreamNames", out var list) && list.ValueKind == JsonValueKind.Array)
            {
                names = new HashSet<string>(list.EnumerateArray().Select(e => e.GetString() ?? string.Empty), StringComparer.Ordinal);
            }

            var prefix = Text(input, "logStreamNamePrefix");
            if (names is not null && prefix is not null)
            {
                throw Invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
            }

            var match = FunctionsService.ParseFilterPattern(Text(input, "filterPattern"), out var patternError);
            if (patternError is not null)
            {
                throw Invalid(patternError);
            }

            long from = 0;
            if (Text(input, "nextToken") is { } token && (!token.StartsWith("o/", StringComparison.Ordinal) || !long.TryParse(token.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out from)))
            {
                throw Invalid("The specified nextToken is invalid.");
            }

            var page = functions.ReadLog(function, new LogQuery
            {
                Streams = names,
                StreamPrefix = prefix,
                StartTime = Long(input, "startTime"),
                EndTime = Long(input, "endTime"),
                From = from,
                Match = match,
                Limit = Limit(input, MaxEvents),
            });
            var lines = Capped(page.Lines, false);
            long? next = lines.Count < page.Lines.Count ? page.Lines[lines.Count].Position : page.Next;
            var searched = names is not null
                ? names.Order(StringComparer.Ordinal).ToList()
                : functions.LogStreams(function).Select(s => s.Name).Where(s => prefix is null || s.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
            return new JsonResult(200, w =>
            {
                w.WriteStartArray("events");
                foreach (var line in lines)
                {
                    w.WriteStartObject();
                    w.WriteString("logStreamName", line.Stream);
                    w.WriteNumber("timestamp", line.Timestamp);
                    w.WriteString("message", line.Text);
                    w.WriteNumber("ingestionTime", line.Timestamp);
                    w.WriteString("eventId", line.Position.ToString("D20", CultureInfo.InvariantCulture));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartArray("searchedLogStreams");
                foreach (var name in searched)
                {
                    w.WriteStartObject();
                    w.WriteString("logStreamName", name);
                    w.WriteBoolean("searchedCompletely", next is null);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                if (next is { } position)
                {
                    w.WriteString("nextToken", Token('o', position));
                }
            });
        }

        /// <summary>The log group named by <c>logGroupName</c> or <c>logGroupIdentifier</c> (a name or an ARN), and its function.</summary>
        private (string Group, string Function) Group(JsonElement input)
        {
            var name = Text(input, "logGroupName");
            var identifier = Text(input, "logGroupIdentifier");
            if (name is not null && identifier is not null)
            {
                throw Invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.");
            }

            name ??= identifier ?? throw Invalid("Either logGroupName or logGroupIdentifier must be given.");
            if (name.StartsWith("arn:", StringComparison.Ordinal))
            {
                var at = name.IndexOf(":log-group:", StringComparison.Ordinal);
                name = at < 0 ? string.Empty : name[(at + ":log-group:".Length)..];
                if (name.EndsWith(":*", StringComparison.Ordinal))
                {
                    name = name[..^2];
                }
            }

            var function = name.StartsWith(GroupPrefix, StringComparison.Ordinal) ? name[GroupPrefix.Length..] : null;
            if (function is null || function.Length == 0 || !functions.HasLog(function))
            {
                throw new LogsException("ResourceNotFoundException", "The specified log group does not exist.");
            }

            return (name, function);
        }

        private string GroupArn(string group) => $"arn:aws:logs:{options.Region}:{options.AccountId}:log-group:{group}";
    }

    /// <summary>At most 1 MB of messages: from the oldest line on, or (reading backwards) from the newest.</summary>
    private static List<LogLine> Capped(IReadOnlyList<LogLine> lines, bool keepNewest)
    {
        var bytes = 0;
        var kept = new List<LogLine>(lines.Count);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[keepNewest ? lines.Count - 1 - i : i];
            // CloudWatch counts each event's UTF-8 message plus 26 bytes.
            bytes += System.Text.Encoding.UTF8.GetByteCount(line.Text) + 26;
            if (bytes > MaxBytes && kept.Count > 0)
            {
                break;
            }

            kept.Add(line);
        }

        if (keepNewest)
        {
            kept.Reverse();
        }

        return kept;
    }

    private static string Token(char kind, long position) => $"{kind}/{position.ToString("D20", CultureInfo.InvariantCulture)}";

    private static int Index(JsonElement input, int count)
    {
        if (Text(input, "nextToken") is not { } token)
        {
            return 0;
        }

        return int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index <= count
            ? index
            : throw Invalid("The specified nextToken is invalid.");
    }

    private static int Limit(JsonElement input, int max)
    {
        if (!input.TryGetProperty("limit", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return max;
        }

        return value.TryGetInt32(out var limit) && limit >= 1 && limit <= max
            ? limit
            : throw Invalid($"1 validation error detected: Value '{value}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}");
    }

    private static string? Text(JsonElement input, string name) =>
        input.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long? Long(JsonElement input, string name) =>
        input.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number) ? number : null;

    private static LogsException Invalid(string message) => new("InvalidParameterException", message);

    /// <summary>A JSON 1.1 response written straight to the body.</summary>
    private sealed class JsonResult(int status, Action<Utf8JsonWriter> write) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var response = httpContext.Response;
            response.StatusCode = status;
            response.ContentType = ContentType;
            response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
            await using var writer = new Utf8JsonWriter(response.Body);
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
            await writer.FlushAsync(httpContext.RequestAborted);
        }
    }
}
