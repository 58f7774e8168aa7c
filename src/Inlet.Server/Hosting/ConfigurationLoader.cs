using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Inlet.Functions;
using Inlet.Notifications;
using Inlet.Outbound;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Storage;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Inlet.Hosting;

/// <summary>A configuration that cannot be used; the message names every setting that is wrong and why.</summary>
internal sealed class ConfigurationException(string message) : Exception(message);

/// <summary>
/// Reads <c>inlet.yaml</c> (JSON is accepted too: it is YAML), checks every setting and builds
/// <see cref="InletOptions"/>. All errors are reported at once, each with the path of the setting.
/// </summary>
internal static partial class ConfigurationLoader
{
    public const string DefaultFileName = "inlet.yaml";

    public static InletOptions LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{path}: cannot read the configuration file: {e.Message}");
        }

        return Load(text, path) with { SourceFile = Path.GetFullPath(path) };
    }

    public static InletOptions Load(string text, string source = DefaultFileName)
    {
        ConfigurationDocument document;
        try
        {
            var deserializer = new DeserializerBuilder().Build();
            document = deserializer.Deserialize<ConfigurationDocument?>(text) ?? new ConfigurationDocument();
        }
        catch (YamlException e)
        {
            var line = e.Start.Line;
            if ((e.InnerException?.Message ?? e.Message).Contains("invalid tab", StringComparison.Ordinal))
            {
                // The parser points at the mapping that holds the tab; the line with the tab is the one to fix.
                var lines = text.Split('\n');
                var tabbed = Array.FindIndex(lines, l => l.TrimEnd().Length > 0 && l[..(l.Length - l.TrimStart().Length)].Contains('\t'));
                line = tabbed >= 0 ? tabbed + 1 : line;
            }

            throw new ConfigurationException($"{source} (line {line}, column {e.Start.Column}): {Describe(e)}");
        }

        return Build(document, source, Path.GetDirectoryName(Path.GetFullPath(source)) ?? Directory.GetCurrentDirectory());
    }

    [GeneratedRegex("Property '(?<name>[^']+)' not found on type '(?<full>(?:[\\w.]+\\.)?(?<type>\\w+?)(?:Document)?)'")]
    private static partial Regex UnknownProperty();

    [GeneratedRegex("The input string '(?<value>.*)' was not in a correct format")]
    private static partial Regex NotANumber();

    [GeneratedRegex(@"Invalid cast from '[\w.]+' to '(?<target>[^']+)'")]
    private static partial Regex InvalidCast();

    /// <summary>A YAML or binding error in plain words: what is wrong at that line, and what would be right.</summary>
    private static string Describe(YamlException e)
    {
        var innermost = e.InnerException?.Message ?? e.Message;
        var unknown = UnknownProperty().Match(e.Message);
        if (unknown.Success)
        {
            var name = unknown.Groups["name"].Value;
            var section = unknown.Groups["type"].Value;
            var where = section == "Configuration" ? "" : $" in a {section}";
            var known = typeof(ConfigurationDocument).Assembly.GetType(unknown.Groups["full"].Value)?.GetProperties().Select(p => p.Name).ToList() ?? [];
            var nearest = Nearest(name, known);
            return nearest is null
                ? $"unknown setting '{name}'{where} (known here: {string.Join(", ", known)})"
                : $"unknown setting '{name}'{where} — did you mean '{nearest}'?";
        }

        if (NotANumber().Match(innermost) is { Success: true } number)
        {
            return $"'{number.Groups["value"].Value}' is not a number";
        }

        if (InvalidCast().Match(innermost) is { Success: true } cast)
        {
            return cast.Groups["target"].Value.Contains("List`1", StringComparison.Ordinal)
                ? "a list is expected here (one '- ' item per line, or [a, b]), not a single value"
                : "a section of settings ('Key: value' lines, indented below) is expected here, not a single value";
        }

        return innermost switch
        {
            _ when innermost.Contains("invalid tab", StringComparison.Ordinal) => "a tab is used for indentation; YAML indents with spaces only",
            _ when innermost.Contains("invalid mapping", StringComparison.Ordinal) || innermost.Contains("Mapping values are not allowed", StringComparison.Ordinal) =>
                "a ':' here starts a new key where a value was expected: indent this line like the one above it, or quote a value that contains ': '",
            _ when innermost.Contains("did not find expected key", StringComparison.Ordinal) => "this line is not indented like the keys around it",
            _ when innermost.Contains("did not find expected '-' indicator", StringComparison.Ordinal) => "a list item is not indented like the others (each starts with '- ')",
            _ when innermost.Contains("quoted scalar", StringComparison.Ordinal) => "a quoted value is never closed (a \" or ' is missing)",
            _ when innermost.Contains("Duplicate key", StringComparison.OrdinalIgnoreCase) || innermost.Contains("same key", StringComparison.Ordinal) => "a key is given twice",
            _ => innermost,
        };
    }

    /// <summary>The known name closest to a misspelt one (case-insensitive edit distance), if any is close enough.</summary>
    internal static string? Nearest(string name, IEnumerable<string> known)
    {
        var best = known.Select(k => (Name: k, Distance: EditDistance(name.ToUpperInvariant(), k.ToUpperInvariant()))).OrderBy(x => x.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, name.Length / 3) ? best.Name : null;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    private static InletOptions Build(ConfigurationDocument d, string source, string baseDirectory)
    {
        var errors = new List<string>();
        var defaults = new InletOptions();
        var smtp = BuildSmtp(d.Smtp, errors);
        var http = new HttpOptions
        {
            Listen = d.Http?.Listen ?? defaults.Http.Listen,
            HttpsListen = d.Http?.HttpsListen ?? defaults.Http.HttpsListen,
            AllowedHosts = [.. (d.Http?.AllowedHosts ?? []).Where(h => !string.IsNullOrWhiteSpace(h)).Select(h => h.Trim())],
            ConsolePassword = string.IsNullOrEmpty(d.Http?.ConsolePassword) ? null : d.Http.ConsolePassword,
        };
        CheckListen("Http.Listen", http.Listen, errors);
        if (http.HttpsListen != "off")
        {
            CheckListen("Http.HttpsListen", http.HttpsListen, errors);
        }

        var region = d.Region ?? defaults.Region;
        if (!RegionPattern().IsMatch(region))
        {
            errors.Add($"Region: '{region}' is not a region name (for example us-east-1)");
        }

        var account = d.AccountId ?? defaults.AccountId;
        if (!AccountPattern().IsMatch(account))
        {
            errors.Add($"AccountId: '{account}' must be 12 digits (quote it in YAML so leading zeros are kept)");
        }

        var credentials = defaults.Credentials;
        if (d.Credentials is not null)
        {
            var list = new List<AccessKey>();
            for (var i = 0; i < d.Credentials.Count; i++)
            {
                var c = d.Credentials[i];
                if (string.IsNullOrEmpty(c.AccessKeyId) || string.IsNullOrEmpty(c.SecretAccessKey))
                {
                    errors.Add($"Credentials[{i}]: both AccessKeyId and SecretAccessKey are required");
                    continue;
                }

                list.Add(new AccessKey(c.AccessKeyId, c.SecretAccessKey));
            }

            credentials = [.. list];
        }

        var functions = BuildFunctions(d.Functions, region, account, baseDirectory, errors);
        var functionSettings = BuildFunctionSettings(d.FunctionSettings, errors);
        var topics = BuildTopics(d.Topics, errors);
        var notifications = BuildNotifications(d.Notifications, errors);
        var receipt = BuildReceipt(AdoptPastedRuleSet(d, errors), errors);
        CheckFunctionReferences(receipt, functions, region, account, errors);
        var processing = BuildProcessing(d.Processing, errors);
        var state = BuildState(d.State, errors);
        var spool = BuildSpool(d.Spool, d.BucketStore, errors);
        var outbound = BuildOutbound(d.Outbound, errors);
        var authentication = BuildAuthentication(d.Authentication, baseDirectory, errors);
        var buckets = new List<string>();
        foreach (var (bucket, i) in (d.Buckets ?? []).Select((b, i) => (b, i)))
        {
            if (ReceiptValidation.CheckBucketName(bucket) is { } bucketError)
            {
                errors.Add($"Buckets[{i}]: {bucketError.Message}");
            }
            else
            {
                buckets.Add(bucket);
            }
        }

        var identities = new List<string>();
        foreach (var (identity, i) in (d.Identities ?? []).Select((x, i) => (x?.Trim() ?? string.Empty, i)))
        {
            var at = identity.LastIndexOf('@');
            if (at == 0 || !SendingIdentities.IsDomainName(at < 0 ? identity : identity[(at + 1)..]))
            {
                errors.Add($"Identities[{i}]: '{identity}' is neither a domain nor an email address");
            }
            else
            {
                identities.Add(identity);
            }
        }

        Inlet.Storage.S3StoreOptions? bucketStore = null;
        if (d.BucketStore is { } store && store.Type != "files")
        {
            if (store.Type != "s3")
            {
                errors.Add($"BucketStore.Type: '{store.Type}' must be files or s3");
            }
            else if (store.AccessKeyId is null || store.SecretAccessKey is null)
            {
                errors.Add("BucketStore: AccessKeyId and SecretAccessKey are required for an s3 bucket store");
            }
            else if (store.ServiceUrl is not null && !Uri.TryCreate(store.ServiceUrl, UriKind.Absolute, out _))
            {
                errors.Add($"BucketStore.ServiceUrl: '{store.ServiceUrl}' is not a URL");
            }
            else
            {
                bucketStore = new Inlet.Storage.S3StoreOptions
                {
                    ServiceUrl = store.ServiceUrl,
                    Region = store.Region ?? region,
                    AccessKeyId = store.AccessKeyId,
                    SecretAccessKey = store.SecretAccessKey,
                    ForcePathStyle = store.ForcePathStyle ?? true,
                };
            }
        }

        if (errors.Count > 0)
        {
            throw new ConfigurationException($"{source}: {errors.Count} setting(s) are wrong:\n  - {string.Join("\n  - ", errors)}");
        }

        return new InletOptions
        {
            Region = region,
            AccountId = account,
            DataDirectory = d.DataDirectory ?? defaults.DataDirectory,
            Smtp = smtp,
            Http = http,
            Credentials = credentials,
            Receipt = receipt,
            ActiveReceiptRuleSetDeclared = d.ActiveReceiptRuleSet is not null,
            Buckets = [.. buckets],
            BucketStore = bucketStore,
            State = state,
            Spool = spool,
            Processing = processing,
            Outbound = outbound,
            Functions = [.. functions],
            FunctionSettings = functionSettings,
            Topics = [.. topics],
            Notifications = notifications,
            Identities = [.. identities],
            Authentication = authentication,
        };
    }

    private static Inlet.Authentication.AuthenticationOptions BuildAuthentication(AuthenticationDocument? d, string baseDirectory, List<string> errors)
    {
        var o = new Inlet.Authentication.AuthenticationOptions();
        if (d is null)
        {
            return o;
        }

        var servers = new List<IPEndPoint>();
        foreach (var (server, i) in (d.DnsServers ?? []).Select((s, i) => (s, i)))
        {
            // A bare address means port 53.
            if (IPAddress.TryParse(server, out var address) && !server.Contains(']'))
            {
                servers.Add(new IPEndPoint(address, 53));
            }
            else if (TryParseEndPoint(server ?? string.Empty, out var endPoint) && endPoint.Port > 0)
            {
                servers.Add(endPoint);
            }
            else
            {
                errors.Add($"Authentication.DnsServers[{i}]: '{server}' is not a resolver address (for example 127.0.0.1, 127.0.0.1:5353 or [::1]:53)");
            }
        }

        foreach (var (name, value) in new[] { ("Spamd", d.Spamd), ("Clamd", d.Clamd) })
        {
            if (value is not null && !Inlet.Authentication.ScannerEndPoint.TryParse(value, out _))
            {
                errors.Add($"Authentication.{name}: '{value}' is neither host:port (for example 127.0.0.1:{(name == "Spamd" ? 783 : 3310)}) nor the path of a unix socket (starting with /)");
            }
        }

        var threshold = d.SpamThreshold ?? o.SpamThreshold;
        if (!double.IsFinite(threshold) || threshold < -1000 || threshold > 1000)
        {
            errors.Add($"Authentication.SpamThreshold: {threshold.ToString(CultureInfo.InvariantCulture)} is out of range (-1000 to 1000; SpamAssassin's own default is 5.0)");
            threshold = o.SpamThreshold;
        }

        var suffixList = o.PublicSuffixList;
        if (d.PublicSuffixList is { } path)
        {
            // Named on purpose, it must be there; only the default path may be missing (then a built-in list serves).
            suffixList = Path.GetFullPath(path, baseDirectory);
            if (!File.Exists(suffixList))
            {
                errors.Add($"Authentication.PublicSuffixList: {suffixList} does not exist (leave the setting out to use {Inlet.Authentication.PublicSuffixList.DefaultPath}, or Inlet's small built-in list when that is missing too)");
            }
        }

        return o with
        {
            DnsServers = [.. servers],
            Spamd = d.Spamd,
            SpamThreshold = threshold,
            Clamd = d.Clamd,
            PublicSuffixList = suffixList,
        };
    }

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,256}$")]
    private static partial Regex TopicNamePattern();

    private static List<TopicDeclaration> BuildTopics(List<TopicDocument>? documents, List<string> errors)
    {
        var list = new List<TopicDeclaration>();
        foreach (var (t, i) in (documents ?? []).Select((t, i) => (t, i)))
        {
            var path = $"Topics[{i}]";
            if (t.Name is null || !TopicNamePattern().IsMatch(t.Name))
            {
                errors.Add($"{path}.Name: '{t.Name}' must be 1 to 256 letters, digits, hyphens or underscores");
                continue;
            }

            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            if (t.DisplayName is not null)
            {
                attributes["DisplayName"] = t.DisplayName;
            }

            if (t.SignatureVersion is not null)
            {
                if (t.SignatureVersion is not ("1" or "2"))
                {
                    errors.Add($"{path}.SignatureVersion: '{t.SignatureVersion}' must be 1 or 2");
                }

                attributes["SignatureVersion"] = t.SignatureVersion;
            }

            if (t.DeliveryPolicy is not null)
            {
                DeliveryPolicy.Parse(t.DeliveryPolicy, out var policyError);
                if (policyError is not null)
                {
                    errors.Add($"{path}.DeliveryPolicy: {policyError}");
                }

                attributes["DeliveryPolicy"] = t.DeliveryPolicy;
            }

            var subscriptions = new List<SubscriptionDeclaration>();
            foreach (var (s, j) in (t.Subscriptions ?? []).Select((s, j) => (s, j)))
            {
                if (s.Protocol is not ("http" or "https" or "lambda") || string.IsNullOrEmpty(s.Endpoint))
                {
                    errors.Add($"{path}.Subscriptions[{j}]: Protocol (http, https or lambda) and Endpoint are required");
                    continue;
                }

                var subscriptionAttributes = new Dictionary<string, string>(StringComparer.Ordinal);
                if (s.RawMessageDelivery is { } raw)
                {
                    subscriptionAttributes["RawMessageDelivery"] = raw ? "true" : "false";
                }

                subscriptions.Add(new SubscriptionDeclaration(s.Protocol, s.Endpoint, subscriptionAttributes));
            }

            list.Add(new TopicDeclaration(t.Name, attributes, subscriptions));
        }

        return list;
    }

    private static SnsOptions BuildNotifications(NotificationsDocument? d, List<string> errors)
    {
        var o = new SnsOptions();
        if (d is null)
        {
            return o;
        }

        if (d.BaseUrl is not null && (!Uri.TryCreate(d.BaseUrl, UriKind.Absolute, out var url) || url.Scheme != "https"))
        {
            errors.Add($"Notifications.BaseUrl: '{d.BaseUrl}' must be an https URL (SNS validators fetch signing certificates over https only)");
        }

        return o with
        {
            BaseUrl = d.BaseUrl?.TrimEnd('/'),
            AcceptAnyCertificate = d.AcceptAnyCertificate ?? false,
            RequestTimeout = Seconds("Notifications.RequestTimeout", d.RequestTimeout, o.RequestTimeout, errors),
        };
    }

    [GeneratedRegex("^[a-zA-Z0-9-_]{1,64}$")]
    private static partial Regex FunctionNamePattern();

    [GeneratedRegex("^[a-zA-Z]([a-zA-Z0-9_])+$")]
    private static partial Regex EnvironmentKeyPattern();

    private static List<FunctionDeclaration> BuildFunctions(List<FunctionDocument>? documents, string region, string account, string baseDirectory, List<string> errors)
    {
        var list = new List<FunctionDeclaration>();
        foreach (var (f, i) in (documents ?? []).Select((f, i) => (f, i)))
        {
            var path = $"Functions[{i}]";
            var name = f.FunctionName;
            if (name is null || !FunctionNamePattern().IsMatch(name))
            {
                errors.Add($"{path}.FunctionName: '{name}' must be 1 to 64 letters, digits, hyphens or underscores");
                continue;
            }

            path = $"Functions[{i}] ({name})";
            if (list.Any(x => x.Definition.FunctionName == name))
            {
                errors.Add($"{path}: a function named {name} is declared twice");
                continue;
            }

            var runtime = f.Runtime ?? string.Empty;
            if (!FunctionDefinition.SupportedRuntimes.Contains(runtime))
            {
                errors.Add($"{path}.Runtime: '{runtime}' is not supported (supported: {string.Join(", ", FunctionDefinition.SupportedRuntimes)})");
                continue;
            }

            string? code = null;
            if (runtime == "http")
            {
                if (f.Url is null || !Uri.TryCreate(f.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                {
                    errors.Add($"{path}.Url: an http or https URL is required for the http runtime (got '{f.Url}')");
                    continue;
                }
            }
            else
            {
                if (f.Code is null)
                {
                    errors.Add($"{path}.Code: a folder or a .zip file is required");
                    continue;
                }

                code = Path.GetFullPath(Path.Combine(baseDirectory, f.Code));
                if (!Directory.Exists(code) && !(File.Exists(code) && code.EndsWith(".zip", StringComparison.OrdinalIgnoreCase)))
                {
                    errors.Add($"{path}.Code: '{f.Code}' is neither a folder nor a .zip file (looked for {code})");
                    continue;
                }
            }

            var timeout = (int)Range($"{path}.Timeout", f.Timeout, FunctionDefinition.DefaultTimeout, 1, FunctionDefinition.MaxTimeout, errors);
            var memory = (int)Range($"{path}.MemorySize", f.MemorySize, FunctionDefinition.DefaultMemorySize, 128, 10240, errors);
            int? reserved = f.ReservedConcurrentExecutions is null ? null : (int)Range($"{path}.ReservedConcurrentExecutions", f.ReservedConcurrentExecutions, 0, 0, 1000, errors);
            var retries = (int)Range($"{path}.EventInvokeConfig.MaximumRetryAttempts", f.EventInvokeConfig?.MaximumRetryAttempts, 2, 0, 2, errors);
            var age = (int)Range($"{path}.EventInvokeConfig.MaximumEventAgeInSeconds", f.EventInvokeConfig?.MaximumEventAgeInSeconds, 21600, 60, 21600, errors);
            var variables = f.Environment?.Variables ?? [];
            foreach (var key in variables.Keys.Where(k => !EnvironmentKeyPattern().IsMatch(k)))
            {
                errors.Add($"{path}.Environment.Variables: '{key}' is not a valid variable name (a letter, then letters, digits and underscores)");
            }

            if (f.Role is { } role && !FunctionDefinition.IsValidRole(role))
            {
                errors.Add($"{path}.Role: '{role}' is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)");
            }

            var definition = new FunctionDefinition
            {
                FunctionName = name,
                FunctionArn = FunctionDefinition.ArnFor(region, account, name),
                Role = f.Role,
                Runtime = runtime,
                Handler = f.Handler ?? "index.handler",
                Url = f.Url,
                Timeout = timeout,
                MemorySize = memory,
                Description = f.Description ?? string.Empty,
                Environment = variables.ToImmutableSortedDictionary(StringComparer.Ordinal),
                ReservedConcurrentExecutions = reserved,
                MaximumRetryAttempts = retries,
                MaximumEventAgeInSeconds = age,
            };
            list.Add(new FunctionDeclaration(definition, code));
        }

        return list;
    }

    private static FunctionsOptions BuildFunctionSettings(FunctionsDocument? d, List<string> errors)
    {
        var o = new FunctionsOptions();
        if (d is null)
        {
            return o;
        }

        var scope = o.CredentialScope;
        if (d.CredentialScope is { } declared && !Enum.TryParse(declared, ignoreCase: false, out scope))
        {
            errors.Add($"FunctionSettings.CredentialScope: '{declared}' must be DataPlane or All");
        }

        if (d.RunAs is { Length: 0 })
        {
            errors.Add("FunctionSettings.RunAs: name a user (for example nobody), or off");
        }

        return o with
        {
            RunAs = d.RunAs,
            CredentialScope = scope,
            DefaultConcurrency = (int)Range("FunctionSettings.DefaultConcurrency", d.DefaultConcurrency, o.DefaultConcurrency, 1, 1000, errors),
            IdleTimeout = Seconds("FunctionSettings.IdleTimeout", d.IdleTimeout, o.IdleTimeout, errors),
            EnvironmentMaxInvocations = (int)Range("FunctionSettings.EnvironmentMaxInvocations", d.EnvironmentMaxInvocations, o.EnvironmentMaxInvocations, 1, int.MaxValue, errors),
            NodePath = d.NodePath ?? o.NodePath,
            PythonPath = d.PythonPath ?? o.PythonPath,
            AsyncRetryDelay = Seconds("FunctionSettings.AsyncRetryDelay", d.AsyncRetryDelay, o.AsyncRetryDelay, errors),
        };
    }

    /// <summary>A Lambda action must name a function that exists, as SES checks at CreateReceiptRule (InvalidLambdaFunction).</summary>
    private static void CheckFunctionReferences(ReceiptConfiguration receipt, List<FunctionDeclaration> functions, string region, string account, List<string> errors)
    {
        var registry = new FunctionRegistry(region, account);
        foreach (var f in functions)
        {
            registry.Put(f.Definition);
        }

        foreach (var set in receipt.RuleSets)
        {
            foreach (var rule in set.Rules)
            {
                foreach (var action in rule.Actions.OfType<LambdaReceiptAction>())
                {
                    if (registry.Resolve(action.FunctionArn) is null)
                    {
                        errors.Add($"rule set {set.Name}, rule {rule.Name}: LambdaAction names an unknown function: {action.FunctionArn} (declared: {(functions.Count == 0 ? "none" : string.Join(", ", functions.Select(x => x.Definition.FunctionName)))})");
                    }
                }
            }
        }
    }

    private static Inlet.Storage.SpoolOptions BuildSpool(SpoolDocument? s, BucketStoreDocument? bucketStore, List<string> errors)
    {
        var o = new Inlet.Storage.SpoolOptions();
        if (s is null)
        {
            return o;
        }

        var type = s.Type ?? o.Type;
        if (type is not (Inlet.Storage.SpoolOptions.Files or Inlet.Storage.SpoolOptions.S3))
        {
            errors.Add($"Spool.Type: '{type}' must be files or s3");
        }
        else if (type == Inlet.Storage.SpoolOptions.S3 && bucketStore?.Type != "s3")
        {
            errors.Add("Spool: an s3 spool uses the S3 service of BucketStore, which must be 'Type: s3'");
        }
        else if (type == Inlet.Storage.SpoolOptions.S3 && string.IsNullOrWhiteSpace(s.Bucket))
        {
            errors.Add("Spool.Bucket: required for an s3 spool");
        }

        return o with { Type = type, Bucket = s.Bucket };
    }

    private static Inlet.Storage.StateOptions BuildState(StateDocument? s, List<string> errors)
    {
        var o = new Inlet.Storage.StateOptions();
        if (s is null)
        {
            return o;
        }

        var type = s.Type ?? o.Type;
        if (type is not (Inlet.Storage.StateOptions.Sqlite or Inlet.Storage.StateOptions.Postgres))
        {
            errors.Add($"State.Type: '{type}' must be sqlite or postgres");
        }
        else if (type == Inlet.Storage.StateOptions.Postgres && string.IsNullOrWhiteSpace(s.ConnectionString))
        {
            errors.Add("State.ConnectionString: required for a postgres state store (e.g. \"Host=db;Username=inlet;Password=…;Database=inlet\")");
        }
        else if (type == Inlet.Storage.StateOptions.Postgres && ConnectionStringProblem(s.ConnectionString!) is { } problem)
        {
            errors.Add($"State.ConnectionString: {problem}");
        }

        // Renewed every third of it: shorter than a few seconds, a busy node loses work it is still doing.
        if (s.LeaseSeconds is { } lease && (lease < 3 || lease > 3600))
        {
            errors.Add($"State.LeaseSeconds: {lease.ToString(CultureInfo.InvariantCulture)} seconds is out of range (3 to 3600)");
        }

        if (s.BucketFlushSeconds is { } flush && (flush < 0.01 || flush > 3600))
        {
            errors.Add($"State.BucketFlushSeconds: {flush.ToString(CultureInfo.InvariantCulture)} seconds is out of range (0.01 to 3600)");
        }

        if (s.NodeId is { } id && (id.Length is 0 or > 100 || id.Contains('/', StringComparison.Ordinal)))
        {
            errors.Add($"State.NodeId: '{id}' must be 1 to 100 characters without '/'");
        }

        return o with
        {
            Type = type,
            ConnectionString = s.ConnectionString,
            NodeId = s.NodeId,
            Lease = s.LeaseSeconds is { } seconds and >= 3 and <= 3600 ? TimeSpan.FromSeconds(seconds) : o.Lease,
            BucketFlushInterval = s.BucketFlushSeconds is { } every and >= 0.01 and <= 3600 ? TimeSpan.FromSeconds(every) : o.BucketFlushInterval,
        };
    }

    /// <summary>Why Npgsql cannot read a connection string (an unknown keyword, a value of the wrong kind), or null.</summary>
    private static string? ConnectionStringProblem(string connectionString)
    {
        try
        {
            var parsed = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            return string.IsNullOrEmpty(parsed.Host) ? "names no Host (e.g. \"Host=db;Username=inlet;Password=…;Database=inlet\")" : null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            return $"not a PostgreSQL connection string Npgsql can read: {e.Message}";
        }
    }

    private static ProcessingOptions BuildProcessing(ProcessingDocument? p, List<string> errors)
    {
        var o = new ProcessingOptions();
        if (p is null)
        {
            return o;
        }

        return o with
        {
            RetryInitialDelay = Seconds("Processing.RetryInitialDelay", p.RetryInitialDelay, o.RetryInitialDelay, errors),
            RetryMaxDelay = Seconds("Processing.RetryMaxDelay", p.RetryMaxDelay, o.RetryMaxDelay, errors),
            RetryMaxAge = Seconds("Processing.RetryMaxAge", p.RetryMaxAge, o.RetryMaxAge, errors),
            Workers = (int)Range("Processing.Workers", p.Workers, o.Workers, 1, 256, errors),
        };
    }

    private static OutboundOptions BuildOutbound(OutboundDocument? d, List<string> errors)
    {
        var o = new OutboundOptions();
        if (d is null)
        {
            return o;
        }

        var security = d.Security ?? o.Security;
        if (security is not ("None" or "StartTls" or "StartTlsWhenAvailable" or "SslOnConnect" or "Auto"))
        {
            errors.Add($"Outbound.Security: '{security}' must be None, StartTls, StartTlsWhenAvailable, SslOnConnect or Auto");
        }

        return o with
        {
            Host = d.Host,
            Port = (int)Range("Outbound.Port", d.Port, o.Port, 1, 65535, errors),
            Security = security,
            Username = d.Username,
            Password = d.Password,
            AcceptAnyCertificate = d.AcceptAnyCertificate ?? false,
            RetryDelay = Seconds("Outbound.RetryDelay", d.RetryDelay, o.RetryDelay, errors),
        };
    }

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-\\d+$")]
    private static partial Regex RegionPattern();

    [GeneratedRegex("^\\d{12}$")]
    private static partial Regex AccountPattern();

    private static SmtpOptions BuildSmtp(SmtpDocument? s, List<string> errors)
    {
        var o = new SmtpOptions();
        if (s is null)
        {
            return o;
        }

        var mode = o.Mode;
        if (s.Mode is not null && !Enum.TryParse(s.Mode, ignoreCase: true, out mode))
        {
            errors.Add($"Smtp.Mode: '{s.Mode}' is not a mode (async or inline)");
        }

        o = o with
        {
            Listen = s.Listen ?? o.Listen,
            Mode = mode,
            Hostname = s.Hostname ?? o.Hostname,
            MaxMessageSize = Range("Smtp.MaxMessageSize", s.MaxMessageSize, o.MaxMessageSize, 1024, 1L << 40, errors),
            MaxRecipients = (int)Range("Smtp.MaxRecipients", s.MaxRecipients, o.MaxRecipients, 1, 100_000, errors),
            MaxCommandLineLength = (int)Range("Smtp.MaxCommandLineLength", s.MaxCommandLineLength, o.MaxCommandLineLength, 512, 65_536, errors),
            MaxLineLength = (int)Range("Smtp.MaxLineLength", s.MaxLineLength, o.MaxLineLength, 1000, 10_485_760, errors),
            MaxHeaderSize = (int)Range("Smtp.MaxHeaderSize", s.MaxHeaderSize, o.MaxHeaderSize, 1024, 104_857_600, errors),
            CommandTimeout = Seconds("Smtp.CommandTimeout", s.CommandTimeout, o.CommandTimeout, errors),
            DataTimeout = Seconds("Smtp.DataTimeout", s.DataTimeout, o.DataTimeout, errors),
            MaxBadCommands = (int)Range("Smtp.MaxBadCommands", s.MaxBadCommands, o.MaxBadCommands, 1, 1000, errors),
            MaxConnections = (int)Range("Smtp.MaxConnections", s.MaxConnections, o.MaxConnections, 1, 1_000_000, errors),
            MaxConnectionsPerClient = (int)Range("Smtp.MaxConnectionsPerClient", s.MaxConnectionsPerClient, o.MaxConnectionsPerClient, 1, 1_000_000, errors),
            InlineTimeout = Seconds("Smtp.InlineTimeout", s.InlineTimeout, o.InlineTimeout, errors),
            MinDataRate = s.MinDataRate is { } rate && rate < 0 ? Invalid("Smtp.MinDataRate", rate, o.MinDataRate, errors) : s.MinDataRate ?? o.MinDataRate,
            MinDataRateGracePeriod = Seconds("Smtp.MinDataRateGracePeriod", s.MinDataRateGracePeriod, o.MinDataRateGracePeriod, errors),
            MaxSessionTime = Seconds("Smtp.MaxSessionTime", s.MaxSessionTime, o.MaxSessionTime, errors),
            ReclaimIdleAfter = Seconds("Smtp.ReclaimIdleAfter", s.ReclaimIdleAfter, o.ReclaimIdleAfter, errors),
            MinFreeSpace = Range("Smtp.MinFreeSpace", s.MinFreeSpace, o.MinFreeSpace, 0, 1L << 50, errors),
            Tls = new TlsOptions
            {
                Enabled = s.Tls?.Enabled ?? true,
                CertificatePath = s.Tls?.CertificatePath,
                KeyPath = s.Tls?.KeyPath,
                Password = s.Tls?.Password,
            },
        };
        CheckListen("Smtp.Listen", o.Listen, errors);
        if (o.Tls.CertificatePath is { } cert && !File.Exists(cert))
        {
            errors.Add($"Smtp.Tls.CertificatePath: file '{cert}' does not exist");
        }

        if (o.Tls.KeyPath is { } key && !File.Exists(key))
        {
            errors.Add($"Smtp.Tls.KeyPath: file '{key}' does not exist");
        }

        return o;
    }

    private static double Invalid(string name, double value, double fallback, List<string> errors)
    {
        errors.Add($"{name}: {value} must not be negative");
        return fallback;
    }

    private static long Range(string name, long? value, long fallback, long min, long max, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        if (value < min || value > max)
        {
            errors.Add($"{name}: {value} is out of range ({min} to {max})");
            return fallback;
        }

        return value.Value;
    }

    private static TimeSpan Seconds(string name, double? value, TimeSpan fallback, List<string> errors)
    {
        if (value is null)
        {
            return fallback;
        }

        if (value <= 0 || value > 86_400)
        {
            errors.Add($"{name}: {value.Value.ToString(CultureInfo.InvariantCulture)} seconds is out of range (more than 0, at most 86400)");
            return fallback;
        }

        return TimeSpan.FromSeconds(value.Value);
    }

    private static void CheckListen(string name, string value, List<string> errors)
    {
        if (!TryParseEndPoint(value, out _))
        {
            errors.Add($"{name}: '{value}' is not an address and port (for example 127.0.0.1:2525, [::1]:2525, 0.0.0.0:25)");
        }
    }

    /// <summary>An IP address and port; <c>localhost</c> means the IPv4 loopback.</summary>
    public static bool TryParseEndPoint(string value, out IPEndPoint endPoint)
    {
        var text = value.StartsWith("localhost:", StringComparison.OrdinalIgnoreCase) ? "127.0.0.1" + value["localhost".Length..] : value;
        if (IPEndPoint.TryParse(text, out var parsed) && parsed.Port is >= 0 and <= 65535 && text.Contains(':') && (text.LastIndexOf(':') > text.LastIndexOf(']')))
        {
            endPoint = parsed;
            return true;
        }

        endPoint = new IPEndPoint(IPAddress.Loopback, 0);
        return false;
    }

    /// <summary>
    /// The output of <c>aws ses describe-active-receipt-rule-set</c> (or describe-receipt-rule-set) pasted as the
    /// whole file: its <c>Metadata</c> and <c>Rules</c> at the top level are read as one rule set, made active.
    /// </summary>
    private static ConfigurationDocument AdoptPastedRuleSet(ConfigurationDocument d, List<string> errors)
    {
        if (d.Metadata is null && d.Rules is null)
        {
            return d;
        }

        if (d.Metadata?.Name is null)
        {
            errors.Add("Rules: a top-level Rules list is read as pasted describe-active-receipt-rule-set output and needs Metadata.Name beside it; or declare it under ReceiptRuleSets: [{RuleSetName: NAME, Rules: [...]}]");
            return d;
        }

        d.ReceiptRuleSets = [.. d.ReceiptRuleSets ?? [], new ReceiptRuleSetDocument { Metadata = d.Metadata, Rules = d.Rules }];
        d.ActiveReceiptRuleSet ??= d.Metadata.Name;
        return d;
    }

    private static ReceiptConfiguration BuildReceipt(ConfigurationDocument d, List<string> errors)
    {
        var filters = new List<ReceiptFilter>();
        foreach (var (f, i) in (d.ReceiptFilters ?? []).Select((f, i) => (f, i)))
        {
            var path = $"ReceiptFilters[{i}]";
            var policy = IpFilterPolicy.Block;
            if (f.IpFilter is null || f.IpFilter.Cidr is null || f.IpFilter.Policy is null)
            {
                errors.Add($"{path}: IpFilter with Policy (Block or Allow) and Cidr is required");
                continue;
            }

            if (f.IpFilter.Policy is not ("Block" or "Allow"))
            {
                errors.Add($"{path}.IpFilter.Policy: '{f.IpFilter.Policy}' must be Block or Allow");
                continue;
            }

            policy = f.IpFilter.Policy == "Allow" ? IpFilterPolicy.Allow : IpFilterPolicy.Block;
            var filter = new ReceiptFilter(f.Name ?? string.Empty, policy, f.IpFilter.Cidr);
            if (ReceiptValidation.CheckFilter(filter) is { } error)
            {
                errors.Add($"{path}: {error.Message}");
            }
            else if (filters.Any(x => x.Name == filter.Name))
            {
                errors.Add($"{path}: a filter named {filter.Name} is declared twice");
            }
            else
            {
                filters.Add(filter);
            }
        }

        if (filters.Count > ReceiptValidation.MaxFilters)
        {
            errors.Add($"ReceiptFilters: {filters.Count} filters; at most {ReceiptValidation.MaxFilters} are allowed");
        }

        var sets = new List<ReceiptRuleSet>();
        foreach (var (s, i) in (d.ReceiptRuleSets ?? []).Select((s, i) => (s, i)))
        {
            var path = $"ReceiptRuleSets[{i}]";
            var name = s.RuleSetName ?? s.Metadata?.Name;
            if (ReceiptValidation.CheckRuleSetName(name) is { } nameError)
            {
                errors.Add($"{path}.RuleSetName: {nameError.Message}");
                continue;
            }

            if (sets.Any(x => x.Name == name))
            {
                errors.Add($"{path}: a rule set named {name} is declared twice");
                continue;
            }

            var rules = new List<ReceiptRule>();
            foreach (var (r, j) in (s.Rules ?? []).Select((r, j) => (r, j)))
            {
                var rule = BuildRule(r, $"{path}.Rules[{j}]", errors);
                if (rule is null)
                {
                    continue;
                }

                if (rules.Any(x => x.Name == rule.Name))
                {
                    errors.Add($"{path}.Rules[{j}]: a rule named {rule.Name} is declared twice in rule set {name}");
                    continue;
                }

                rules.Add(rule);
            }

            if (rules.Count > ReceiptValidation.MaxRulesPerSet)
            {
                errors.Add($"{path}.Rules: {rules.Count} rules; at most {ReceiptValidation.MaxRulesPerSet} are allowed");
            }

            var created = s.Metadata?.CreatedTimestamp is { } ts && DateTimeOffset.TryParse(ts, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                ? t
                : DateTimeOffset.UnixEpoch;
            sets.Add(new ReceiptRuleSet { Name = name!, CreatedTimestamp = created, Rules = [.. rules] });
        }

        if (sets.Count > ReceiptValidation.MaxRuleSets)
        {
            errors.Add($"ReceiptRuleSets: {sets.Count} rule sets; at most {ReceiptValidation.MaxRuleSets} are allowed");
        }

        var active = d.ActiveReceiptRuleSet;
        if (active is not null && sets.All(x => x.Name != active))
        {
            errors.Add($"ActiveReceiptRuleSet: no rule set is named '{active}' (declared: {(sets.Count == 0 ? "none" : string.Join(", ", sets.Select(x => x.Name)))})");
        }

        // A file that declares exactly one rule set and names none as active means that one.
        active ??= sets.Count == 1 ? sets[0].Name : null;
        return new ReceiptConfiguration { RuleSets = [.. sets], ActiveRuleSetName = active, Filters = [.. filters] };
    }

    private static ReceiptRule? BuildRule(ReceiptRuleDocument r, string path, List<string> errors)
    {
        var tls = TlsPolicy.Optional;
        if (r.TlsPolicy is not null && !(r.TlsPolicy is "Require" or "Optional" && Enum.TryParse(r.TlsPolicy, out tls)))
        {
            errors.Add($"{path}.TlsPolicy: '{r.TlsPolicy}' must be Require or Optional");
            return null;
        }

        var actions = ImmutableArray.CreateBuilder<ReceiptAction>();
        foreach (var (a, k) in (r.Actions ?? []).Select((a, k) => (a, k)))
        {
            var members = new (string Name, Dictionary<string, string?>? Fields)[]
            {
                ("S3Action", a.S3Action), ("BounceAction", a.BounceAction), ("LambdaAction", a.LambdaAction),
                ("SNSAction", a.SNSAction), ("StopAction", a.StopAction), ("AddHeaderAction", a.AddHeaderAction),
                ("WorkmailAction", a.WorkmailAction), ("ConnectAction", a.ConnectAction),
            }.Where(m => m.Fields is not null).ToList();
            if (members.Count != 1)
            {
                errors.Add($"{path}.Actions[{k}]: each action names exactly one type ({ReceiptActionKinds.MemberNames}); found {members.Count}");
                continue;
            }

            var action = ReceiptValidation.Create(members[0].Name, members[0].Fields!, out var error);
            if (error is not null)
            {
                errors.Add($"{path}.Actions[{k}].{members[0].Name}: {error.Message}");
                continue;
            }

            actions.Add(action);
        }

        var rule = new ReceiptRule
        {
            Name = r.Name ?? string.Empty,
            Enabled = r.Enabled ?? false,
            TlsPolicy = tls,
            Recipients = [.. r.Recipients ?? []],
            ScanEnabled = r.ScanEnabled ?? false,
            Actions = actions.ToImmutable(),
        };
        if (ReceiptValidation.CheckRule(rule) is { } ruleError)
        {
            errors.Add($"{path}: {ruleError.Message}");
            return null;
        }

        return rule;
    }
}
