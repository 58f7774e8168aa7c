using System.CommandLine;
using System.Text.Json;

namespace Inlet.Cli;

/// <summary><c>inlet topics</c>, <c>inlet subscriptions</c>, <c>inlet deliveries</c>: SNS state through a running server.</summary>
internal static class NotificationCommands
{
    public static Command Topics() => ListCommand("topics", "List SNS topics", "/api/topics", "topics", t =>
        $"{t.GetProperty("topicArn").GetString()}  ({t.GetProperty("subscriptions").GetInt32()} subscription(s))");

    public static Command Subscriptions() => ListCommand("subscriptions", "List SNS subscriptions and whether they are confirmed", "/api/subscriptions", "subscriptions", s =>
        $"{s.GetProperty("subscriptionArn").GetString()}  {s.GetProperty("protocol").GetString()}  {s.GetProperty("endpoint").GetString()}  {(s.GetProperty("confirmed").GetBoolean() ? "confirmed" : "pending confirmation")}");

    public static Command Deliveries()
    {
        var failed = new Option<bool>("--failed") { Description = "Only deliveries that gave up or were rejected" };
        var command = ListCommand("deliveries", "List SNS deliveries, newest first, with their attempts and errors", "/api/deliveries", "deliveries", d =>
            $"{d.GetProperty("createdAt").GetDateTimeOffset().UtcDateTime:yyyy-MM-dd HH:mm:ss}  {d.GetProperty("status").GetString(),-9}  {d.GetProperty("messageType").GetString(),-24}  attempts {d.GetProperty("attempts").GetInt32()}  {d.GetProperty("subscriptionArn").GetString()}{(d.TryGetProperty("lastError", out var e) ? "  " + e.GetString() : string.Empty)}",
            failed);
        return command;
    }

    private static Command ListCommand(string name, string description, string path, string property, Func<JsonElement, string> format, Option<bool>? failed = null)
    {
        var server = ApiCommands.ServerOption();
        var json = ApiCommands.JsonOption();
        var command = new Command(name, description) { server, json };
        if (failed is not null)
        {
            command.Options.Add(failed);
        }

        command.SetAction((parse, ct) => ApiCommands.RunAsync(parse.GetValue(server)!, async http =>
        {
            var items = new List<JsonElement>();
            string?[] statuses = failed is not null && parse.GetValue(failed) ? ["failed", "rejected"] : [null];
            foreach (var status in statuses)
            {
                var body = await ApiCommands.GetAsync(http, status is null ? path : $"{path}?status={status}", ct);
                items.AddRange(body.GetProperty(property).EnumerateArray());
            }

            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(items));
                return 0;
            }

            if (items.Count == 0)
            {
                Console.WriteLine("None.");
            }

            foreach (var item in items)
            {
                Console.WriteLine(format(item));
            }

            return 0;
        }));
        return command;
    }
}
