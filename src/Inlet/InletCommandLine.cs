using System.CommandLine;
using Inlet.Hosting;
using MailKit.Net.Smtp;
using Microsoft.Extensions.Logging;
using MimeKit;

namespace Inlet.Cli;

/// <summary>The <c>inlet</c> command line: thin verbs over the server library.</summary>
internal static class InletCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Inlet: Amazon SES email receiving on your own machine — SMTP, receipt rules, Lambda functions, SNS.")
        {
            BuildServe(),
            BuildSend(),
            ApiCommands.Messages(),
            ApiCommands.Event(),
            ApiCommands.Replay(),
            ApiCommands.Rules(),
            ApiCommands.Outbox(),
            FunctionCommands.Invoke(),
            FunctionCommands.Logs(),
            FunctionCommands.Invocations(),
            NotificationCommands.Topics(),
            NotificationCommands.Subscriptions(),
            NotificationCommands.Deliveries(),
        };
        return root;
    }

    private static Command BuildServe()
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = $"Configuration file (default: {ConfigurationLoader.DefaultFileName} in the current folder, when present)" };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data folder (overrides DataDirectory; default ./inlet-data)" };
        var smtp = new Option<string?>("--smtp") { Description = "SMTP address:port (overrides Smtp.Listen; default 127.0.0.1:2525)" };
        var http = new Option<string?>("--http") { Description = "HTTP address:port (overrides Http.Listen; default 127.0.0.1:8025)" };
        var https = new Option<string?>("--https") { Description = "HTTPS address:port, or off (overrides Http.HttpsListen; default 127.0.0.1:8026)" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log every SMTP connection and command outcome (--log-level Debug)" };
        var logLevel = new Option<LogLevel?>("--log-level") { Description = "The least severe entries logged (default Information, which is a line per accepted message)" };
        var command = new Command("serve", "Run the server: SMTP, the rules, the HTTP API") { config, dataDir, smtp, http, https, verbose, logLevel };
        command.SetAction(async (parse, cancellationToken) =>
        {
            InletOptions options;
            try
            {
                options = LoadOptions(parse.GetValue(config));
                options = options with
                {
                    DataDirectory = parse.GetValue(dataDir) ?? options.DataDirectory,
                    Smtp = options.Smtp with { Listen = parse.GetValue(smtp) ?? options.Smtp.Listen },
                    Http = options.Http with { Listen = parse.GetValue(http) ?? options.Http.Listen, HttpsListen = parse.GetValue(https) ?? options.Http.HttpsListen },
                };
                if (options.Http.HttpsListen != "off")
                {
                    CheckOverride("--https", options.Http.HttpsListen);
                }
                CheckOverride("--smtp", options.Smtp.Listen);
                CheckOverride("--http", options.Http.Listen);
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync($"inlet: {e.Message}");
                return 2;
            }

            if (parse.GetValue(verbose) && parse.GetValue(logLevel) is not null)
            {
                await Console.Error.WriteLineAsync("inlet: --verbose is --log-level Debug; give one of them");
                return 2;
            }

            try
            {
                var level = parse.GetValue(logLevel) ?? (parse.GetValue(verbose) ? LogLevel.Debug : LogLevel.Information);
                await using var server = await InletServer.StartAsync(
                    options,
                    // Every category follows the level; Debug and Trace are for Inlet's own entries (the framework's
                    // would drown them), and the framework logs warnings and worse at most.
                    logging => logging.SetMinimumLevel(Max(level, LogLevel.Information)).AddFilter("Inlet", level).AddFilter("Microsoft", Max(level, LogLevel.Warning)),
                    cancellationToken);
                await server.WaitForShutdownAsync(CancellationToken.None);
                return 0;
            }
            catch (ConfigurationException e)
            {
                await Console.Error.WriteLineAsync($"inlet: {e.Message}");
                return 2;
            }
        });
        return command;
    }

    private static LogLevel Max(LogLevel a, LogLevel b) => a > b ? a : b;

    private static void CheckOverride(string name, string value)
    {
        if (!ConfigurationLoader.TryParseEndPoint(value, out _))
        {
            throw new ConfigurationException($"{name}: '{value}' is not an address and port (for example 127.0.0.1:2525)");
        }
    }

    internal static InletOptions LoadOptions(FileInfo? config)
    {
        if (config is not null)
        {
            if (!config.Exists)
            {
                throw new ConfigurationException($"{config.FullName}: the configuration file does not exist");
            }

            return ConfigurationLoader.LoadFile(config.FullName);
        }

        return File.Exists(ConfigurationLoader.DefaultFileName)
            ? ConfigurationLoader.LoadFile(ConfigurationLoader.DefaultFileName)
            : new InletOptions();
    }

    private static Command BuildSend()
    {
        var server = new Option<string>("--server", "-s") { Description = "SMTP server address:port", DefaultValueFactory = _ => "127.0.0.1:2525" };
        var from = new Option<string>("--from", "-f") { Description = "Envelope sender and From header", DefaultValueFactory = _ => "sender@example.net" };
        var to = new Option<string[]>("--to", "-t") { Description = "Recipient (repeat for several)", Required = true, AllowMultipleArgumentsPerToken = true };
        var subject = new Option<string>("--subject") { Description = "Subject header", DefaultValueFactory = _ => "Test message from inlet send" };
        var body = new Option<string>("--body") { Description = "Text body", DefaultValueFactory = _ => "Hello from Inlet." };
        var file = new Option<FileInfo?>("--eml") { Description = "Send this RFC 5322 file instead of a generated message" };
        var attach = new Option<FileInfo[]>("--attach", "-a") { Description = "Attach a file, its content type guessed from its extension (repeat for several)" };
        var command = new Command("send", "Send a test message over SMTP") { server, from, to, subject, body, file, attach };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (!ConfigurationLoader.TryParseEndPoint(parse.GetValue(server)!, out var endPoint))
            {
                await Console.Error.WriteLineAsync($"inlet: --server: '{parse.GetValue(server)}' is not an address and port");
                return 2;
            }

            var attachments = parse.GetValue(attach) ?? [];
            if (attachments.FirstOrDefault(a => !a.Exists) is { } missing)
            {
                await Console.Error.WriteLineAsync($"inlet: --attach: {missing.FullName} does not exist");
                return 2;
            }

            MimeMessage message;
            var eml = parse.GetValue(file);
            if (eml is not null)
            {
                message = await MimeMessage.LoadAsync(eml.FullName, cancellationToken);
            }
            else
            {
                message = new MimeMessage();
                message.From.Add(MailboxAddress.Parse(parse.GetValue(from)!));
                foreach (var recipient in parse.GetValue(to)!)
                {
                    message.To.Add(MailboxAddress.Parse(recipient));
                }

                message.Subject = parse.GetValue(subject) ?? string.Empty;
                message.Body = new TextPart("plain") { Text = parse.GetValue(body) ?? string.Empty };
            }

            if (attachments.Length > 0)
            {
                // multipart/mixed: the body first, then each file (RFC 2046 §5.1.3); an --eml message's body is kept whole.
                var mixed = new Multipart("mixed");
                if (message.Body is { } existing)
                {
                    mixed.Add(existing);
                }

                foreach (var attachment in attachments)
                {
                    mixed.Add(new MimePart(MimeTypes.GetMimeType(attachment.Name))
                    {
                        Content = new MimeContent(new MemoryStream(await File.ReadAllBytesAsync(attachment.FullName, cancellationToken))),
                        ContentDisposition = new ContentDisposition(ContentDisposition.Attachment),
                        ContentTransferEncoding = ContentEncoding.Base64,
                        FileName = attachment.Name,
                    });
                }

                message.Body = mixed;
            }

            using var client = new SmtpClient();
            try
            {
                await client.ConnectAsync(endPoint.Address.ToString(), endPoint.Port, MailKit.Security.SecureSocketOptions.None, cancellationToken);
                var sender = MailboxAddress.Parse(parse.GetValue(from)!);
                var recipients = parse.GetValue(to)!.Select(MailboxAddress.Parse).ToList();
                var reply = await client.SendAsync(message, sender, recipients, cancellationToken);
                await client.DisconnectAsync(true, cancellationToken);
                Console.WriteLine(reply);
                return 0;
            }
            catch (System.Net.Sockets.SocketException e)
            {
                await Console.Error.WriteLineAsync($"inlet: cannot reach SMTP at {endPoint} ({e.Message}) — is `inlet serve` running? (--server to point elsewhere)");
                return 1;
            }
            catch (Exception e) when (e is SmtpCommandException or SmtpProtocolException or IOException)
            {
                await Console.Error.WriteLineAsync($"inlet: {e.Message}");
                return 1;
            }
        });
        return command;
    }
}
