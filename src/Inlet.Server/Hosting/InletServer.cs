using System.Collections.Immutable;
using System.Net;
using System.Net.Security;
using Inlet.Actions;
using Inlet.Api;
using Inlet.Functions;
using Inlet.Management;
using Inlet.Notifications;
using Inlet.Outbound;
using Inlet.Processing;
using Inlet.Rules;
using Inlet.Smtp;
using Inlet.Smtp.Transport;
using Inlet.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Inlet.Hosting;

/// <summary>
/// One running Inlet: the state store and spool, the SMTP endpoint and the HTTP endpoint on one Kestrel host,
/// and the background processing. <see cref="StartAsync"/> returns once both endpoints listen.
/// </summary>
internal sealed partial class InletServer : IAsyncDisposable
{
    /// <summary>One per process: the counters and Prometheus's default registry are process-wide.</summary>
    private static readonly Lazy<PrometheusMeterBridge> s_meterBridge = new(() =>
    {
        // prometheus-net would publish every .NET Meter itself, Inlet's as inlet_inlet_… gauges and the framework's
        // histograms too; Inlet's counters go through the bridge, and the process metrics stay.
        Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions { SuppressMeters = true, SuppressEventCounters = true, SuppressDebugMetrics = true });
        return new PrometheusMeterBridge(Metrics.DefaultRegistry, InletMetrics.MeterName);
    });

    private readonly WebApplication _app;
    private readonly ListenOptions _smtpListen;
    private readonly ListenOptions _httpListen;
    private readonly ListenOptions? _httpsListen;

    private InletServer(WebApplication app, ListenOptions smtpListen, ListenOptions httpListen, ListenOptions? httpsListen, InletOptions options)
    {
        _app = app;
        _smtpListen = smtpListen;
        _httpListen = httpListen;
        _httpsListen = httpsListen;
        Options = options;
    }

    public InletOptions Options { get; }

    public IPEndPoint SmtpEndPoint => (IPEndPoint)_smtpListen.EndPoint;

    public IPEndPoint HttpEndPoint => (IPEndPoint)_httpListen.EndPoint;

    public IPEndPoint? HttpsEndPoint => (IPEndPoint?)_httpsListen?.EndPoint;

    /// <summary>The folder of the data folder's certificates (the CA that clients trust is <c>ca.crt</c>).</summary>
    public string TlsDirectory => Path.Combine(Path.GetFullPath(Options.DataDirectory), "tls");

    public IServiceProvider Services => _app.Services;

    public static async Task<InletServer> StartAsync(InletOptions options, Action<ILoggingBuilder>? configureLogging = null, CancellationToken cancellationToken = default)
    {
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(dataDirectory);

        // Inlet's configuration is its own file; the host's appsettings.json would be looked for in the content root
        // (the data folder) and watched for changes there, which turns every write of the spool and the database
        // into a file-system event for a thread to read.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDirectory, Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        configureLogging?.Invoke(builder.Logging);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));

        // State first: a store that cannot open is a start-up error, before any port is bound.
        var stateOptions = options.State with { NodeId = options.State.NodeId ?? DefaultNodeId(dataDirectory) };
        var state = await OpenStateAsync(stateOptions, dataDirectory, cancellationToken);
        IBlobStore buckets = options.BucketStore is { } s3 ? new S3BlobStore(s3)
            : state is IObjectJournal journal ? new JournaledBucketStore(new FileBlobStore(Path.Combine(dataDirectory, "buckets")), journal)
            : new FileBlobStore(Path.Combine(dataDirectory, "buckets"));
        IBlobStore spool = options.Spool.Type == SpoolOptions.S3 && buckets is S3BlobStore shared ? new BucketSpool(shared, options.Spool.Bucket!)
            : state is ISmallBlobStore database ? new DatabaseSpool(new FileBlobStore(dataDirectory), database)
            : new FileBlobStore(dataDirectory);
        string[] spoolBuckets = spool is BucketSpool bucketSpool ? [bucketSpool.Bucket] : [];
        var declaredBuckets = options.Buckets.Concat(options.Receipt.RuleSets.SelectMany(s => s.Rules).SelectMany(r => r.Actions).OfType<S3ReceiptAction>().Select(a => a.BucketName));
        foreach (var bucket in spoolBuckets.Concat(declaredBuckets).Distinct())
        {
            try
            {
                await buckets.CreateContainerAsync(bucket, cancellationToken);
            }
            catch (Exception e) when (e is Amazon.Runtime.AmazonServiceException or HttpRequestException)
            {
                await state.DisposeAsync();
                throw new ConfigurationException($"BucketStore: cannot create bucket {bucket} at {options.BucketStore?.ServiceUrl ?? "S3"}: {e.Message}");
            }

            BlobStores.FilesOf(buckets)?.DeletePartials(bucket);
        }

        // What a crash took from the page cache is written again before anything reads a bucket.
        var replayed = buckets is JournaledBucketStore journaled ? await journaled.ReplayAsync(cancellationToken) : 0;

        var cleaned = await CleanSpoolAsync(spool, state, cancellationToken);
        BlobStores.FilesOf(spool)?.DeletePartials(BounceSender.OutboxContainer);

        var receipt = await StartingConfigurationAsync(state, options, cancellationToken);

        var (server, authority) = ServerCertificates.LoadOrCreate(Path.Combine(dataDirectory, "tls"), options.Smtp.Hostname);
        var tls = CreateTlsContext(options, server, authority);
        var signer = SnsSigner.LoadOrCreate(Path.Combine(dataDirectory, "tls"));
        var endpoints = new PublicEndpoints();
        var listeners = new ServerEndpoints();

        FunctionSandbox sandbox;
        try
        {
            sandbox = FunctionSandbox.Create(options.FunctionSettings.RunAs);
        }
        catch (InvalidOperationException e)
        {
            await state.DisposeAsync();
            throw new ConfigurationException(e.Message);
        }

        var functionStore = new FunctionStore(Path.Combine(dataDirectory, "functions"), state);
        var registry = new FunctionRegistry(options.Region, options.AccountId);
        // Functions made through the API first; the file's functions replace any of the same name.
        foreach (var document in await state.ListFunctionsAsync(cancellationToken))
        {
            if (System.Text.Json.JsonSerializer.Deserialize(document, FunctionDefinitionJsonContext.Default.FunctionDefinition) is { } saved)
            {
                registry.Put(await functionStore.LocalizeAsync(saved, cancellationToken));
            }
        }

        foreach (var declaration in options.Functions)
        {
            registry.Put(functionStore.Install(declaration.Definition, declaration.CodeSource));
        }

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(options.Account);
        builder.Services.AddSingleton(options.Smtp);
        builder.Services.AddSingleton(stateOptions);
        builder.Services.AddSingleton(state);
        builder.Services.AddSingleton<IMessageStore>(state);
        builder.Services.AddSingleton<IInvocationStore>(state);
        builder.Services.AddSingleton<IDeliveryStore>(state);
        builder.Services.AddSingleton<IOutboxStore>(state);
        builder.Services.AddSingleton<ITopicStore>(state);
        builder.Services.AddSingleton<IIdentityStore>(state);
        builder.Services.AddSingleton<IFunctionDefinitionStore>(state);
        builder.Services.AddSingleton<IConfigurationVersionStore>(state);
        builder.Services.AddSingleton<IChangeFeed>(state);
        builder.Services.AddSingleton<NodeHealth>();
        builder.Services.AddSingleton(new BlobStores(spool, buckets));
        if (buckets is JournaledBucketStore flushed)
        {
            builder.Services.AddSingleton(flushed);
            builder.Services.AddHostedService<BucketJournalFlusher>();
        }

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(new ReceiptConfigurationProvider(receipt));
        builder.Services.AddSingleton<ReceiptConfigurationStore>();
        builder.Services.AddSingleton<ReceiptRulesService>();
        builder.Services.AddSingleton(options.Processing);
        builder.Services.AddSingleton(options.Outbound);
        builder.Services.AddSingleton<MessagePipeline>();
        builder.Services.AddSingleton<ReceivedMessages>();
        builder.Services.AddSingleton<IOriginalMessages>(sp => sp.GetRequiredService<ReceivedMessages>());
        builder.Services.AddSingleton<StoredEventBuilder>();
        builder.Services.AddSingleton<MessageService>();
        // Verdicts: one resolver (and its cache) for the server, the Public Suffix List read once.
        builder.Services.AddSingleton(options.Authentication);
        builder.Services.AddSingleton<Inlet.Authentication.IDnsResolver>(new Inlet.Authentication.DnsResolver(options.Authentication.DnsServers, options.Authentication.DnsTimeout));
        builder.Services.AddSingleton(sp => new Inlet.Authentication.MessageAuthenticator(
            options.Authentication,
            sp.GetRequiredService<Inlet.Authentication.IDnsResolver>(),
            Inlet.Authentication.PublicSuffixList.Load(options.Authentication.PublicSuffixList),
            options.Smtp.Hostname,
            sp.GetRequiredService<ILogger<Inlet.Authentication.MessageAuthenticator>>()));
        builder.Services.AddSingleton<BounceSender>();
        // SES sending: identities, the durable outbound queue (relay or outbox) and the sending operations.
        builder.Services.AddSingleton<OutboundQueue>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OutboundQueue>());
        builder.Services.AddSingleton(sp => new SendingIdentities(state, sp.GetRequiredService<ReceiptConfigurationProvider>(), options.Identities, TimeProvider.System));
        builder.Services.AddSingleton<SesSending>();
        builder.Services.AddSingleton<SendingService>();
        builder.Services.AddSingleton(signer);
        builder.Services.AddSingleton(endpoints);
        builder.Services.AddSingleton(listeners);
        builder.Services.AddSingleton(options.Notifications);
        builder.Services.AddSingleton(sp => new SnsService(state, state, signer, endpoints, registry, TimeProvider.System, options.Region, options.AccountId));
        builder.Services.AddSingleton<INotificationPublisher>(sp => sp.GetRequiredService<SnsService>());
        builder.Services.AddSingleton<DeliveryDispatcher>();
        builder.Services.AddSingleton<TopicsService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DeliveryDispatcher>());
        // The actions, each with the side effects it owns: its notification, its DSN through the outbound queue.
        builder.Services.AddSingleton<ReceiptNotifier>();
        builder.Services.AddSingleton(sp => new BounceMessages(sp.GetRequiredService<BounceSender>(), options.Smtp.Hostname));
        builder.Services.AddSingleton(sp => new ActionRegistration(typeof(SnsReceiptAction), ActivatorUtilities.CreateInstance<SnsActionHandler>(sp)));
        builder.Services.AddSingleton(sp => new ActionRegistration(typeof(StopReceiptAction), ActivatorUtilities.CreateInstance<StopActionHandler>(sp)));
        builder.Services.AddSingleton(new ActionRegistration(typeof(AddHeaderReceiptAction), new AddHeaderActionHandler()));
        builder.Services.AddSingleton(sp => new ActionRegistration(typeof(BounceReceiptAction), ActivatorUtilities.CreateInstance<BounceActionHandler>(sp)));
        builder.Services.AddSingleton(sp => new ActionRegistration(typeof(S3ReceiptAction), ActivatorUtilities.CreateInstance<S3ActionHandler>(sp)));
        builder.Services.AddSingleton(sp => new ActionRegistration(typeof(LambdaReceiptAction), ActivatorUtilities.CreateInstance<LambdaActionHandler>(sp)));
        builder.Services.AddSingleton(functionStore);
        builder.Services.AddSingleton(registry);
        builder.Services.AddSingleton(options.FunctionSettings);
        builder.Services.AddSingleton(_ => new FunctionLogs(Path.Combine(dataDirectory, "logs")));
        builder.Services.AddSingleton(new FunctionCredentials(TimeProvider.System));
        builder.Services.AddSingleton(sp => new FunctionHost(sp.GetRequiredService<FunctionCredentials>(), options.AccountId, sandbox));
        builder.Services.AddSingleton<FunctionInvoker>();
        builder.Services.AddSingleton<AsyncInvocationQueue>();
        builder.Services.AddSingleton<FunctionsService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AsyncInvocationQueue>());
        builder.Services.AddSingleton<ISmtpBackend, SmtpBackend>();
        builder.Services.AddSingleton(tls);
        builder.Services.AddSingleton<SmtpConnectionLimiter>();
        builder.Services.AddSingleton<SmtpConnectionHandler>();
        builder.Services.AddSingleton<Inlet.WebConsole.MessageFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Inlet.WebConsole.MessageFeed>());
        builder.Services.AddSingleton<MessageProcessor>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MessageProcessor>());
        builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<ChangeWatcher>(sp, options.Functions.Select(f => f.Definition.FunctionName).ToImmutableHashSet(StringComparer.Ordinal)));
        if (options.SourceFile is { } sourceFile)
        {
            builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<ConfigurationWatcher>(sp, sourceFile));
        }

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default));

        ListenOptions? smtpListen = null;
        ListenOptions? httpListen = null;
        ListenOptions? httpsListen = null;
        ConfigurationLoader.TryParseEndPoint(options.Smtp.Listen, out var smtpEndPoint);
        ConfigurationLoader.TryParseEndPoint(options.Http.Listen, out var httpEndPoint);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // Every endpoint gets its own body limit (HttpAccessMiddleware); this is the floor for the rest.
            k.Limits.MaxRequestBodySize = HttpLimits.DefaultBodyLimit;
            k.Listen(smtpEndPoint, l =>
            {
                l.UseConnectionHandler<SmtpConnectionHandler>();
                smtpListen = l;
            });
            k.Listen(httpEndPoint, l =>
            {
                l.Protocols = HttpProtocols.Http1;
                httpListen = l;
            });
            if (options.Http.HttpsListen != "off" && ConfigurationLoader.TryParseEndPoint(options.Http.HttpsListen, out var httpsEndPoint))
            {
                k.Listen(httpsEndPoint, l =>
                {
                    l.Protocols = HttpProtocols.Http1;
                    l.UseHttps(server);
                    httpsListen = l;
                });
            }
        });

        var app = builder.Build();
        // Host, Origin and, beyond loopback, credentials first: the console and /api follow the same access rules.
        app.UseMiddleware<HttpAccessMiddleware>();
        // A browser gets the console at / and its views' URLs; on AWS the same unsigned GETs are S3 AccessDenied,
        // which helps nobody here. Signed requests pass on to the AWS APIs.
        app.UseMiddleware<Inlet.WebConsole.ConsoleMiddleware>();
        app.UseMiddleware<AwsAuthenticationMiddleware>();
        ApiEndpoints.Map(app);
        Inlet.WebConsole.ConsoleEndpoints.Map(app);
        LambdaEndpoints.Map(app);
        LambdaManagementEndpoints.Map(app);
        SesV2Endpoints.Map(app);
        // Prometheus text exposition of Inlet's Meter (and the process's metrics), served by prometheus-net.
        _ = s_meterBridge.Value;
        app.MapMetrics("/metrics");
        NotificationEndpoints.Map(app);
        QueryEndpoint.Map(app);

        var sns = app.Services.GetRequiredService<SnsService>();
        await sns.LoadAsync(cancellationToken);
        await app.Services.GetRequiredService<SendingIdentities>().LoadAsync(cancellationToken);
        try
        {
            await sns.ApplyTopicsAsync(options.Topics, cancellationToken);
            CheckTopicReferences(options.Receipt, sns);
        }
        catch (Exception e) when (e is SnsException or ConfigurationException)
        {
            await app.DisposeAsync();
            await state.DisposeAsync();
            throw e as ConfigurationException ?? new ConfigurationException($"Topics: {e.Message}");
        }

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Inlet");
        if (cleaned > 0)
        {
            LogSpoolCleaned(logger, cleaned);
        }

        if (replayed > 0)
        {
            LogBucketJournalReplayed(logger, replayed);
        }

        WarnAboutConfiguration(logger, receipt);
        var bindings = new List<(string Setting, string Flag, IPEndPoint EndPoint)> { ("Smtp.Listen", "--smtp", smtpEndPoint!), ("Http.Listen", "--http", httpEndPoint!) };
        if (options.Http.HttpsListen != "off" && ConfigurationLoader.TryParseEndPoint(options.Http.HttpsListen, out var httpsAddress))
        {
            bindings.Add(("Http.HttpsListen", "--https", httpsAddress));
        }

        try
        {
            // Kestrel names every listener "http" in its bind error and logs a stack trace; a port taken by another
            // program is the user's to fix, so it is found first and named by its setting.
            CheckPortsFree(bindings);
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or ConfigurationException)
        {
            await app.DisposeAsync();
            await state.DisposeAsync();
            throw e as ConfigurationException ?? new ConfigurationException($"cannot listen: {e.Message} ({string.Join(", ", bindings.Select(l => $"{l.Setting} {l.EndPoint}"))})");
        }

        var inlet = new InletServer(app, smtpListen!, httpListen!, httpsListen, options);
        ProtectDataFolder(sandbox, dataDirectory, options.SourceFile, logger);
        app.Services.GetRequiredService<FunctionHost>().EndpointUrl = $"http://{Reachable(inlet.HttpEndPoint)}";
        listeners.Smtp = inlet.SmtpEndPoint.ToString();
        listeners.Http = inlet.HttpEndPoint.ToString();
        listeners.Https = inlet.HttpsEndPoint?.ToString();
        endpoints.BaseUrl = options.Notifications.BaseUrl ?? (inlet.HttpsEndPoint is { } https ? $"https://{https}" : $"http://{inlet.HttpEndPoint}");
        try
        {
            await sns.ApplySubscriptionsAsync(options.Topics, cancellationToken);
        }
        catch (SnsException e)
        {
            await inlet.DisposeAsync();
            throw new ConfigurationException($"Topics: {e.Message}");
        }

        LogListening(logger, inlet.SmtpEndPoint, inlet.HttpEndPoint, inlet.HttpsEndPoint is { } secure ? $"on https://{secure}" : "off (Http.HttpsListen)", dataDirectory);
        return inlet;
    }

    /// <summary>A wildcard listener is reached on loopback by the functions of this machine.</summary>
    private static IPEndPoint Reachable(IPEndPoint endPoint) =>
        endPoint.Address.Equals(IPAddress.Any) ? new IPEndPoint(IPAddress.Loopback, endPoint.Port)
        : endPoint.Address.Equals(IPAddress.IPv6Any) ? new IPEndPoint(IPAddress.IPv6Loopback, endPoint.Port)
        : endPoint;

    /// <summary>
    /// When functions run as another user, Inlet's own files are closed to it: the data folder can be passed
    /// through but not listed, and the database, spool, outbox, buckets, logs and keys are Inlet's alone, as is a
    /// configuration file that holds credentials.
    /// </summary>
    private static void ProtectDataFolder(FunctionSandbox sandbox, string dataDirectory, string? configurationFile, ILogger logger)
    {
        if (sandbox.User is null || OperatingSystem.IsWindows())
        {
            return;
        }

        sandbox.PassThrough(dataDirectory);
        foreach (var file in new[] { "inlet.db", "inlet.db-wal", "inlet.db-shm" })
        {
            sandbox.Protect(Path.Combine(dataDirectory, file), folder: false);
        }

        foreach (var folder in new[] { SmtpBackend.SpoolContainer, BounceSender.OutboxContainer, "buckets", "logs", "tls" })
        {
            sandbox.Protect(Path.Combine(dataDirectory, folder), folder: true);
        }

        if (configurationFile is not null && File.Exists(configurationFile) && (File.GetUnixFileMode(configurationFile) & (UnixFileMode.OtherRead | UnixFileMode.GroupRead)) != 0)
        {
            sandbox.Protect(configurationFile, folder: false);
            LogConfigurationProtected(logger, configurationFile, sandbox.User.Name);
        }
    }

    private static void CheckPortsFree(IEnumerable<(string Setting, string Flag, IPEndPoint EndPoint)> listeners)
    {
        foreach (var (setting, flag, endPoint) in listeners.Where(l => l.EndPoint.Port != 0))
        {
            using var probe = new System.Net.Sockets.Socket(endPoint.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            try
            {
                probe.Bind(endPoint);
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
            {
                throw new ConfigurationException($"{setting}: {endPoint} is already in use by another program; choose another address with {flag} or {setting}");
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AccessDenied)
            {
                throw new ConfigurationException($"{setting}: not allowed to listen on {endPoint} (ports below 1024 need privileges); choose another with {flag} or {setting}");
            }
            catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressNotAvailable)
            {
                throw new ConfigurationException($"{setting}: {endPoint.Address} is not an address of this machine; choose another with {flag} or {setting}");
            }
        }
    }

    private static SmtpTlsContext CreateTlsContext(InletOptions options, System.Security.Cryptography.X509Certificates.X509Certificate2 server, System.Security.Cryptography.X509Certificates.X509Certificate2 authority)
    {
        if (!options.Smtp.Tls.Enabled)
        {
            return new SmtpTlsContext(null);
        }

        var tls = options.Smtp.Tls;
        if (tls.CertificatePath is not null)
        {
            var configured = ServerCertificates.LoadConfigured(tls.CertificatePath, tls.KeyPath, tls.Password);
            return new SmtpTlsContext(SslStreamCertificateContext.Create(configured, additionalCertificates: null, offline: true));
        }

        return new SmtpTlsContext(SslStreamCertificateContext.Create(server, [authority], offline: true));
    }

    /// <summary>Every TopicArn of the rules must name an existing topic, as SES checks (InvalidSnsTopic).</summary>
    internal static void CheckTopicReferences(ReceiptConfiguration receipt, SnsService sns)
    {
        var missing = receipt.RuleSets.SelectMany(set => set.Rules.SelectMany(rule => rule.Actions.Select(action => (set, rule, topic: action.NotifiedTopicArn))))
            .Where(x => x.topic is not null && sns.FindTopic(x.topic) is null)
            .Select(x => $"rule set {x.set.Name}, rule {x.rule.Name}: TopicArn names an unknown topic: {x.topic}")
            .ToList();
        if (missing.Count > 0)
        {
            throw new ConfigurationException($"{missing.Count} setting(s) are wrong:\n  - {string.Join("\n  - ", missing)} (declare it under Topics)");
        }
    }

    /// <summary>
    /// Removes what a crash can leave in the spool: half-written files, and files whose queue record was never
    /// committed (their client never got a 250).
    /// </summary>
    /// <summary>
    /// What is in force at start: the configuration as the API last left it, with the file's declarations on top.
    /// Nodes starting at once each make it from the newest version; one that finds another's saved since makes it again.
    /// </summary>
    private static async Task<ReceiptConfiguration> StartingConfigurationAsync(IStateStore state, InletOptions options, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var stored = await state.GetLatestConfigurationAsync(cancellationToken) is { } latest ? RulesJsonContext.Deserialize(latest.Document, latest.Version) : null;
            var merged = stored is null ? options.Receipt with { Version = 0 } : stored.WithFile(options.Receipt, options.ActiveReceiptRuleSetDeclared);
            try
            {
                var version = await state.SaveConfigurationAsync(RulesJsonContext.Serialize(merged), merged.Version, cancellationToken);
                return merged with { Version = version };
            }
            catch (ConfigurationConflictException) when (attempt < 10)
            {
            }
        }
    }

    private static async Task<IStateStore> OpenStateAsync(StateOptions options, string dataDirectory, CancellationToken cancellationToken)
    {
        IStateStore state = options.Type == StateOptions.Postgres
            ? new PostgresStateStore(options.ConnectionString!, options.NodeId!)
            : new SqliteStateStore(Path.Combine(dataDirectory, "inlet.db"), options.NodeId!);
        try
        {
            await state.InitializeAsync(cancellationToken);
            return state;
        }
        catch (Exception e) when (options.Type == StateOptions.Postgres && e is System.Data.Common.DbException or System.Net.Sockets.SocketException or TimeoutException or InvalidOperationException)
        {
            await state.DisposeAsync();
            throw new ConfigurationException($"State: cannot open the PostgreSQL state store ({new Npgsql.NpgsqlConnectionStringBuilder(options.ConnectionString).Host}): {e.Message}");
        }
    }

    /// <summary>A node's default id: its host, and its data folder (two nodes of one host have two).</summary>
    private static string DefaultNodeId(string dataDirectory) =>
        $"{Environment.MachineName}-{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(dataDirectory)))[..8].ToLowerInvariant()}";

    private static async Task<int> CleanSpoolAsync(IBlobStore blobs, IMessageStore state, CancellationToken cancellationToken)
    {
        var count = BlobStores.FilesOf(blobs)?.DeletePartials(SmtpBackend.SpoolContainer) ?? 0;
        // A shared spool holds the messages other nodes are receiving now, stored a moment before their records:
        // only an object older than any SMTP transaction can be an orphan.
        var before = BlobStores.FilesOf(blobs) is not null ? DateTime.MaxValue : DateTime.UtcNow.AddHours(-1);
        await foreach (var blob in blobs.ListAsync(SmtpBackend.SpoolContainer, cancellationToken))
        {
            var id = Path.GetFileNameWithoutExtension(blob.Key);
            if (blob.LastModifiedUtc < before && !await state.MessageExistsAsync(id, cancellationToken))
            {
                await blobs.DeleteAsync(SmtpBackend.SpoolContainer, blob.Key, cancellationToken);
                count++;
            }
        }

        return count;
    }

    private static void WarnAboutConfiguration(ILogger logger, ReceiptConfiguration receipt)
    {
        if (receipt.ActiveRuleSet is null)
        {
            LogNoActiveRuleSet(logger);
            return;
        }

        foreach (var rule in receipt.ActiveRuleSet.Rules.Where(r => !r.Enabled))
        {
            LogDisabledRule(logger, rule.Name, receipt.ActiveRuleSet.Name);
        }
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        var state = _app.Services.GetRequiredService<IStateStore>();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await state.DisposeAsync();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Inlet is listening: SMTP on {Smtp}, HTTP on http://{Http}, HTTPS {Https}; data in {DataDirectory}")]
    private static partial void LogListening(ILogger logger, IPEndPoint smtp, IPEndPoint http, string https, string dataDirectory);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "No receipt rule set is active: every recipient will be refused with 550 5.1.1")]
    private static partial void LogNoActiveRuleSet(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Rule {Rule} of the active rule set {RuleSet} is disabled (Enabled defaults to false, as in SES)")]
    private static partial void LogDisabledRule(ILogger logger, string rule, string ruleSet);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "{Path} is now readable by its owner only: functions run as {User} and must not read Inlet's keys")]
    private static partial void LogConfigurationProtected(ILogger logger, string path, string user);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Removed {Count} spool file(s) of messages that were never acknowledged")]
    private static partial void LogSpoolCleaned(ILogger logger, int count);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Wrote {Count} bucket object(s) again from the journal: the node had stopped before they were flushed")]
    private static partial void LogBucketJournalReplayed(ILogger logger, int count);
}
